"""Tags and branches: names for commits."""

from __future__ import annotations

from datakeep.errors import DamagedLocalRefError, DatakeepError
from datakeep.ids import ObjectId
from datakeep.records.refs import HEADS, REMOTES, TAGS, check_ref_name
from datakeep.repo import Repository
from datakeep.revisions import resolve


def create_ref(repo: Repository, kind: str, name: str, rev: str = "HEAD", *, force: bool = False) -> ObjectId:
    what = "tag" if kind == TAGS else "branch"
    check_ref_name(name, what)
    with repo.locked():
        target = resolve(repo, rev)
        ref = f"{kind}/{name}"
        # 'feature' and 'feature/x' would be a file and a folder of one name, as in git.
        clash = next((o for o in repo.refs.list(kind) if o.startswith(f"{name}/") or name.startswith(f"{o}/")), None)
        if clash is not None:
            raise DatakeepError(
                f"{what} '{name}' cannot exist beside {what} '{clash}' (one name would be a folder of the other)",
                f"pick another name, or delete '{clash}' first",
            )
        current = repo.refs.get(ref)
        if current is not None and not force:
            raise DatakeepError(
                f"{what} '{name}' already exists (at {current[:10]})",
                "pick another name, or pass --force to move it",
            )
        repo.refs.update(ref, target, expected=current)
    return target


def delete_ref(repo: Repository, kind: str, name: str, *, force: bool = False) -> ObjectId | None:
    """Delete a tag or a branch; returns the commit it named (None: it was damaged and named
    none). A branch whose commits no other ref (branch, tag, remote branch, HEAD) holds is
    refused without ``force``, as `git branch -d` refuses: once it is gone, `gc` deletes those
    versions."""
    what = "tag" if kind == TAGS else "branch"
    with repo.locked():
        ref = f"{kind}/{name}"
        try:
            current = repo.refs.get(ref)
        except DamagedLocalRefError as exc:
            # Deleting is one of the repairs its error offers, so damage must not stop it; but
            # the branch HEAD is on would then read as one without commits, its history orphaned.
            if kind == HEADS and _head_branch(repo) == name:
                raise DatakeepError(
                    f"cannot delete branch '{name}': HEAD is on it ({exc.message})",
                    "write the commit id it named back into it (`datakeep fsck` lists commits no ref names)",
                ) from None
            if kind == HEADS and not force:
                raise DatakeepError(
                    f"branch '{name}' is damaged ({exc.message})",
                    "mend it as said, or delete it anyway with -D (`datakeep fsck` lists commits no ref names)",
                ) from None
            repo.refs.delete(ref)
            return None
        if current is None:
            raise DatakeepError(f"no {what} named '{name}'", f"`datakeep {what}` lists them")
        if kind == HEADS and repo.refs.head_target()[0] == name:
            raise DatakeepError(f"cannot delete branch '{name}': HEAD is on it", "switch to another branch first")
        if kind == HEADS and not force and not held_elsewhere(repo, current, ref):
            raise DatakeepError(
                f"branch '{name}' holds commits no other branch or tag holds (it is at {current[:10]})",
                f"merge it first (`datakeep merge {name}`), tag it, or delete it anyway with -D",
            )
        repo.refs.delete(ref)
    return current


def held_elsewhere(repo: Repository, commit: ObjectId, ref: str | None = None, *, head: bool = True) -> bool:
    """Whether a branch, tag or remote branch other than ``ref`` (and, with ``head``, HEAD) holds
    ``commit`` in its history: if none does, gc deletes it."""
    from datakeep.history import is_ancestor

    others = {
        oid for kind in (HEADS, TAGS, REMOTES) for name, oid in repo.refs.list(kind).items() if f"{kind}/{name}" != ref
    }
    at_head = repo.refs.head_target()[1] if head else None
    if at_head:
        others.add(at_head)
    return any(is_ancestor(repo, commit, other) for other in others)


def _head_branch(repo: Repository) -> str | None:
    """The branch HEAD is on, read from HEAD alone (that branch's own file may be damaged)."""
    try:
        raw = (repo.dk / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return raw[len(f"ref: {HEADS}/") :] if raw.startswith(f"ref: {HEADS}/") else None
