"""fetch and pull: bring a remote revision's commits, and the objects it needs, into this repository.

Order on our side is the same as on the remote's: chunks, then manifests, then commits, then refs.
Commits are walked and verified in memory and stored last, so a local commit always has its whole
snapshot beneath it (except what a partial clone leaves *promised* by its remote), and a pull
interrupted anywhere, run again, fetches only what is still missing.

A partial pull (``name``) takes every commit (small, and what history, `log` and `fsck` walk) but
only that dataset's manifest at the revision and its chunks; the rest stays promised by the remote
(``config.extra["partial"]``) and is fetched on demand when read.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from datakeep.digest import bytes_id
from datakeep.errors import CorruptObjectError, DatakeepError, RemoteError, UncommittedChangesError
from datakeep.ids import ObjectId
from datakeep.records.commit import Commit
from datakeep.records.manifest import Manifest
from datakeep.records.refs import HEADS, TAGS
from datakeep.remote.config import open_remote
from datakeep.remote.connect import EncodingMismatchError, Remote, reports_unreachable
from datakeep.remote.graph import REMOTES, RefUpdate, is_ancestor
from datakeep.remote.transfer import WORKERS, ProgressCallback, TransferStats, announce, copy_objects
from datakeep.repo import Repository
from datakeep.serialize import load_json


@dataclass(slots=True, kw_only=True)
class FetchResult:
    remote: str
    url: str
    ref: str  # the remote ref fetched (refs/heads/main, refs/tags/v1)
    commit: ObjectId
    received: TransferStats
    commits: int
    partial: bool
    updates: list[RefUpdate] = field(default_factory=list)
    restored: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)  # part files the version lacks

    def to_dict(self) -> dict[str, object]:
        return {
            "remote": self.remote,
            "url": self.url,
            "ref": self.ref,
            "commit": self.commit,
            "objects": self.received.objects,
            "bytes": self.received.bytes,
            "commits": self.commits,
            "partial": self.partial,
            "refs": [u.to_dict() for u in self.updates],
            "restored": self.restored,
            "removed": self.removed,
        }


def _verified(oid: ObjectId, data: bytes, remote: Remote) -> bytes:
    if bytes_id(data) != oid:
        raise CorruptObjectError(oid, f"its bytes on {remote.label} do not hash to its id; nothing stored")
    return data


def pick_ref(repo: Repository, remote: Remote, remote_refs: dict[str, ObjectId], rev: str | None) -> str:
    """The remote ref to fetch: ``rev`` as a branch or tag, else ours, else the remote's HEAD."""
    if not remote_refs:
        raise RemoteError(f"{remote.label} has no commits yet", "push to it first: `datakeep push`")
    if rev is not None:
        for ref in (f"{HEADS}/{rev}", f"{TAGS}/{rev}"):
            if ref in remote_refs:
                return ref
        names = ", ".join(sorted(r.split("/", 2)[2] for r in remote_refs))
        raise RemoteError(f"{remote.label} has no branch or tag '{rev}' (it has: {names})", "pick one of those")
    branch = repo.refs.head_target()[0]
    for candidate in (branch, remote.refs.head_branch()):
        if candidate and f"{HEADS}/{candidate}" in remote_refs:
            return f"{HEADS}/{candidate}"
    return sorted(remote_refs)[0]


def _walk_commits(repo: Repository, remote: Remote, start: ObjectId) -> dict[ObjectId, tuple[bytes, Commit]]:
    """Commits reachable from ``start`` that we lack, fetched and verified (level by level, in parallel)."""
    found: dict[ObjectId, tuple[bytes, Commit]] = {}
    level = [start]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        while level:
            level = [oid for oid in dict.fromkeys(level) if oid not in found and not repo.store.has(oid)]
            datas = list(pool.map(remote.store.get, level))
            parents: list[ObjectId] = []
            for oid, data in zip(level, datas, strict=True):
                commit = Commit.from_dict(load_json(_verified(oid, data, remote)), oid)
                found[oid] = (data, commit)
                parents.extend(commit.parents)
            level = parents
    return found


def _history(repo: Repository, start: ObjectId, fetched: dict[ObjectId, tuple[bytes, Commit]]) -> list[Commit]:
    """Every commit reachable from ``start``, from what was just fetched or from the local store."""
    out: list[Commit] = []
    seen: set[ObjectId] = set()
    stack = [start]
    while stack:
        oid = stack.pop()
        if oid in seen:
            continue
        seen.add(oid)
        commit = fetched[oid][1] if oid in fetched else repo.commit_at(oid)
        out.append(commit)
        stack.extend(commit.parents)
    return out


