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

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from datakeep.digest import bytes_id
from datakeep.errors import RemoteError, RemoteObjectDamagedError
from datakeep.ids import ObjectId
from datakeep.records.commit import Commit
from datakeep.records.pages import manifest_pages, read_manifest
from datakeep.records.refs import HEADS, TAGS
from datakeep.remote.config import open_remote
from datakeep.remote.connect import EncodingMismatchError, Remote, reports_unreachable
from datakeep.remote.graph import REMOTES, RefUpdate, is_ancestor
from datakeep.remote.partial import mark_partial, promised_by, settle_partial
from datakeep.remote.refs import damaged_ref_error
from datakeep.remote.transfer import (
    WORKERS,
    ProgressCallback,
    TransferStats,
    announce,
    copy_objects,
)
from datakeep.repo import Repository
from datakeep.serialize import load_json
from datakeep.store.base import ObjectStore


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
    damaged: list[str] = field(default_factory=list)  # remote refs skipped: unreadable there

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
            "damaged": self.damaged,
        }


def _verified(oid: ObjectId, data: bytes, remote: Remote) -> bytes:
    if bytes_id(data) != oid:
        raise RemoteObjectDamagedError(oid, remote.store.url, remote.store.url_of(oid))
    return data


def pick_ref(
    repo: Repository,
    remote: Remote,
    remote_refs: dict[str, ObjectId],
    rev: str | None,
    *,
    damaged: dict[str, bytes] | None = None,
) -> str:
    """The remote ref to fetch: ``rev`` as a branch or tag, else ours, else the remote's HEAD.
    A ref that would be picked but is ``damaged`` on the remote is an error naming it."""
    damaged = damaged or {}
    if not remote_refs and not damaged:
        raise RemoteError(f"{remote.label} has no commits yet", "push to it first: `datakeep push`")
    if rev is not None:
        for ref in (f"{HEADS}/{rev}", f"{TAGS}/{rev}"):
            if ref in remote_refs:
                return ref
            if ref in damaged:
                raise damaged_ref_error(ref, damaged[ref], remote.label)
        names = ", ".join(sorted(r.split("/", 2)[2] for r in remote_refs))
        raise RemoteError(f"{remote.label} has no branch or tag '{rev}' (it has: {names})", "pick one of those")
    branch = repo.refs.head_target()[0]
    for candidate in (branch, remote.refs.head_branch()):
        if candidate and f"{HEADS}/{candidate}" in damaged:
            raise damaged_ref_error(f"{HEADS}/{candidate}", damaged[f"{HEADS}/{candidate}"], remote.label)
        if candidate and f"{HEADS}/{candidate}" in remote_refs:
            return f"{HEADS}/{candidate}"
    if not remote_refs:
        ref, raw = sorted(damaged.items())[0]
        raise damaged_ref_error(ref, raw, remote.label)
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
        # The other datasets this working tree holds follow the branch too (see `pull`): their
        # data at the revision comes along, or they would be left at their old version.
        held = repo.load_index().datasets
        return {r.manifest for n, r in commit.datasets.items() if n == name or n in held}
    # A full pull into a partial clone fills in everything the revision's history needs.
    partial = promised_by(repo) is not None
    commits = _history(repo, start, fetched) if partial else [commit for _, commit in fetched.values()]
    return {ref.manifest for commit in commits for ref in commit.datasets.values()}


