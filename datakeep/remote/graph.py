"""Commit-graph questions push and pull ask: ancestry, and how refs may move."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from dataclasses import dataclass

from datakeep.errors import RemoteError
from datakeep.history import is_ancestor
from datakeep.ids import ObjectId
from datakeep.records.commit import Commit
from datakeep.repo import Repository

REMOTES = "refs/remotes"


@dataclass(frozen=True, slots=True, kw_only=True)
class RefUpdate:
    """One ref a push or pull moved (or chose not to)."""

    ref: str
    old: ObjectId | None
    new: ObjectId
    status: str  # new | fast-forward | forced | repaired | up-to-date | diverged | kept

    def to_dict(self) -> dict[str, str | None]:
        return {"ref": self.ref, "old": self.old, "new": self.new, "status": self.status}


class NonFastForwardError(RemoteError):
    def __init__(self, ref: str, remote: str, theirs: ObjectId, ours: ObjectId) -> None:
        super().__init__(
            f"rejected: {ref} on {remote} is at {theirs[:10]}, which {ours[:10]} does not contain "
            "(pushing would drop commits the remote has)",
            "`datakeep pull` fetches their commits and names them; `datakeep merge` combines them with yours, "
            "then push again; or push with --force to overwrite them",
        )
        self.ref = ref


def classify(repo: Repository, ref: str, old: ObjectId | None, new: ObjectId, *, force: bool, remote: str) -> str:
    """How ``ref`` on ``remote`` would move from ``old`` to ``new``; raises when that drops commits."""
    if old is None:
        return "new"
    if old == new:
        return "up-to-date"
    if ref.startswith("refs/tags/") and not force:
        raise RemoteError(
            f"rejected: tag {ref[len('refs/tags/') :]} on {remote} already names {old[:10]}",
            "tags do not move; pick another name, or push with --force",
        )
    if is_ancestor(repo, old, new):
        return "fast-forward"
    if force:
        return "forced"
    raise NonFastForwardError(ref, remote, old, new)


@dataclass(frozen=True, slots=True, kw_only=True)
class MissingCommits:
    """What `missing_commits` found: the commits to send, and the ones they build on."""

    commits: dict[ObjectId, Commit]  # reachable from the wanted commits, not from the ones held
    boundary: dict[ObjectId, Commit]  # held commits that are parents of those


def missing_commits(repo: Repository, wants: set[ObjectId], haves: set[ObjectId]) -> MissingCommits:
    """Commits reachable from ``wants`` but not from ``haves``, reading only as far back as the
    two histories meet (``git rev-list WANTS --not HAVES``).

    Both sides are walked together, newest commit first, and a commit reached from ``haves`` is
    painted as held, its ancestors with it. The walk stops once no wanted commit is left to read,
    so pushing k commits on top of a remote's branch reads those k commits and the one they build
    on, however long the history beneath. Commit times only order the walk: a skewed clock can
    make it read further, or list a held commit as wanted (the caller still asks the remote which
    objects it has), but never paint as held a commit ``haves`` does not reach."""
    if wants <= haves:
        return MissingCommits(commits={}, boundary={})
    loaded: dict[ObjectId, Commit] = {}
    heap: list[tuple[float, int, ObjectId]] = []
    order = itertools.count()  # ties in time are read in the order met
    held: set[ObjectId] = set()
    pending: set[ObjectId] = set()  # queued as wanted and not read yet
    read_as_wanted: set[ObjectId] = set()
    read_as_held: set[ObjectId] = set()

    def queue(oid: ObjectId) -> None:
        if oid not in loaded:
            loaded[oid] = repo.commit_at(oid)
        heapq.heappush(heap, (-_when(loaded[oid]), next(order), oid))

    def paint(oid: ObjectId) -> None:
        if oid in held:
            return
        held.add(oid)
        if oid in pending:
            pending.discard(oid)  # its place in the queue now reads it as held
        else:
            queue(oid)  # never met, or already read as wanted: its parents must be painted too

    for oid in haves:
        paint(oid)
    for oid in wants - held:
        if oid not in pending:
            pending.add(oid)
            queue(oid)
    while pending:
        _, _, oid = heapq.heappop(heap)
        parents = loaded[oid].parents
        if oid in held:
            if oid not in read_as_held:
                read_as_held.add(oid)
                for parent in parents:
                    paint(parent)
        elif oid not in read_as_wanted:
            pending.discard(oid)
            read_as_wanted.add(oid)
            for parent in parents:
                if parent not in held and parent not in pending and parent not in read_as_wanted:
                    pending.add(parent)
                    queue(parent)
    commits = {oid: loaded[oid] for oid in read_as_wanted - held}
    boundary = {p: loaded[p] for commit in commits.values() for p in commit.parents if p in held}
    return MissingCommits(commits=commits, boundary=boundary)


def _when(commit: Commit) -> float:
    try:
        return dt.datetime.fromisoformat(commit.time).timestamp()
    except ValueError:
        return 0.0  # an unreadable time only makes the walk read this commit last
