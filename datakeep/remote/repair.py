"""`datakeep fsck --repair`: damaged or missing objects replaced by good copies from a remote.

An object's id is the hash of its bytes, so any copy that hashes to the id is the object itself,
wherever it comes from. `pull` cannot do this: it fetches what the remote's refs add, and an
object already stored here (damaged or not) or under a commit already here is never asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datakeep.digest import bytes_id
from datakeep.errors import ObjectNotFoundError
from datakeep.ids import ObjectId
from datakeep.maintenance import FsckResult, fsck
from datakeep.remote.config import open_remote
from datakeep.repo import Repository

#: Checks after repairs: a missing manifest hides the chunks it names, found on the next round.
ROUNDS = 8


@dataclass
class RepairResult:
    """What `repair` found, fetched and could not fetch, and the check that followed."""

    remote: str
    repaired: list[ObjectId] = field(default_factory=list)
    #: Objects the remote lacks or holds damaged too: {object id: why}.
    unrepaired: dict[str, str] = field(default_factory=dict)
    found: list[dict[str, str]] = field(default_factory=list)  # problems before any repair
    check: FsckResult | None = None

    @property
    def ok(self) -> bool:
        return self.check is not None and self.check.ok

    def to_dict(self) -> dict[str, Any]:
        after = self.check.to_dict() if self.check is not None else {}
        return {
            **after,
            "remote": self.remote,
            "found": self.found,
            "repaired": list(self.repaired),
            "unrepaired": dict(self.unrepaired),
        }


def repair(repo: Repository, remote_name: str | None = None, *, full: bool = False) -> RepairResult:
    """Check the repository (`fsck`); fetch a verified copy of every damaged or missing object
    from the remote (default: the only one, or ``origin``), then check again."""
    check = fsck(repo, full=full)
    result = RepairResult(remote=remote_name or "", found=list(check.problems))
    remote = None
    tried: set[ObjectId] = set()  # an object whose bytes were right yet unreadable is not fetched twice
    for _ in range(ROUNDS):
        wanted = [oid for oid in check.damaged if oid not in tried]
        if not wanted:
            break
        tried.update(wanted)
        if remote is None:
            remote = open_remote(repo, remote_name)
            result.remote = remote.label
        with repo.locked():
            for oid in wanted:
                why = _fetch(repo, remote.store, oid)
                if why is None:
                    result.repaired.append(oid)
                else:
                    result.unrepaired[oid] = why
        check = fsck(repo, full=full)
        result.found.extend(p for p in check.problems if p not in result.found)
    result.check = check
    return result


def _fetch(repo: Repository, source: Any, oid: ObjectId) -> str | None:
    """Replace ``oid`` here with the remote's copy; None when done, else why it was not."""
    try:
        data = source.get(oid)
    except ObjectNotFoundError:
        return "the remote lacks it too"
    if bytes_id(data) != oid:
        return "the remote's copy is damaged too"
    repo.store._put(oid, data)  # written beside the damaged file, then renamed over it
    return None
