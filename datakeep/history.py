"""Commits: making one, and reading the history."""

from __future__ import annotations

import datetime as dt
import getpass
import heapq
import itertools
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakeep.errors import EXIT_NO, DatakeepError, DatasetError, UsageError
from datakeep.fsutil import Signature, file_signature
from datakeep.ids import ObjectId
from datakeep.progress import Progress
from datakeep.records.commit import Commit, DatasetRef
from datakeep.records.index import Index
from datakeep.records.manifest import Manifest
from datakeep.repo import Repository
from datakeep.rowcache_files import Spare, start_spare
from datakeep.tracking import cached_snapshot_id, dataset_files


class NothingToCommitError(DatakeepError):
    exit_code = EXIT_NO

    def __init__(self, count: int) -> None:
        if count == 0:
            super().__init__(
                "nothing to commit: no dataset is tracked",
                "track one first: datakeep add PATH --name NAME (or pass --allow-empty)",
            )
            return
        super().__init__(
            f"nothing to commit: all {count} tracked dataset(s) are unchanged since HEAD",
            "change a dataset or `datakeep add` one first (or pass --allow-empty)",
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CommitResult:
    id: ObjectId
    commit: Commit
    changed: tuple[str, ...]  # every dataset the commit changed, the ones it removed too
    written: dict[str, int] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()  # what went wrong once the commit had landed

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "changed": list(self.changed),
            "removed": list(self.removed),
            "warnings": list(self.warnings),
            "written": self.written,
            **self.commit.to_dict(),
        }


def default_author(root: Path | None = None) -> str:
    """$DATAKEEP_AUTHOR, else git's author: $GIT_AUTHOR_NAME, else git's user.name and
    user.email as seen from ``root`` (a project's own identity included), else user@host."""
    name = os.environ.get("DATAKEEP_AUTHOR") or os.environ.get("GIT_AUTHOR_NAME")
    if name:
        email = os.environ.get("GIT_AUTHOR_EMAIL")
        return f"{name} <{email}>" if email else name
    identity = _git_identity(root) if root is not None else None
    if identity:
        return identity
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _on_a_thread(function: Callable[..., str], *args: Any) -> Future[str]:
    """``function(*args)`` started now on a daemon thread of its own; its future result."""
    future: Future[str] = Future()

    def run() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as exc:  # raised where the result is asked for
            future.set_exception(exc)

    threading.Thread(target=run, name="datakeep-author", daemon=True).start()
    return future


