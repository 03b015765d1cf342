"""push --delete: remove branches and tags from a remote, as `git push REMOTE --delete NAME` does.

A deletion is a compare-and-swap to "absent": each ref is read with a token for that exact
version and removed only while it still has it (``RemoteRefs.delete``), so a push that moved the
ref in between is never undone unseen. Every name is checked before anything is deleted. Objects
stay: a remote has no gc, and another ref, or a clone that has not pulled yet, may need them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from datakeep.errors import RemoteError, UsageError
from datakeep.ids import ObjectId
from datakeep.records.refs import HEADS, TAGS
from datakeep.remote.connect import Remote
from datakeep.remote.graph import REMOTES
from datakeep.remote.refs import DamagedRefError, RemoteRefMovedError, parse_ref
from datakeep.repo import Repository


@dataclass(frozen=True, slots=True, kw_only=True)
class RefDeletion:
    """One ref a push deleted on the remote. ``old`` is the commit it named (None when it was
    damaged); ``head`` says the remote's HEAD named it and was removed with it."""

    ref: str
    old: ObjectId | None
    head: bool = False
    status: str = "deleted"

    def to_dict(self) -> dict[str, Any]:
        return {"ref": self.ref, "old": self.old, "new": None, "status": self.status, "head": self.head}


def split_refspecs(revs: Sequence[str], delete: bool) -> tuple[list[str], list[str]]:
    """(names to push, names to delete): git's ``:NAME`` is a deletion, and with ``delete`` every
    name is. Pushing and deleting in one command is refused: each has its own safety checks."""
    if any(rev == ":" for rev in revs):
        raise UsageError("':' alone names no ref", "delete one with `datakeep push REMOTE :NAME` (or --delete NAME)")
    pushes = [rev for rev in revs if not rev.startswith(":") and not delete]
    deletions = [rev.removeprefix(":") for rev in revs if rev.startswith(":") or delete]
    if pushes and deletions:
        raise UsageError(
            f"push names refs to send ({', '.join(pushes)}) and to delete ({', '.join(deletions)}) at once",
            "run one push for each: `datakeep push REMOTE NAME...`, then `datakeep push REMOTE --delete NAME...`",
        )
    return pushes, deletions


def delete_refs(repo: Repository, remote: Remote, names: Sequence[str], *, force: bool) -> list[RefDeletion]:
    """Delete ``names`` (branches or tags, short or in full) on ``remote``; refused, before
    anything is deleted, when one is not there, names both a branch and a tag, or is the branch
    the remote's HEAD names (unless ``force``). The remote-tracking ref of a deleted branch goes
    too; so does HEAD when it named one deleted with ``force`` (the next push names a new one)."""
    remote.check()
    remote_refs, damaged = remote.refs.scan()
    present = set(remote_refs) | set(damaged)
    chosen = list(dict.fromkeys(_on_remote(name, present, remote.label) for name in names))
    head = remote.refs.head_branch()
    head_ref = f"{HEADS}/{head}" if head is not None else None
    if head_ref in chosen and not force:
        raise RemoteError(
            f"refusing to delete {head_ref} on {remote.label}: the remote's HEAD names it (the branch "
            "`datakeep clone` checks out); nothing was deleted",
            f"delete it anyway with `datakeep push {remote.label} --delete --force {head}`: clones then check out "
            "another branch, and the next push of a branch names a new HEAD",
        )
    # Tokens are taken for every ref before the first is deleted: a name that went missing
    # meanwhile stops the command with nothing deleted.
    read = {ref: remote.refs.read_raw(ref) for ref in chosen}
    for ref, (raw, _) in read.items():
        if raw is None:
            raise _not_there(ref.split("/", 2)[2], present - {ref}, remote.label)
    done: list[RefDeletion] = []
    for ref in chosen:
        raw, token = read[ref]
        try:
            remote.refs.delete(ref, token)
        except RemoteRefMovedError:
            now, _ = remote.refs.read_raw(ref)
            if now is not None:
                raise _moved(ref, now, done, remote.label) from None
            # Deleted by someone else meanwhile: what this command asked for holds.
        old = _commit_or_none(ref, raw or b"")
        forgot = ref == head_ref and remote.refs.forget_head(ref[len(HEADS) + 1 :])
        done.append(RefDeletion(ref=ref, old=old, head=forgot))
    _forget_tracking(repo, remote, done)
    return done


def _on_remote(name: str, present: set[str], remote: str) -> str:
    """The remote ref ``name`` means. Only names found on the remote are ever used as paths
    there, so no name given here can reach outside its refs."""
    if name in present and name.startswith((HEADS + "/", TAGS + "/")):
        return name
    as_branch, as_tag = f"{HEADS}/{name}", f"{TAGS}/{name}"
    if as_branch in present and as_tag in present:
        raise RemoteError(
            f"'{name}' names both a tag and a branch on {remote} ({as_tag}, {as_branch}); nothing was deleted",
            f"name the one to delete in full: `datakeep push {remote} --delete {as_tag}` or `{as_branch}`",
        )
    for ref in (as_branch, as_tag):
        if ref in present:
            return ref
    raise _not_there(name, present, remote)


def _not_there(name: str, present: set[str], remote: str) -> RemoteError:
    names = ", ".join(sorted(ref.split("/", 2)[2] for ref in present)) or "nothing"
    return RemoteError(
        f"{remote} has no branch or tag '{name}' (it has: {names}); nothing was deleted",
        "name one it has; a name deleted by another push is gone already",
    )


def _moved(ref: str, now: bytes, done: list[RefDeletion], remote: str) -> RemoteError:
    short = ref.split("/", 2)[2]
    where = _commit_or_none(ref, now)
    before = f" (deleted before it: {', '.join(d.ref for d in done)})" if done else ""
    return RemoteError(
        f"{ref} on {remote} moved to {where[:10] if where else 'something else'} while it was being deleted "
        f"(another push); it was not deleted{before}",
        f"see what it holds now (`datakeep pull {remote} {short} --no-checkout`), then delete it again if it "
        "should still go",
    )


def _commit_or_none(ref: str, raw: bytes) -> ObjectId | None:
    try:
        return parse_ref(ref, raw)
    except DamagedRefError:
        return None


def _forget_tracking(repo: Repository, remote: Remote, done: list[RefDeletion]) -> None:
    """A deleted branch's ``refs/remotes/<remote>/<branch>`` goes too: left, it would still
    resolve (`origin/feature`) and keep its commits from gc as if the remote still had them."""
    if remote.name is None:
        return
    with repo.locked():
        for deletion in done:
            if deletion.ref.startswith(HEADS + "/"):
                repo.refs.delete(f"{REMOTES}/{remote.name}/{deletion.ref[len(HEADS) + 1 :]}")