def _wanted_manifests(
    repo: Repository, start: ObjectId, fetched: dict[ObjectId, tuple[bytes, Commit]], name: str | None, ref: str
) -> set[ObjectId]:
    if name is not None:
        commit = fetched[start][1] if start in fetched else repo.commit_at(start)
        if name not in commit.datasets:
            known = ", ".join(sorted(commit.datasets)) or "none"
            raise RemoteError(f"{ref} has no dataset '{name}' (it has: {known})", "check the name")
        return {commit.datasets[name].manifest}
    if repo.config.extra.get("partial"):
        # A full pull into a partial clone fills in everything the revision's history needs.
        commits = _history(repo, start, fetched)
    else:
        commits = [commit for _, commit in fetched.values()]
    return {ref.manifest for commit in commits for ref in commit.datasets.values()}


def fetch_objects(
    repo: Repository,
    remote: Remote,
    start: ObjectId,
    *,
    name: str | None,
    ref: str,
    progress: ProgressCallback | None = None,
    max_objects: int | None = None,
) -> tuple[TransferStats, int]:
    """Copy what ``start`` needs into the local store; returns (what moved, commits received)."""
    local = repo.store
    fetched = _walk_commits(repo, remote, start)
    manifest_ids = sorted(_wanted_manifests(repo, start, fetched, name, ref))
    missing_manifests = [oid for oid in manifest_ids if not local.has(oid)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        manifest_bytes = dict(zip(missing_manifests, pool.map(remote.store.get, missing_manifests), strict=True))
    data: set[ObjectId] = set()
    for oid in manifest_ids:
        raw = _verified(oid, manifest_bytes[oid], remote) if oid in manifest_bytes else local.get(oid)
        data.update(Manifest.from_dict(load_json(raw), oid).object_ids())
    missing_data = sorted(oid for oid in data if not local.has(oid))
    stats = TransferStats()
    announce(progress, len(missing_data) + len(manifest_bytes) + len(fetched))
    copy_objects(remote.store, local, [missing_data], stats=stats, progress=progress, limit=max_objects)
    # Manifests and commits were verified above; they are written after the chunks they name.
    written = list(missing_data)
    for group in (manifest_bytes, {oid: raw for oid, (raw, _) in fetched.items()}):
        for oid, raw in group.items():
            local._put(oid, raw)
            stats.add(len(raw))
            written.append(oid)
            if progress is not None:
                progress(oid, len(raw))
    _sync(repo, written)
    return stats, len(fetched)


def _sync(repo: Repository, oids: list[ObjectId]) -> None:
    # The local store skips per-file fsync; make received objects durable before a ref names them.
    from datakeep.fsutil import sync_files

    sync_files([repo.store.path(oid) for oid in oids])


def _move_refs(
    repo: Repository, remote: Remote, ref: str, commit: ObjectId, remote_refs: dict[str, ObjectId]
) -> tuple[list[RefUpdate], RefUpdate | None]:
    """Update tracking refs and tags; returns (updates, the local branch update still to make)."""
    updates: list[RefUpdate] = []
    branch_update: RefUpdate | None = None
    with repo.locked():
        if ref.startswith(HEADS + "/") and remote.name is not None:
            tracking = f"{REMOTES}/{remote.name}/{ref[len(HEADS) + 1 :]}"
            old = repo.refs.get(tracking)
            repo.refs.update(tracking, commit, expected=old)
            status = "up-to-date" if old == commit else "new"
            updates.append(RefUpdate(ref=tracking, old=old, new=commit, status=status))
        for tag, oid in remote_refs.items():
            if not tag.startswith(TAGS + "/") or not repo.store.has(oid):
                continue
            mine = repo.refs.get(tag)
            if mine is None:
                repo.refs.update(tag, oid, expected=None)
                updates.append(RefUpdate(ref=tag, old=None, new=oid, status="new"))
            elif mine != oid:
                updates.append(RefUpdate(ref=tag, old=mine, new=oid, status="kept"))  # ours wins; reported
        if ref.startswith(HEADS + "/"):
            mine = repo.refs.get(ref)
            if mine is None:
                branch_update = RefUpdate(ref=ref, old=None, new=commit, status="new")
            elif mine == commit or is_ancestor(repo, commit, mine):
                branch_update = RefUpdate(ref=ref, old=mine, new=mine, status="up-to-date")
            elif is_ancestor(repo, mine, commit):
                branch_update = RefUpdate(ref=ref, old=mine, new=commit, status="fast-forward")
            else:
                branch_update = RefUpdate(ref=ref, old=mine, new=commit, status="diverged")
    return updates, branch_update


@reports_unreachable
def pull(
    repo: Repository,
    remote: str | None = None,
    rev: str | None = None,
    *,
    name: str | None = None,
    restore: bool = True,
    progress: ProgressCallback | None = None,
    max_objects: int | None = None,
) -> FetchResult:
    """Fetch ``rev`` (a remote branch or tag) and fast-forward the local branch of the same name.

    When HEAD is on that branch, the working tree follows (only dataset ``name`` with ``--name``),
    unless it has uncommitted changes: then objects and tracking refs are fetched, nothing moves.
    A remote in another canonical encoding than this repository's is refused before anything is
    fetched.
    """
    source = open_remote(repo, remote)
    theirs = source.check()
    if theirs != repo.config.encoding:
        raise EncodingMismatchError(
            source.label,
            theirs=theirs,
            ours=repo.config.encoding,
            hint=f"`datakeep clone {source.url}` into a new folder instead: a clone takes the remote's encoding",
        )
    remote_refs = source.refs.list()
    ref = pick_ref(repo, source, remote_refs, rev)
    commit = remote_refs[ref]
    dirty = _dirty(repo, name) if restore else []
    received, commits = fetch_objects(
        repo, source, commit, name=name, ref=ref, progress=progress, max_objects=max_objects
    )
    if restore:
        dirty += _untracked_in_the_way(repo, commit, name)
    updates, branch = _move_refs(repo, source, ref, commit, remote_refs)
    result = FetchResult(
        remote=source.label,
        url=source.url,
        ref=ref,
        commit=commit,
        received=received,
        commits=commits,
        partial=bool(repo.config.extra.get("partial")),
        updates=updates,
    )
    if branch is None or branch.status == "up-to-date":
        if branch is not None:
            updates.append(branch)
        return result
    if branch.status == "diverged":
        raise RemoteError(
            f"{ref} has diverged: yours is at {branch.old[:10] if branch.old else '-'}, "
            f"{source.label}'s at {commit[:10]} (objects fetched)",
            f"`datakeep merge {_merge_name(source.name, ref, commit)}` combines them dataset by dataset; or "
            "keep yours with `datakeep push --force`, or take theirs with "
            f"`datakeep branch -f {ref[len(HEADS) + 1 :]} {commit}`",
        )
    on_branch = repo.refs.head_target()[0] == ref[len(HEADS) + 1 :]
    if on_branch and dirty:
        raise UncommittedChangesError(
            dirty,
            "discard them with `datakeep checkout HEAD --force` and pull again, or commit them first; "
            "`pull --no-checkout` moves the branch without touching them",
        )
    with repo.locked():
        repo.refs.update(ref, commit, expected=branch.old)
    updates.append(branch)
    if on_branch and restore:
        result.restored, result.removed = _restore(repo, ref[len(HEADS) + 1 :], name)
    return result


def _dirty(repo: Repository, name: str | None) -> list[str]:
    from datakeep.worktree import status

    if repo.head() is None:
        return []
    return [s.name for s in status(repo) if s.state in ("modified", "new") and name in (None, s.name)]


def _untracked_in_the_way(repo: Repository, commit: ObjectId, name: str | None) -> list[str]:
    """Datasets the pulled commit brings whose paths hold untracked data the checkout would
    overwrite (its commit is local once fetched)."""
    from datakeep.checkout import untracked_in_the_way

    incoming = repo.commit_at(commit)
    names = [name] if name is not None else sorted(incoming.datasets)
    return untracked_in_the_way(repo, repo.load_index(), incoming, [n for n in names if n in incoming.datasets])


def _restore(repo: Repository, branch: str, name: str | None) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(files written, files removed) per dataset, restoring the pulled branch."""
    from datakeep.checkout import checkout

    try:
        restored = checkout(repo, branch, name=name, force=True)
    except DatakeepError:
        if name is None:
            raise
        return {}, {}  # the dataset is not in that revision: nothing to restore
    return restored.written, restored.removed


def _merge_name(remote: str | None, ref: str, commit: ObjectId) -> str:
    """What to hand `datakeep merge` for a fetched branch: its remote-tracking name, or the commit
    (a pull from a bare URL keeps no remote-tracking ref)."""
    return f"{remote}/{ref[len(HEADS) + 1 :]}" if remote else commit
