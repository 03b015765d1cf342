"""When a repository is partial: the objects it lacks are *promised* by one remote.

`clone --name` and `pull --name` make a repository partial (``config.extra["partial"]`` names the
remote); it stops being partial once every object its refs reach is stored locally, which a full
pull checks, so the promising remote can then be removed like any other.
"""

from __future__ import annotations

from datakeep.ids import ObjectId
from datakeep.maintenance import promised_by
from datakeep.records.refs import HEADS, REMOTES, TAGS
from datakeep.repo import Repository

PARTIAL = "partial"

__all__ = ["mark_partial", "promised_by", "settle_partial"]


def mark_partial(repo: Repository, remote: str) -> None:
    """Record that ``remote`` promises the objects this repository will lack; recorded before any
    commit naming them is stored, so fsck and gc never call them missing."""
    with repo.locked():
        repo.config.extra[PARTIAL] = remote
        repo.save_config()
    # The store read so far was a plain local one: reopened, it fetches promised objects on read.
    repo._store = None


def first_incomplete_ref(repo: Repository) -> str | None:
    """A ref whose history needs an object not stored here, or None when every ref is complete.
    Only the local store is asked (a partial clone's ``has`` never reaches the remote)."""
    refs = [(f"{kind}/{n}", oid) for kind in (HEADS, TAGS, REMOTES) for n, oid in repo.refs.list(kind).items()]
    branch, head = repo.refs.head_target()
    if branch is None and head is not None:
        refs.append(("HEAD", head))  # detached: HEAD is a root of its own
    complete: set[ObjectId] = set()  # commits and manifests known to have everything beneath them
    for ref, root in refs:
        if not _complete(repo, root, complete):
            return ref
    return None


def _complete(repo: Repository, root: ObjectId, complete: set[ObjectId]) -> bool:
    store = repo.store
    stack = [root]
    while stack:
        oid = stack.pop()
        if oid in complete:
            continue
        if not store.has(oid):
            return False
        commit = repo.commit_at(oid)
        for ref in commit.datasets.values():
            if ref.manifest in complete:
                continue
            if not store.has(ref.manifest):
                return False
            if not all(store.has(o) for o in repo.manifest_at(ref.manifest).object_ids()):
                return False
            complete.add(ref.manifest)
        complete.add(oid)
        stack.extend(commit.parents)
    return True


def settle_partial(repo: Repository) -> bool:
    """Stop being partial when nothing is promised any more; True when the flag was cleared."""
    if promised_by(repo) is None or first_incomplete_ref(repo) is not None:
        return False
    with repo.locked():
        repo.config.extra.pop(PARTIAL, None)
        repo.save_config()
    repo._store = None
    return True


def short_ref(ref: str) -> str:
    """What `datakeep pull REMOTE X` takes for ``ref``: ``refs/remotes/origin/x`` → ``x``."""
    if ref.startswith(REMOTES + "/"):
        return ref.split("/", 3)[3]
    return ref.split("/", 2)[2] if ref.startswith("refs/") else ref
