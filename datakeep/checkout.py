"""Restoring versions: one dataset anywhere (`-o`), or every tracked path (moving HEAD)."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from datakeep.errors import DatakeepError, DatasetError, IndexDamagedError, UncommittedChangesError
from datakeep.fsutil import Signature, file_signature, remove_empty_parents
from datakeep.ids import ObjectId
from datakeep.records.commit import Commit
from datakeep.records.index import RACY_NS, Index, TrackedDataset
from datakeep.records.manifest import Manifest
from datakeep.records.refs import HEADS
from datakeep.repo import Repository
from datakeep.revisions import resolve, split_dataset
from datakeep.tracking import folder_files, located
from datakeep.worktree import REDEFINED, status

#: Revisions that name HEAD itself.
_HEAD_NAMES = ("HEAD", "@")


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckoutResult:
    commit: ObjectId
    written: dict[str, list[str]]  # dataset -> paths written
    head: str  # what HEAD names afterwards ("branch main", "detached at <id>", "unchanged")
    removed: dict[str, list[str]] = field(default_factory=dict)  # dataset -> files the version lacks
    #: The commit a detached HEAD (or a branch moved under it) held that no branch or tag holds
    #: any more: gc deletes it unless it is named (`datakeep branch NAME ID`).
    left_behind: ObjectId | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "commit": self.commit,
            "written": self.written,
            "removed": self.removed,
            "head": self.head,
        }
        if self.left_behind is not None:
            out["left_behind"] = self.left_behind
        return out


def manifest_for(repo: Repository, commit: Commit, name: str, rev: str) -> Manifest:
    ref = commit.datasets.get(name)
    if ref is None:
        known = ", ".join(sorted(commit.datasets)) or "none"
        raise DatasetError(
            f"revision {rev} has no dataset '{name}' (it has: {known})",
            "check the name with `datakeep show REV`",
        )
    return repo.manifest_at(ref.manifest)


def checkout_target(repo: Repository, rev: str) -> ObjectId:
    """The commit checking out ``rev`` restores: a branch of that name wins over a tag of the same
    name (git's rule for checkout and switch; every other command takes the tag), so an export
    (`-o`) and a checkout of one revision always restore the same version."""
    branch_tip = repo.refs.get(f"{HEADS}/{rev}")
    return branch_tip if branch_tip is not None else resolve(repo, rev)


def restore_to(repo: Repository, rev: str, name: str, output: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write one dataset as of ``rev`` to ``output`` (a file, or a folder for folder datasets).

    An export never writes into the store, and overwrites a tracked path with uncommitted
    changes only with ``force``, as checking that path out would."""
    commit = repo.commit_at(checkout_target(repo, rev))
    manifest = manifest_for(repo, commit, name, rev)
    from datakeep.restore import write_manifest

    target = Path(output)
    if manifest.kind == "file" and target.is_dir():
        target = target / Path(manifest.path).name
    if manifest.kind == "folder" and target.exists() and not target.is_dir():
        raise DatasetError(
            f"{output} exists and is a file, but dataset '{name}' is a folder of Parquet files",
            "remove the file, or pass another -o (a folder to create or to write into)",
        )
    _refuse_unsafe_target(repo, target, commit, force=force)
    try:
        # An export, like `cp`: atomic (no half-written file) but not fsynced. Tracked paths are
        # (see `_restore_tracked`): the index vouches for them once they are restored.
        write_manifest(repo.store, manifest, target, durable=False)
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
        # Something inside the target is in the way (a file where a partition folder goes).
        blocking = exc.filename2 or exc.filename
        raise DatasetError(
            f"cannot write dataset '{name}' to {output}: {blocking} is in the way ({exc.strerror})",
            "remove it, or pass another -o",
        ) from None
    return target


def _refuse_unsafe_target(repo: Repository, target: Path, restoring: Commit, *, force: bool) -> None:
    resolved = target.resolve()
    if _overlaps(resolved, repo.dk.resolve()):
        raise DatasetError(
            f"{target} is inside the repository's store ({repo.relpath(repo.dk)})",
            "write the export anywhere outside .datakeep/",
        )
    if force:
        return
    try:
        index = repo.load_index()
    except IndexDamagedError:
        # An export needs the index only to keep it off tracked paths with uncommitted changes:
        # HEAD's datasets stand in for it (as a lost index does), so a damaged index blocks no
        # export, and one onto a dataset's path is judged by the last commit's tracking.
        index = Index(path=repo.dk / "index.json", datasets=repo.tracked_at_head())
    tracked = [n for n, t in index.datasets.items() if _overlaps(resolved, (repo.root / t.path).resolve())]
    if tracked:
        refuse_uncommitted(repo, index, tracked, restoring)


def refuse_uncommitted(
    repo: Repository, index: Index, names: list[str], restoring: Commit, hint: str | None = None
) -> None:
    """UncommittedChangesError when a dataset of ``names`` has changes that writing its version
    in ``restoring`` over it would lose (none when the working copy already is that version),
    or is not tracked here and its path holds other data: a file the user made, or one a switch
    to a commit without the dataset left behind and the user changed since (as git refuses to
    overwrite untracked files)."""
    dirty = [
        s.name
        for s in status(repo, index)
        if s.name in names
        and s.state in ("modified", "new")
        # Another key, path or source not yet committed would be lost as surely as rows.
        and (s.working != _snapshot(restoring, s.name) or s.note.startswith(REDEFINED))
        and not _mix_of_versions(repo, index, s.name, restoring)
        and not (s.working is not None and not s.note and _committed(repo, s.name, s.working))
    ]
    dirty += untracked_in_the_way(repo, index, restoring, names)
    if dirty:
        raise UncommittedChangesError(dirty, *([hint] if hint else []))


def _committed(repo: Repository, name: str, snapshot: str) -> bool:
    """Whether a commit some ref reaches holds ``snapshot`` as dataset ``name``: a working copy
    that is a committed version (what `checkout v1 --name N` wrote) loses nothing when
    overwritten, and "commit them first" would record a revert. Read only when a checkout
    would otherwise refuse."""
    for _oid, commit in repo.ancestry(*repo.refs.all_targets()):
        held = commit.datasets.get(name)
        if held is not None and held.snapshot == snapshot:
            return True
    return False


def _mix_of_versions(repo: Repository, index: Index, name: str, restoring: Commit) -> bool:
    """Whether folder dataset ``name`` holds only part files as HEAD or ``restoring`` has them at
    their paths: what a checkout or pull stopped part-way leaves (killed, a full disk). Writing
    ``restoring`` over such a folder loses nothing, so running the command again finishes it
    (refused as "uncommitted changes", the half-written folder was left to be committed). A
    file of HEAD gone from the folder is the user's deletion, unless ``restoring`` lacks it too."""
    head = repo.head()
    tracked = index.datasets.get(name)
    if head is None or tracked is None or name not in restoring.datasets:
        return False
    at_head = repo.commit_at(head).datasets.get(name)
    if at_head is None:
        return False
    old, new = repo.manifest_at(at_head.manifest), repo.manifest_at(restoring.datasets[name].manifest)
    kind, files = located(repo.root, tracked)
    if kind != "folder" or old.kind != "folder" or new.kind != "folder":
        return False
    old_ids = {entry.path: entry.id for entry in old.files}
    new_ids = {entry.path: entry.id for entry in new.files}
    for inner, path in files:
        if _content_id(repo, index, path) not in (old_ids.get(inner), new_ids.get(inner)):
            return False
    present = {inner for inner, _ in files}
    return all(path in present or path not in new_ids for path in old_ids)


def _content_id(repo: Repository, index: Index, path: Path) -> str:
    """A part file's content id: from the index (the status just taken refreshed it), else read."""
    cached = index.lookup(repo.relpath(path), file_signature(path))
    if cached is not None:
        return str(cached["id"])
    from datakeep.snapshot import hash_file

    return hash_file(path, repo.config.encoding)[0]


def untracked_in_the_way(repo: Repository, index: Index, restoring: Commit, names: list[str]) -> list[str]:
    """Those of ``names`` this working tree does not track whose path holds other data than
    ``restoring``'s version, labelled for `UncommittedChangesError`."""
    return [
        f"{name} (untracked data at its path)" for name in names if _untracked_differs(repo, index, restoring, name)
    ]


def _untracked_differs(repo: Repository, index: Index, restoring: Commit, name: str) -> bool:
    if name in index.datasets or name not in restoring.datasets:
        return False
    manifest = repo.manifest_at(restoring.datasets[name].manifest)
    if not (repo.root / manifest.path).exists():
        return False
    from datakeep.snapshot import working_snapshot_id

    tracked = TrackedDataset(path=manifest.path, key=manifest.key, entity=manifest.entity, source=manifest.source)
    try:
        if working_snapshot_id(repo, name, tracked, index) == manifest.id:
            return False
        return not _committed_under_another_name(repo, index, manifest.path)
    except DatakeepError:  # not Parquet, a folder of none, unreadable: other data all the same
        return True


def _committed_under_another_name(repo: Repository, index: Index, path: str) -> bool:
    """Whether the data at ``path`` is what HEAD holds for the dataset tracked there under
    another name (a dataset renamed): writing over it then loses nothing."""
    from datakeep.snapshot import working_snapshot_id

    head = repo.head()
    holders = [(n, t) for n, t in index.datasets.items() if t.path == path]
    if head is None or not holders:
        return False
    at_head = repo.commit_at(head).datasets
    return all(n in at_head and working_snapshot_id(repo, n, t, index) == at_head[n].snapshot for n, t in holders)


def _overlaps(a: Path, b: Path) -> bool:
    """Whether one of two resolved paths is the other or lies inside it."""
    return a == b or a.is_relative_to(b) or b.is_relative_to(a)


def checkout(repo: Repository, rev: str, *, name: str | None = None, force: bool = False) -> CheckoutResult:
    """Restore tracked paths as of ``rev``; with ``name`` only that dataset (HEAD stays).

    As in git: a branch name puts HEAD on that branch (a branch wins over a tag of the same
    name here), ``HEAD`` itself leaves HEAD where it is (on its branch: restoring the current
    commit must not detach it, or the next commit would move no branch), and any other revision
    detaches HEAD at its commit.
    """
    rev, inline_name = split_dataset(rev)
    name = name or inline_name
    with repo.locked():
        branch_tip = repo.refs.get(f"{HEADS}/{rev}")
        commit_id = checkout_target(repo, rev)
        target = repo.commit_at(commit_id)
        index = repo.load_index()
        names = [name] if name else sorted(target.datasets)
        if name:
            manifest_for(repo, target, name, rev)
        if not force:
            refuse_uncommitted(repo, index, names, target)
        left_behind = _left_behind(repo, commit_id) if not name and rev not in _HEAD_NAMES else None
        written, removed = restore_datasets(repo, index, target, names)
        head = "unchanged"
        if not name:
            for dataset in [d for d in index.datasets if d not in target.datasets and _snapshot_at_head(repo, d)]:
                del index.datasets[dataset]  # tracked at HEAD, absent in the target: like git, stop tracking
            index.removed.clear()  # every dataset of the target is tracked again
            if branch_tip is not None:
                repo.refs.set_head(branch=rev)
                head = f"branch {rev}"
            elif rev in _HEAD_NAMES:
                pass  # HEAD stays where it is, on its branch or detached
            else:
                repo.refs.set_head(commit=commit_id)
                head = f"detached at {commit_id[:10]}"
        index.save()
    return CheckoutResult(commit=commit_id, written=written, head=head, removed=removed, left_behind=left_behind)


def _left_behind(repo: Repository, going_to: ObjectId) -> ObjectId | None:
    """The commit a detached HEAD holds that nothing else will once HEAD moves to ``going_to``."""
    from datakeep.history import is_ancestor
    from datakeep.naming import held_elsewhere

    branch, head = repo.refs.head_target()
    if branch is not None or head is None or head == going_to:
        return None
    if is_ancestor(repo, head, going_to) or held_elsewhere(repo, head, head=False):
        return None
    return head


def move_current_branch(repo: Repository, branch: str, rev: str) -> CheckoutResult:
    """Move ``branch``, the one HEAD is on, to ``rev`` and the working tree with it: refused, as a
    checkout is, over uncommitted changes. Moving the ref alone left the files of the old commit
    in the tree, and the next commit put them back, undoing what the move took."""
    with repo.locked():
        old = repo.refs.get(f"{HEADS}/{branch}")
        new = resolve(repo, rev)
        target = repo.commit_at(new)
        index = repo.load_index()
        refuse_uncommitted(repo, index, sorted(target.datasets), target)
        # Tracked at the old tip and absent at the new one: untracked, as a switch to such a
        # commit does (its file stays); left tracked, it was "new" and the next commit added it back.
        held = repo.commit_at(old).datasets if old is not None else {}
        dropped = [d for d in index.datasets if d in held and d not in target.datasets]
        repo.refs.update(f"{HEADS}/{branch}", new, expected=old)
    from datakeep.naming import held_elsewhere

    result = checkout(repo, "HEAD", force=True)  # the check above was made against the old commit
    if dropped:
        with repo.locked():
            index = repo.load_index()
            for dataset in dropped:
                index.datasets.pop(dataset, None)
            index.save()
    if old is not None and old != new and not held_elsewhere(repo, old):
        result = replace(result, left_behind=old)
    return result


def restore_datasets(
    repo: Repository, index: Index, target: Commit, names: list[str]
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Write datasets ``names`` as ``target`` holds them over their tracked paths and track them
    so (the caller saves the index): the files written, and the part files of a folder removed,
    per dataset."""
    written: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    restored: list[_Restored] = []
    for dataset in names:
        manifest = repo.manifest_at(target.datasets[dataset].manifest)
        files, gone = _restore_tracked(repo, index, manifest)
        written[dataset] = [repo.relpath(f.path) for f in files]
        restored += files
        if gone:
            removed[dataset] = gone
        index.datasets[dataset] = TrackedDataset(
            path=manifest.path, key=manifest.key, entity=manifest.entity, source=manifest.source
        )
        index.removed.discard(dataset)
    _remember_restored(repo, index, restored)
    return written, removed


def _snapshot(commit: Commit, name: str) -> str | None:
    ref = commit.datasets.get(name)
    return ref.snapshot if ref else None


def _snapshot_at_head(repo: Repository, name: str) -> bool:
    head = repo.head()
    return bool(head and name in repo.commit_at(head).datasets)


def _restore_tracked(repo: Repository, index: Index, manifest: Manifest) -> tuple[list[_Restored], list[str]]:
    """Write the dataset's files as of ``manifest`` over its tracked path; the files written (for
    the index, see `_remember_restored`), and the part files of a folder that the version lacks.

    A file that already holds its version's content is left alone, as git leaves files that
    match: switching between versions that share a dataset (or a pull that did not change it)
    does not rewrite it, and the user's own bytes of that file stay."""
    from datakeep.restore import write_file_entry

    base = repo.root / manifest.path
    _clear_other_kind(repo, index, manifest, base)
    removed: list[str] = []
    if manifest.kind == "folder" and base.is_dir():
        wanted = {entry.path for entry in manifest.files}
        # The files that make up the folder now (the same choice a commit makes), so none left
        # behind would count as part of the restored version.
        for inner, stale in folder_files(base):
            if inner not in wanted:
                stale.unlink()
                remove_empty_parents(stale, {base})  # a partition folder ('year=2023') it emptied
                index.forget_under(repo.relpath(stale))
                removed.append(repo.relpath(stale))
    written: list[_Restored] = []
    for entry in manifest.files:
        path = base if manifest.kind == "file" else base / entry.path
        if _holds(repo, index, path, entry.id):
            continue
        write_file_entry(repo.store, entry, path)
        written.append(_Restored(path, file_signature(path), entry.to_dict()))
    return written, removed


@dataclass(frozen=True, slots=True)
class _Restored:
    path: Path
    signature: Signature  # right after it was written
    entry: dict[str, object]  # its file entry, for the index


def _remember_restored(repo: Repository, index: Index, restored: list[_Restored]) -> None:
    """Record the files just written in the index, once the racy window after the newest write
    has passed (at most ``RACY_NS``, 50 ms). Recorded at once, every one would be racy: the next
    `status` would hash each again and the next checkout rewrite each, however large. A file
    written to meanwhile (its stat moved) is left out: `status` hashes it."""
    if not restored:
        return
    wait_ns = max(r.signature[1] for r in restored) + RACY_NS - time.time_ns()
    if wait_ns > 0:
        time.sleep(wait_ns / 1e9 + 0.001)
    recorded = time.time_ns()
    for item in restored:
        if file_signature(item.path) == item.signature:
            index.remember(repo.relpath(item.path), item.signature, item.entry, recorded)


def _holds(repo: Repository, index: Index, path: Path, file_id: str) -> bool:
    """Whether ``path`` holds the content ``file_id`` by the index: its stat is the one recorded
    when it was last hashed or written (not racy), for that id. Anything else is rewritten."""
    if path.is_symlink() or not path.is_file():
        return False
    cached = index.lookup(repo.relpath(path), file_signature(path))
    return cached is not None and cached.get("id") == file_id


def _clear_other_kind(repo: Repository, index: Index, manifest: Manifest, base: Path) -> None:
    """Make room when the dataset's path held the other kind: a file where this version is a
    folder, or a folder where it is a file (pandas wrote `sales.parquet`, later Spark the folder
    `sales.parquet/`). The caller has checked that what is there is committed (or `--force`)."""
    if manifest.kind == "folder" and (base.is_file() or base.is_symlink()):
        base.unlink()
        index.forget_under(repo.relpath(base))
    elif manifest.kind == "file" and base.is_dir():
        parts = {path for _, path in folder_files(base)}
        others = [p for p in base.rglob("*") if p.is_file() and p not in parts and not p.name.startswith(("_", "."))]
        if others:
            raise DatasetError(
                f"{repo.relpath(base)} is a folder that also holds other files ({repo.relpath(others[0])}, ...),"
                " where this version is a single file",
                "move those files elsewhere, then run the checkout again",
            )
        shutil.rmtree(base)
        index.forget_under(repo.relpath(base))