def _git_identity(root: Path) -> str | None:
    """'Name <email>' from git's configuration, or None (no git, no user.name, a slow git)."""
    import subprocess

    try:
        found = subprocess.run(
            ["git", "-C", str(root), "config", "--get-regexp", r"^user\.(name|email)$"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    values = dict(line.split(" ", 1) for line in found.stdout.splitlines() if " " in line)
    name, email = values.get("user.name", "").strip(), values.get("user.email", "").strip()
    if not name:
        return None
    return f"{name} <{email}>" if email else name


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).astimezone().isoformat(timespec="microseconds")


def same_definition(manifest: Manifest, other: Manifest) -> bool:
    keys = ("path", "key", "entity", "source", "validated")
    return all(getattr(manifest, k) == getattr(other, k) for k in keys)


def is_ancestor(repo: Repository, old: ObjectId, new: ObjectId) -> bool:
    """Whether ``old`` is ``new`` or one of its ancestors, using local commits only."""
    if old == new:
        return True
    if not repo.store.has(old):
        return False  # a commit we lack cannot be in our history
    seen: set[ObjectId] = set()
    stack = [new]
    while stack:
        oid = stack.pop()
        if oid == old:
            return True
        if oid in seen:
            continue
        seen.add(oid)
        stack.extend(repo.commit_at(oid).parents)
    return False


def make_commit(
    repo: Repository,
    *,
    message: str,
    author: str | None = None,
    allow_empty: bool = False,
    verify: bool = True,
    progress: Progress | None = None,
) -> CommitResult:
    """Snapshot every tracked dataset that changed and move HEAD to a new commit; ``progress``
    hears the bytes read of each dataset's files that changed."""
    if not message.strip():
        raise DatakeepError("empty commit message", 'pass one with -m "what changed"')
    if author is not None and any(c in author for c in "\r\n"):
        # `log` prints it as one line: a line break in it would pass for another field.
        raise UsageError(
            f"the author {author!r} holds a line break", 'write it on one line, e.g. "Ann <ann@example.com>"'
        )
    with repo.locked():
        index = repo.load_index()
        head = repo.head()
        parent = repo.commit_at(head) if head else None
        if not index.datasets and not (parent and parent.datasets) and not allow_empty:
            # With datasets at HEAD, an empty index is a commit that removes them all.
            raise NothingToCommitError(0)
        # Every dataset must have data before any is read: a commit would otherwise hash all the
        # datasets before an emptied folder only to stop there (DatasetError names it).
        held = parent.datasets if parent else {}
        found = {
            name: dataset_files(repo.root, tracked, name, committed=name in held)
            for name, tracked in sorted(index.datasets.items())
        }
        working = _working_snapshots(repo, index, found)
        if parent is not None and not allow_empty and _unchanged(repo, index, parent, working):
            raise NothingToCommitError(len(index.datasets))
        # git's identity takes a git process (about 5 ms, at the very end of the commit): asked
        # for now, on a thread, while the imports below run with the second core idle.
        author_found = _on_a_thread(default_author, repo.root) if not author else None
        # Before the imports below: the spares are filled while they run (`rowcache_files`).
        spares = _start_spares(repo, parent, working)
        # Imported only past the unchanged check: they bring numpy and pyarrow, which a
        # re-commit of unchanged data never needs.
        from datakeep import rowcache
        from datakeep.patches import chunk_hashes, forget_hashes
        from datakeep.snapshot import ChunkWriter, WriteStats, build_snapshot, refuse_if_changed
        from datakeep.summary import change_summary

        stats = WriteStats()
        writer = ChunkWriter(repo, stats)
        # Row-index caches are written beside the rest of the commit (80 MB at 5M rows): the
        # change summary, the fsyncs and the ref update do not need them. A cache appears by an
        # atomic rename, so a reader finds it whole or not at all.
        caching: list[threading.Thread] = []
        refs: dict[str, DatasetRef] = {}
        summary: dict[str, Any] = {}
        changed: list[str] = []
        seen: dict[str, Any] = {}  # chunk id -> ChunkRef, across the datasets of this commit
        try:
            for name, tracked in sorted(index.datasets.items()):
                parent_ref = parent.datasets.get(name) if parent else None
                parent_manifest = repo.manifest_at(parent_ref.manifest) if parent_ref else None
                validated, checked = (
                    _validate(repo, name, tracked, found[name])
                    if verify and (tracked.entity or tracked.source)
                    else (None, {})
                )
                # Checked chunk by chunk as the commit uses it (`rowcache.RowIndex.check_chunk`).
                parent_rows = rowcache.load(repo, parent_manifest, check=False)
                older_hashes = (
                    rowcache.older_base_hashes(repo, name, parent, parent_manifest)
                    if parent is not None and parent_manifest is not None
                    else {}
                )
                rows = rowcache.RowIndexBuilder(tracked.key)
                manifest = build_snapshot(
                    repo,
                    name,
                    tracked,
                    parent=parent_manifest,
                    index=index,
                    writer=writer,
                    validated=validated,
                    known_elsewhere=seen,
                    parent_rows=parent_rows,
                    older_hashes=older_hashes,
                    rows=rows,
                    found=found[name],
                    progress=progress,
                )
                # Let go of the older indexes (their mappings hold their files): the oldest is the
                # one this commit's index is written over (`rowcache.save`).
                forget_hashes(older_hashes)
                del older_hashes
                for path, signature in checked.items():
                    refuse_if_changed(path, signature, "validated and committed")
                seen.update((chunk.id, chunk) for chunk in manifest.chunks)
                if (
                    parent_ref
                    and parent_manifest
                    and manifest.id == parent_manifest.id
                    and same_definition(manifest, parent_manifest)
                ):
                    refs[name] = parent_ref
                    continue
                oid, written = repo.put_manifest(manifest, parent_manifest)
                stats.manifest_bytes += written  # a folder of many files (or long values) makes it large
                refs[name] = DatasetRef(snapshot=manifest.id, manifest=oid)
                new_rows = rows.finish(manifest, parent_rows, lambda chunk: chunk_hashes(repo.store, chunk))
                if new_rows is not None:
                    caching.append(
                        threading.Thread(target=rowcache.save, args=(repo, manifest, new_rows, spares.pop(name, None)))
                    )
                    caching[-1].start()
                summary[name] = change_summary(repo, parent_manifest, manifest, old_rows=parent_rows, new_rows=new_rows)
                changed.append(name)
        except BaseException:
            writer.discard_new()
            raise
        finally:
            writer.close()
            for spare in spares.values():  # datasets that saved no index (unchanged, or an error)
                spare.discard()
        if parent is not None:
            # Datasets this working tree does not hold (a partial clone's others) go on unchanged.
            refs.update((name, parent.datasets[name]) for name in sorted(index.elsewhere(parent.datasets)))
        removed = sorted(set(parent.datasets) - set(refs)) if parent else []
        for name in removed:
            summary[name] = {"removed": True}
        if parent is not None and not changed and not removed and not allow_empty:
            index.save()
            raise NothingToCommitError(len(refs))
        writer.flush_to_disk()
        commit = Commit(
            parents=(head,) if head else (),
            message=message.strip(),
            author=author or (author_found.result() if author_found is not None else default_author(repo.root)),
            time=now_iso(),
            datasets=refs,
            summary=summary,
        )
        oid = repo.put_document(commit.to_dict())
        repo.refs.advance_head(oid, expected=head)
        index.removed.clear()  # committed: gone from HEAD
        for name in refs.keys() & index.datasets.keys():
            # Made from the datasets as tracked now: a clean `status` need not read the manifest
            # to find that out (1.3 s of 1.8 s at 20,000 part files).
            index.remember_defined(name, refs[name].manifest)
        warnings = _save_after_commit(index)
        for thread in caching:
            thread.join()
    return CommitResult(
        id=oid,
        commit=commit,
        changed=tuple(sorted([*changed, *removed])),
        removed=tuple(removed),
        written=stats.to_dict(),
        warnings=warnings,
    )


def _save_after_commit(index: Index) -> tuple[str, ...]:
    """Save the index once the commit has landed. It is a cache of what was read (and the list
    of datasets removed since), so failing to save it (a full disk) loses no commit: saying
    "error ... run again" then had the user retry a commit that had happened."""
    try:
        index.save()
    except OSError as exc:
        return (
            f"the commit is made, but {index.path} could not be saved ({exc.strerror or exc}); "
            "the next `datakeep status` reads the files again (and saves it, once it can be written)",
        )
    return ()


def _working_snapshots(
    repo: Repository, index: Index, found: dict[str, tuple[str, list[tuple[str, Path]]]]
) -> dict[str, str | None]:
    """Each tracked dataset's snapshot id as the stat cache alone knows its files (``found``);
    None where a file must be read."""
    working: dict[str, str | None] = {}
    for name, tracked in index.datasets.items():
        try:
            working[name] = cached_snapshot_id(repo.root, name, tracked, index, found[name])
        except DatakeepError:
            working[name] = None  # the commit reports it when it reads the file
    return working


def _start_spares(repo: Repository, parent: Commit | None, working: dict[str, str | None]) -> dict[str, Spare]:
    """Spare row-index files (`rowcache_files.start_spare`) for the datasets whose files the stat
    cache does not show as committed at ``parent`` (``working``: `_working_snapshots`)."""
    spares: dict[str, Spare] = {}
    for name, snapshot in working.items():
        ref = parent.datasets.get(name) if parent is not None else None
        if ref is None or snapshot == ref.snapshot:
            continue  # a first snapshot (no parent index to size a spare by), or unchanged
        spare = start_spare(repo.dk, name, ref.snapshot)
        if spare is not None:
            spares[name] = spare
    return spares


def _unchanged(repo: Repository, index: Index, parent: Commit, working: dict[str, str | None]) -> bool:
    """True when the stat cache alone (``working``: `_working_snapshots`) shows every tracked
    dataset as committed at ``parent`` (same files, same definition): the answer for re-committing
    unchanged data, without pyarrow."""
    if set(index.datasets) | index.elsewhere(parent.datasets) != set(parent.datasets):
        return False
    for name, tracked in index.datasets.items():
        if working[name] is None or working[name] != parent.datasets[name].snapshot:
            return False
        manifest = repo.manifest_at(parent.datasets[name].manifest)
        if (manifest.path, manifest.key, manifest.entity, manifest.source) != (
            tracked.path,
            tracked.key,
            tracked.entity,
            tracked.source,
        ):
            return False
    return True


def _validate(
    repo: Repository, name: str, tracked: Any, found: tuple[str, list[tuple[str, Path]]]
) -> tuple[dict[str, str], dict[Path, Signature]]:
    """Validate a dataset tracked with an entity or a source (the files ``found`` for its
    snapshot); raise ValidationFailedError when it fails. Returns what it was validated against,
    and each file's stat taken before it was read: what was validated must be what is stored.

    A source alone implies its entity, as `validate --source` does; a source whose mapping file
    is missing raises SchemaConfigError (exit 2) rather than committing unvalidated data.
    """
    from datakeep import schemas, validate
    from datakeep.errors import ValidationFailedError

    entity = tracked.entity or schemas.source_entity(repo.root, tracked.source)
    _, files = dataset_files(repo.root, tracked, name, found)
    checked: dict[Path, Signature] = {}
    for _, path in files:
        checked[path] = file_signature(path)
        report = validate.validate_file(path, entity=entity, source=tracked.source, root=repo.root)
        if not report.ok:
            text = validate.render_text(report)
            raise ValidationFailedError(
                f"dataset '{name}' failed validation against entity '{entity}'; nothing was committed\n{text}",
                report,
                "fix the data (or the mapping) and commit again; --no-verify skips validation",
            )
    against = {
        "entity": entity,
        "source": tracked.source,
        "fingerprint": schemas.fingerprint(repo.root, entity, tracked.source),
    }
    return against, checked


def log(
    repo: Repository,
    start: ObjectId | None = None,
    limit: int | None = None,
    dataset: str | None = None,
    *,
    exclude: ObjectId | None = None,
) -> list[tuple[ObjectId, Commit]]:
    """Commits reachable from ``start`` (default HEAD), newest first, but none reachable from
    ``exclude`` (git's ``log A..B``); with ``dataset``, only those that changed it against their
    first parent (its content or definition, added or removed), as `git log -- PATH` does. A
    dataset no commit there ever held is an error, not an empty log."""
    out: list[tuple[ObjectId, Commit]] = []
    if limit is not None and limit <= 0:
        return out
    head = start if start is not None else repo.head()
    # `A..B` reads back only as far as the two histories meet, not the whole of A's.
    wanted = set(missing_commits(repo, {head}, {exclude}).commits) if exclude is not None and head else None
    held = False
    for oid, commit in repo.ancestry(head):
        if wanted is not None and not wanted:
            break  # every commit of the range is listed
        if wanted is not None:
            if oid not in wanted:
                continue
            wanted.discard(oid)
        if dataset is not None:
            held = held or dataset in commit.datasets
            if not _changes(repo, commit, dataset):
                continue
        out.append((oid, commit))
        if limit is not None and len(out) >= limit:
            break
    if dataset is not None and not out and not held:
        raise DatasetError(
            f"no commit in this history holds a dataset named '{dataset}'",
            "`datakeep status` and `datakeep show REV` list dataset names",
        )
    return out


def _changes(repo: Repository, commit: Commit, dataset: str) -> bool:
    """Whether ``commit`` changed ``dataset`` against its first parent. Unchanged datasets keep
    their parent's manifest object, so comparing manifest ids catches content and definition."""
    ref = commit.datasets.get(dataset)
    parent_ref = repo.commit_at(commit.parents[0]).datasets.get(dataset) if commit.parents else None
    return (ref.manifest if ref else None) != (parent_ref.manifest if parent_ref else None)


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
    objects it has; `log A..B` may then list a commit A reaches), but never paint as held a commit
    ``haves`` does not reach."""
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
