"""Commit-graph questions push and pull ask: ancestry, and how refs may move."""

from __future__ import annotations

from dataclasses import dataclass

from datakeep.errors import RemoteError
from datakeep.history import is_ancestor
from datakeep.ids import ObjectId
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
