"""Merging another line of history into HEAD, dataset by dataset.

Two people who pushed to one remote from the same commit usually changed different datasets: one
loaded this month's flights, the other fixed the airports. A dataset is the unit: against the two
lines' nearest common ancestor (the merge base), a dataset changed on one side only takes that
side's version (its content and its definition, or its removal); changed on both sides alike, it
is that version; changed on both sides differently, it is a conflict, which ``--ours NAME`` or
``--theirs NAME`` settles. Rows are never merged: two versions of one table have no row-level
merge that would be right for every dataset, and picking one is what the user can check.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from datakeep.checkout import refuse_uncommitted, restore_datasets
from datakeep.errors import EXIT_NO, DatakeepError, UsageError
from datakeep.history import default_author, is_ancestor, now_iso
from datakeep.ids import ObjectId
from datakeep.records.commit import Commit, DatasetRef
from datakeep.records.index import Index
from datakeep.repo import Repository
from datakeep.revisions import resolve

#: merge has no --force: what to do about changes it would overwrite.
_UNCOMMITTED_HINT = "commit them, or move them away (`datakeep checkout HEAD --force` discards them); then merge again"


class MergeConflictError(DatakeepError):
    """Datasets both sides changed differently; nothing was written."""

    exit_code = EXIT_NO

    def __init__(self, conflicts: list[str], rev: str) -> None:
        names = " ".join(conflicts)
        super().__init__(
            f"both sides changed {', '.join(conflicts)} since they parted; nothing was merged",
            f"pick a version of each: `datakeep merge {rev} --ours NAME` keeps yours, `--theirs NAME` takes "
            f"theirs (conflicting: {names}); `datakeep diff HEAD {rev}` shows how they differ",
        )
        self.conflicts = conflicts


@dataclass(frozen=True, slots=True)
class MergeResult:
    kind: str  # up-to-date | fast-forward | merged
    commit: ObjectId  # HEAD after the merge
    taken: dict[str, str]  # dataset -> "theirs" | "removed" (theirs removed it): what changed here
    written: dict[str, list[str]]  # dataset -> files restored
    removed: dict[str, list[str]]  # dataset -> part files of a folder its version lacks

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "id": self.commit,
            "taken": self.taken,
            "written": self.written,
            "removed": self.removed,
        }


def merge(
    repo: Repository,
    rev: str,
    *,
    message: str | None = None,
    author: str | None = None,
    ours: Iterable[str] = (),
    theirs: Iterable[str] = (),
) -> MergeResult:
    """Merge the commit ``rev`` names into HEAD (see the module's notes)."""
    keep_ours, take_theirs = set(ours), set(theirs)
    both = sorted(keep_ours & take_theirs)
    if both:
        raise UsageError(f"{', '.join(both)} given to both --ours and --theirs", "pick one side for each dataset")
    with repo.locked():
        head = repo.head()
        other = resolve(repo, rev)
        index = repo.load_index()
        if head is not None and is_ancestor(repo, other, head):
            return MergeResult("up-to-date", head, {}, {}, {})
        if head is None or is_ancestor(repo, head, other):
            target = repo.commit_at(other)
            changed = _changed_names(repo.commit_at(head).datasets if head else {}, target.datasets)
            restore = _to_restore(repo, index, head, changed)
            refuse_uncommitted(repo, index, restore, target, _UNCOMMITTED_HINT)
            return _move(repo, index, head, other, target, changed, restore, "fast-forward")
        ours_commit, theirs_commit = repo.commit_at(head), repo.commit_at(other)
        base = merge_base(repo, head, other)
        base_datasets = repo.commit_at(base).datasets if base is not None else {}
        merged, taken, conflicts = _merged_datasets(
            ours_commit.datasets, theirs_commit.datasets, base_datasets, keep_ours, take_theirs
        )
        unknown = sorted((keep_ours | take_theirs) - set(ours_commit.datasets) - set(theirs_commit.datasets))
        if unknown:
            raise UsageError(f"no dataset {', '.join(unknown)} on either side", "name datasets the two commits hold")
        if conflicts:
            raise MergeConflictError(conflicts, rev)
        commit = Commit(
            parents=(head, other),
            message=(message or f"merge {rev}").strip(),
            author=author or default_author(repo.root),
            time=now_iso(),
            datasets=merged,
            summary=_summary(repo, ours_commit.datasets, merged, taken),
        )
        restore = _to_restore(repo, index, head, taken)
        # Before the commit is written: a refused merge leaves nothing behind.
        refuse_uncommitted(repo, index, restore, commit, _UNCOMMITTED_HINT)
        oid = repo.put_document(commit.to_dict())
        return _move(repo, index, head, oid, commit, taken, restore, "merged")


def merge_base(repo: Repository, ours: ObjectId, theirs: ObjectId) -> ObjectId | None:
    """The nearest commit both histories hold (breadth-first from ``theirs``), or None."""
    reachable = _ancestors(repo, ours)
    queue: deque[ObjectId] = deque([theirs])
    seen: set[ObjectId] = set()
    while queue:
        oid = queue.popleft()
        if oid in reachable:
            return oid
        if oid not in seen:
            seen.add(oid)
            queue.extend(repo.commit_at(oid).parents)
    return None


def _ancestors(repo: Repository, start: ObjectId) -> set[ObjectId]:
    seen: set[ObjectId] = set()
    stack = [start]
    while stack:
        oid = stack.pop()
        if oid not in seen:
            seen.add(oid)
            stack.extend(repo.commit_at(oid).parents)
    return seen


def _merged_datasets(
    ours: dict[str, DatasetRef],
    theirs: dict[str, DatasetRef],
    base: dict[str, DatasetRef],
    keep_ours: set[str],
    take_theirs: set[str],
) -> tuple[dict[str, DatasetRef], dict[str, str], list[str]]:
    """(the merged datasets, what changed against ours, the conflicts). Versions compare by
    manifest: the same content under another key or path is another version."""
    merged: dict[str, DatasetRef] = {}
    taken: dict[str, str] = {}
    conflicts: list[str] = []
    settled: dict[str, str] = {}  # a dataset named by --ours/--theirs that is in no conflict: its version
    for name in sorted(set(ours) | set(theirs) | set(base)):
        mine, their, common = (_manifest(d.get(name)) for d in (ours, theirs, base))
        if mine == their or their == common:
            pick = ours.get(name)  # the same on both sides, or changed by us alone
            settled[name] = "yours"
        elif mine == common:
            pick = theirs.get(name)  # changed by them alone (removed, perhaps)
            settled[name] = "theirs"
        elif name in take_theirs:
            pick = theirs.get(name)
        elif name in keep_ours:
            pick = ours.get(name)
        else:
            conflicts.append(name)
            continue
        if pick is not None:
            merged[name] = pick
        if _manifest(pick) != mine:
            taken[name] = "theirs" if pick is not None else "removed"
    # --ours and --theirs settle conflicts; on a dataset one side alone changed, --theirs undid
    # our change (or --ours theirs) without a word.
    needless = sorted(n for n in (keep_ours | take_theirs) & set(settled))
    if needless:
        said = ", ".join(f"{n} (it gets {settled[n]})" for n in needless)
        raise UsageError(
            f"--ours/--theirs name datasets that are in no conflict: {said}",
            "drop them: a dataset only one side changed takes that side's version, one both changed alike "
            "takes it too; to go back to another version, `datakeep checkout REV --name NAME` after the merge",
        )
    return merged, taken, conflicts


def _manifest(ref: DatasetRef | None) -> str | None:
    return ref.manifest if ref is not None else None


def _changed_names(before: dict[str, DatasetRef], after: dict[str, DatasetRef]) -> dict[str, str]:
    return {
        name: ("theirs" if name in after else "removed")
        for name in sorted(set(before) | set(after))
        if _manifest(before.get(name)) != _manifest(after.get(name))
    }


def _to_restore(repo: Repository, index: Index, head: ObjectId | None, changed: dict[str, str]) -> list[str]:
    """The changed datasets to write into the working tree: those it holds, or that are new to
    it (a partial clone's other datasets stay away)."""
    held = repo.commit_at(head).datasets if head is not None else {}
    return [n for n, how in changed.items() if how == "theirs" and (n in index.datasets or n not in held)]


def _move(
    repo: Repository,
    index: Index,
    head: ObjectId | None,
    new: ObjectId,
    commit: Commit,
    changed: dict[str, str],
    restore: list[str],
    kind: str,
) -> MergeResult:
    """Bring datasets ``restore`` of the working tree to ``commit``, then move HEAD to ``new``.
    In that order, as a pull does: a merge stopped in between (killed, a full disk) leaves HEAD
    where it was, so running it again finishes it; moved first, HEAD would say "up to date"
    over files still at the old version, and the next commit would revert the merge."""
    written, removed = restore_datasets(repo, index, commit, restore)
    repo.refs.advance_head(new, expected=head)
    for name, how in changed.items():
        if how == "removed":
            index.datasets.pop(name, None)  # as checkout does: stop tracking, leave the files
    index.save()
    return MergeResult(kind, new, changed, written, removed)


def _summary(
    repo: Repository, before: dict[str, DatasetRef], after: dict[str, DatasetRef], taken: dict[str, str]
) -> dict[str, object]:
    """Each dataset the merge changed, against the first parent (for `log --stat`)."""
    from datakeep.summary import change_summary

    summary: dict[str, object] = {}
    for name, how in taken.items():
        if how == "removed":
            summary[name] = {"removed": True}
            continue
        old = repo.manifest_at(before[name].manifest) if name in before else None
        summary[name] = change_summary(repo, old, repo.manifest_at(after[name].manifest))
    return summary