def _leaves_holes(
    repo: Repository, fetched: dict[ObjectId, tuple[bytes, Commit]], manifest_ids: list[ObjectId]
) -> bool:
    """Whether storing ``fetched`` commits would name manifests neither fetched nor stored here."""
    wanted = set(manifest_ids)
    return any(
        r.manifest not in wanted and not repo.store.has(r.manifest)
        for _, commit in fetched.values()
        for r in commit.datasets.values()
    )


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
    if (
        name is not None
        and remote.name is not None
        and not promised_by(repo)
        and _leaves_holes(repo, fetched, manifest_ids)
    ):
        # As `clone --name` does, and before any commit naming them is stored: what this pull
        # leaves out is promised by the remote, fetched when read, and not "missing" to fsck.
        mark_partial(repo, remote.name)
        local = repo.store
    missing_manifests = [oid for oid in manifest_ids if not local.has(oid)]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        manifest_bytes = dict(zip(missing_manifests, pool.map(remote.store.get, missing_manifests), strict=True))
    documents = {
        oid: load_json(_verified(oid, manifest_bytes[oid], remote) if oid in manifest_bytes else local.get(oid))
        for oid in manifest_ids
    }
    page_bytes = _fetch_pages(remote, local, documents)
    data: set[ObjectId] = set()
    for oid, document in documents.items():
        manifest = read_manifest(
            document, oid, lambda page: load_json(page_bytes.get(page.object) or local.get(page.object))
        )
        data.update(manifest.object_ids())
    missing_data = sorted(oid for oid in data if not local.has(oid) and oid not in page_bytes)
    stats = TransferStats()
    announce(progress, len(missing_data) + len(page_bytes) + len(manifest_bytes) + len(fetched))
    copy_objects(remote.store, local, [missing_data], stats=stats, progress=progress, limit=max_objects)
    # Pages, manifests and commits were verified above; they are written after what they name.
    written = list(missing_data)
    for group in (page_bytes, manifest_bytes, {oid: raw for oid, (raw, _) in fetched.items()}):
        for oid, raw in group.items():
            local._put(oid, raw)
            stats.add(len(raw))
            written.append(oid)
            if progress is not None:
                progress(oid, len(raw))
    _sync(repo, written)
    return stats, len(fetched)


def _fetch_pages(
    remote: Remote, local: ObjectStore, documents: dict[ObjectId, dict[str, Any]]
) -> dict[ObjectId, bytes]:
    """The file-list pages (`records.pages`) of the manifests in ``documents`` that this store
    lacks, fetched and verified: the chunks they name are known only once they are read."""
    wanted = sorted(
        {
            page.object
            for oid, document in documents.items()
            if "pages" in document
            for page in manifest_pages(document, oid)
            if not local.has(page.object)
        }
    )
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        fetched = pool.map(remote.store.get, wanted)
        return {oid: _verified(oid, raw, remote) for oid, raw in zip(wanted, fetched, strict=True)}


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
            status = _tracking_status(repo, old, commit)
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


def _tracking_status(repo: Repository, old: ObjectId | None, new: ObjectId) -> str:
    """How a remote-tracking ref moved: it records the remote, so it follows it even backwards."""
    if old is None:
        return "new"
    if old == new:
        return "up-to-date"
    return "fast-forward" if is_ancestor(repo, old, new) else "forced"


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
    with contextlib.ExitStack() as receiving:
        return _pull(
            repo, remote, rev, receiving, name=name, restore=restore, progress=progress, max_objects=max_objects
        )


def _pull(
    repo: Repository,
    remote: str | None,
    rev: str | None,
    receiving: contextlib.ExitStack,
    *,
    name: str | None,
    restore: bool,
    progress: ProgressCallback | None,
    max_objects: int | None,
) -> FetchResult:
    source = open_remote(repo, remote)
    theirs = source.check()
    if theirs != repo.config.encoding:
        raise EncodingMismatchError(
            source.label,
            theirs=theirs,
            ours=repo.config.encoding,
            hint=f"`datakeep clone {source.url}` into a new folder instead: a clone takes the remote's encoding",
        )
    _refuse_partial_pull_from_elsewhere(repo, source, name)
    remote_refs, damaged = source.refs.scan()
    ref = pick_ref(repo, source, remote_refs, rev, damaged=damaged)
    commit = remote_refs[ref]
    # From the first object received until a ref names them all, gc must not take them for
    # garbage: it waits for the objects lock held from here on (shared: commits go on meanwhile).
    receiving.enter_context(repo.receiving())
    received, commits = fetch_objects(
        repo, source, commit, name=name, ref=ref, progress=progress, max_objects=max_objects
    )
    updates, branch = _move_refs(repo, source, ref, commit, remote_refs)
    if name is None:
        settle_partial(repo)  # a full pull may have fetched the last promised object
    result = FetchResult(
        remote=source.label,
        url=source.url,
        ref=ref,
        commit=commit,
        received=received,
        commits=commits,
        partial=promised_by(repo) is not None,
        updates=updates,
        damaged=sorted(damaged),
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
    if on_branch and restore:
        # The working tree is brought to the pulled commit *before* the branch moves: a pull
        # stopped in between leaves the branch where it was, so a re-run finishes it and no commit
        # made meanwhile can record the old data as a change that reverts the pulled one.
        from datakeep.checkout import refuse_uncommitted

        incoming = repo.commit_at(commit)
        previous = repo.commit_at(branch.old) if branch.old else None
        names = _to_restore(repo, incoming, previous, name)
        refuse_uncommitted(
            repo,
            repo.load_index(),
            names,
            incoming,
            "discard them with `datakeep checkout HEAD --force` and pull again, or commit them first; "
            "`pull --no-checkout` moves the branch without touching them",
        )
        result.restored, result.removed = _restore(repo, commit, names)
        if name is None:
            _untrack_removed(repo, incoming, previous)
    with repo.locked():
        repo.refs.update(ref, commit, expected=branch.old)
        if on_branch and restore and name is None:
            _forget_removed(repo)
    updates.append(branch)
    return result


def _forget_removed(repo: Repository) -> None:
    """After a full pull every dataset of the new HEAD is tracked again, as after `checkout`: the
    ones marked removed by `_untrack_removed` are simply not at HEAD any more."""
    index = repo.load_index()
    if index.removed:
        index.removed.clear()
        index.save()


def _refuse_partial_pull_from_elsewhere(repo: Repository, source: Remote, name: str | None) -> None:
    """A partial pull leaves objects to be fetched later, from a remote this repository names."""
    if name is None:
        return
    promiser = promised_by(repo)
    if promiser is None and source.name is None:
        raise RemoteError(
            f"a partial pull (--name) from {source.url} would leave objects this repository could "
            "not fetch later: it keeps no name for that URL",
            f"add it with `datakeep remote add NAME {source.url}` and pull from NAME, or pull without --name",
        )
    if promiser is not None and source.name != promiser:
        raise RemoteError(
            f"this partial clone's missing objects are promised by remote '{promiser}'; a partial pull "
            f"from {source.label} would leave objects that '{promiser}' may not have",
            f"pull from {promiser}, or pull from {source.label} without --name",
        )


def _to_restore(repo: Repository, incoming: Commit, previous: Commit | None, name: str | None) -> list[str]:
    """The datasets the working tree takes from ``incoming``: all of them; with ``name``, that one
    and each other dataset held here that the pulled commits changed (left as it was, it would
    read as a local change and the next commit would undo theirs)."""
    if name is None:
        return sorted(incoming.datasets)
    held = repo.load_index().datasets

    def changed(n: str) -> bool:
        before = previous.datasets.get(n) if previous else None
        return before is None or before.snapshot != incoming.datasets[n].snapshot

    return [name, *sorted(n for n in held if n != name and n in incoming.datasets and changed(n))]


def _restore(repo: Repository, commit: ObjectId, names: list[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(files written, files removed) per dataset, restoring ``names`` as ``commit`` holds them.
    HEAD does not move: each is restored by name."""
    from datakeep.checkout import checkout

    written: dict[str, list[str]] = {}
    removed: dict[str, list[str]] = {}
    for dataset in names:
        restored = checkout(repo, commit, name=dataset, force=True)
        written.update(restored.written)
        removed.update(restored.removed)
    return written, removed


def _untrack_removed(repo: Repository, incoming: Commit, previous: Commit | None) -> None:
    """Stop tracking the datasets the pulled commits removed (their files stay, as `checkout`
    leaves them). Marked removed, not merely untracked: until the branch moves, a commit must
    leave them out rather than carry them on."""
    if previous is None:
        return
    with repo.locked():
        index = repo.load_index()
        gone = [n for n in index.datasets if n in previous.datasets and n not in incoming.datasets]
        for dataset in gone:
            del index.datasets[dataset]
            index.removed.add(dataset)
        if gone:
            index.save()


def _merge_name(remote: str | None, ref: str, commit: ObjectId) -> str:
    """What to hand `datakeep merge` for a fetched branch: its remote-tracking name, or the commit
    (a pull from a bare URL keeps no remote-tracking ref)."""
    return f"{remote}/{ref[len(HEADS) + 1 :]}" if remote else commit
