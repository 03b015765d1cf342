"""Keeping the store healthy: gc deletes what no ref reaches; fsck verifies every byte."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakeep.digest import bytes_id
from datakeep.errors import DatakeepError, NewerFormatError
from datakeep.fsutil import TEMP_PREFIX, is_temp_name
from datakeep.ids import ObjectId
from datakeep.records.commit import Commit
from datakeep.records.manifest import ChunkRef, FileEntry, Manifest
from datakeep.records.pages import manifest_pages, page_entries
from datakeep.records.refs import HEADS, REMOTES, TAGS
from datakeep.repo import Repository


def promised_by(repo: Repository) -> str | None:
    """The remote a partial clone trusts to hold what it has not fetched (None: a full repository)."""
    partial = repo.config.extra.get("partial")
    return partial if isinstance(partial, str) else None


def reachable(
    repo: Repository, roots: set[ObjectId] | None = None, *, fetch_promised: bool = False
) -> tuple[set[ObjectId], set[ObjectId], set[ObjectId]]:
    """(commits, manifests, data objects) reachable from ``roots`` (default: every ref).

    In a partial clone, manifests not fetched yet are skipped rather than fetched: their data
    cannot be here either, and gc must not download the whole remote to decide what to keep.
    ``fetch_promised`` fetches them instead (a push to another remote must send everything).
    """
    partial = promised_by(repo) is not None and not fetch_promised
    commits: set[ObjectId] = set()
    manifests: set[ObjectId] = set()
    data: set[ObjectId] = set()
    stack = list(roots if roots is not None else repo.refs.all_targets())
    while stack:
        oid = stack.pop()
        if oid in commits:
            continue
        commits.add(oid)
        commit = repo.commit_at(oid)
        stack.extend(commit.parents)
        for ref in commit.datasets.values():
            if ref.manifest not in manifests:
                manifests.add(ref.manifest)
                if partial and not repo.store.has(ref.manifest):
                    continue
                data.update(
                    _held_objects(repo, ref.manifest) if partial else repo.manifest_at(ref.manifest).object_ids()
                )
    return commits, manifests, data


def _held_objects(repo: Repository, oid: ObjectId) -> list[ObjectId]:
    """The objects a manifest a partial clone holds names, read from what is here: a read on
    demand that stopped between a manifest and its pages left pages promised, and gc must not
    fetch them to decide what to keep (the chunks of a page not here are not here either)."""
    document = repo.get_document(oid)
    if "pages" not in document:
        return Manifest.from_dict(document, oid).object_ids()
    objects: list[ObjectId] = []
    for page in manifest_pages(document, oid):
        objects.append(page.object)
        if repo.store.has(page.object):
            entries = page_entries(repo.get_document(page.object), page)
            objects.extend(held for entry in entries for chunk in entry.chunks for held in chunk.objects())
    return objects


@dataclass(frozen=True, slots=True, kw_only=True)
class GcResult:
    kept: int
    removed: int
    bytes_freed: int
    temp_files: int

    def to_dict(self) -> dict[str, int]:
        return {
            "kept": self.kept,
            "removed": self.removed,
            "bytes_freed": self.bytes_freed,
            "temp_files": self.temp_files,
        }


def gc(repo: Repository, *, dry_run: bool = False) -> GcResult:
    """Delete objects no ref reaches, and leftovers of interrupted writes."""
    with repo.receiving(gc=True), repo.locked():
        commits, manifests, data = reachable(repo)
        branch, head = repo.refs.head_target()
        if branch is not None and head is None and _unreferenced_tips(repo, commits, set()):
            raise DatakeepError(
                f"HEAD is on branch {branch}, which names no commit, yet the store holds commits no ref names",
                "if the branch's file was lost, `datakeep fsck` lists them: write the id back into "
                f".datakeep/{HEADS}/{branch}; to drop them, make a commit (or a branch) first, then gc",
            )
        keep = commits | manifests | data
        removed = freed = 0
        for oid in list(repo.store.ids()):
            if oid in keep:
                continue
            removed += 1
            freed += repo.store.size(oid)
            if not dry_run:
                repo.store.delete(oid)
        temps = [*repo.store.temp_files(), *_working_temp_files(repo), *_cache_temp_files(repo)]
        if not dry_run:
            for path in temps:
                with contextlib.suppress(OSError):
                    path.unlink()
    return GcResult(kept=len(keep), removed=removed, bytes_freed=freed, temp_files=len(temps))


def _cache_temp_files(repo: Repository) -> Iterator[Path]:
    """Temp files a commit killed part-way left among the caches (a row index being written, its
    spare: as large as the index). Only commits write there, under the lock gc holds."""
    cache = repo.dk / "cache"
    if cache.is_dir():
        yield from (found for found in cache.rglob(TEMP_PREFIX + "*") if found.is_file() and is_temp_name(found.name))


def _working_temp_files(repo: Repository) -> Iterator[Path]:
    """Temp files a checkout, pull or merge killed part-way left beside or inside tracked
    datasets, as large as what they were writing. gc holds the lock those commands hold, so none
    is being written now."""
    for tracked in repo.load_index().datasets.values():
        path = repo.root / tracked.path
        candidates = path.rglob(TEMP_PREFIX + "*") if path.is_dir() else path.parent.glob(TEMP_PREFIX + "*")
        yield from (found for found in candidates if found.is_file() and is_temp_name(found.name))


@dataclass(frozen=True, slots=True, kw_only=True)
class FsckResult:
    objects_checked: int
    problems: list[dict[str, str]] = field(default_factory=list)
    #: Objects missing or whose bytes are wrong: what a good copy from elsewhere repairs.
    damaged: tuple[ObjectId, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "objects_checked": self.objects_checked,
            "problems": self.problems,
            "damaged": list(self.damaged),
        }


@dataclass
class _Sweep:
    """What fsck has found so far, and the chunks it has still to rebuild (keyed by logical id
    and object: the same object read with another snapshot's schema, string against
    large_string, is another logical chunk)."""

    full: bool
    problems: list[dict[str, str]] = field(default_factory=list)
    bad: set[ObjectId] = field(default_factory=set)
    rebuilds: dict[tuple[str, ObjectId], tuple[ChunkRef, str]] = field(default_factory=dict)
    #: What first needed each bad object found while walking the refs (which data it hurts).
    needed_by: dict[ObjectId, str] = field(default_factory=dict)

    def report(self, oid: str, problem: str, *, bad: bool = True) -> None:
        self.problems.append({"object": oid, "problem": problem})
        if bad:
            self.bad.add(ObjectId(oid))

    def need(self, oid: ObjectId, where: str) -> None:
        if oid in self.bad:
            self.needed_by.setdefault(oid, where)

    def annotated(self, scanned: int) -> list[dict[str, str]]:
        """The problems, each of the first ``scanned`` (found reading every object's bytes, before
        anything said what needs them) with what needs it."""
        out = []
        for at, problem in enumerate(self.problems):
            where = self.needed_by.get(ObjectId(problem["object"])) if at < scanned else None
            out.append(
                problem if where is None else {**problem, "problem": f"{problem['problem']} (needed by {where})"}
            )
        return out


def fsck(repo: Repository, *, full: bool = False) -> FsckResult:
    """Verify every object's bytes against its id, and that every ref reaches whole data.

    With ``full``, also decode each chunk and check its logical content id and row count.
    """
    sweep = _Sweep(full=full)
    checked = 0
    for oid in repo.store.ids():
        checked += 1
        try:
            data = repo.store.get(oid)
        except DatakeepError as exc:
            sweep.report(oid, str(exc))
            continue
        if bytes_id(data) != oid:
            sweep.report(oid, "content does not match its id (corrupted bytes)")
    scanned = len(sweep.problems)
    _check_refs(repo, sweep)
    _rebuild_chunks(repo, sweep)
    return FsckResult(objects_checked=checked, problems=sweep.annotated(scanned), damaged=tuple(sorted(sweep.bad)))


def _rebuild_chunks(repo: Repository, sweep: _Sweep) -> None:
    """Decode each chunk to check (once, however many snapshots hold it) and hash its content,
    two at a time: decoding and hashing run outside the GIL (5M rows x 10 patched versions:
    13 s on one thread)."""
    from concurrent.futures import ThreadPoolExecutor

    from datakeep.hashing import content_id
    from datakeep.restore import read_chunk
    from datakeep.snapshot import decode_schema

    def check(job: tuple[ChunkRef, str]) -> dict[str, str] | None:
        chunk, schema = job
        try:
            table = read_chunk(repo.store, chunk, decode_schema(schema), verify=False)  # bytes checked above
        except DatakeepError as exc:
            return {"object": chunk.object, "problem": str(exc)}
        if content_id(table, repo.config.encoding) != chunk.id:
            return {"object": chunk.object, "problem": f"chunk content does not hash to its logical id {chunk.id}"}
        return None

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="datakeep-fsck") as pool:
        sweep.problems.extend(found for found in pool.map(check, sweep.rebuilds.values()) if found is not None)


def _check_refs(repo: Repository, sweep: _Sweep) -> None:
    roots: dict[str, ObjectId] = {}
    # Remote branches too: gc keeps what they name, and `log origin/main` reads it.
    for kind in (HEADS, TAGS, REMOTES):
        for name, oid in repo.refs.list(kind, skip_damaged=True).items():
            roots[f"{kind}/{name}"] = oid
    damaged = repo.refs.damaged()
    if not damaged:
        _branch, head = repo.refs.head_target()
        if head:
            roots["HEAD"] = head
    seen_commits: set[ObjectId] = set()
    seen_manifests: set[ObjectId] = set()
    for ref, root in roots.items():
        stack = [root]
        while stack:
            oid = stack.pop()
            if oid in seen_commits:
                continue
            seen_commits.add(oid)
            commit = _load(repo, oid, Commit, ref, sweep)
            if commit is None:
                continue
            stack.extend(commit.parents)
            for name, dref in commit.datasets.items():
                if dref.manifest in seen_manifests:
                    continue
                seen_manifests.add(dref.manifest)
                manifest = _load(repo, dref.manifest, Manifest, f"{ref} dataset {name}", sweep)
                if manifest is not None:
                    _check_manifest(repo, manifest, name, sweep)
    if not damaged:
        branch, head = repo.refs.head_target()
        if branch is not None and head is None:
            # HEAD's branch has no file: a new repository, or one whose branch file was lost
            # (deleted by hand): then commits no ref names are in the store.
            lost = _unreferenced_tips(repo, seen_commits, sweep.bad)
            if lost:
                sweep.report(
                    f"{HEADS}/{branch}",
                    f"HEAD is on branch {branch}, which names no commit, yet the store holds commits no ref "
                    f"names — write the id {branch} held into .datakeep/{HEADS}/{branch} before gc deletes "
                    "them; newest first: " + ", ".join(lost),
                    bad=False,
                )
    if damaged:
        # A damaged branch or HEAD lost the only pointer to its commits: name the commits no
        # ref reaches, so the right id can be written back before gc deletes them.
        lost = _unreferenced_tips(repo, seen_commits, sweep.bad)
        said: set[str] = set()
        for exc in damaged:
            if exc.path in said:
                continue  # HEAD on a damaged branch reports the branch's file, listed once
            said.add(exc.path)
            problem = f"damaged: it {exc.detail} — {exc.hint}"
            if lost:
                problem += "; commits no ref names, newest first: " + ", ".join(lost)
            sweep.report(os.path.relpath(exc.path, repo.dk), problem, bad=False)


#: Unreferenced commits named when a ref is damaged.
_LOST_SHOWN = 5


def _unreferenced_tips(repo: Repository, reachable: set[ObjectId], bad: set[ObjectId]) -> list[str]:
    """The newest commits no ref reaches and no other such commit descends from, as
    ``id (time 'message')``: what a damaged branch most likely named."""
    found: dict[ObjectId, Commit] = {}
    for oid in repo.store.ids():
        if oid in reachable or oid in bad or repo.store.size(oid) > 1 << 20:
            continue  # a commit is a small document; chunks are not worth opening
        try:
            found[oid] = repo.commit_at(oid)
        except DatakeepError:
            continue  # a chunk or a manifest
    parents = {parent for commit in found.values() for parent in commit.parents}
    tips = sorted((c.time, oid) for oid, c in found.items() if oid not in parents)
    # Whole ids: the repair is writing one into the ref file, which takes nothing shorter.
    return [f"{oid} ({time[:19]} {found[oid].message.splitlines()[0][:40]!r})" for time, oid in reversed(tips)][
        :_LOST_SHOWN
    ]


def _load(repo: Repository, oid: ObjectId, kind: type[Commit] | type[Manifest], where: str, sweep: _Sweep) -> Any:
    if oid in sweep.bad:
        sweep.need(oid, where)
        return None
    if not repo.store.has(oid):
        if kind is Manifest and promised_by(repo):
            return None  # a partial clone fetches other datasets' manifests when they are read
        sweep.report(oid, f"missing (needed by {where})")
        return None
    try:
        document = repo.get_document(oid)
        if kind is Manifest and "pages" in document:
            return _load_paged(repo, document, oid, where, sweep)
        return kind.from_dict(document, oid)
    except NewerFormatError as exc:
        sweep.report(oid, f"{exc} — upgrade datakeep to check it", bad=False)  # a repair fetches the same bytes
        return None
    except (DatakeepError, KeyError, TypeError, ValueError) as exc:
        sweep.report(oid, f"unreadable {kind.__name__.lower()} ({exc})")
        return None


def _load_paged(repo: Repository, document: dict[str, Any], oid: ObjectId, where: str, sweep: _Sweep) -> Any:
    """A manifest whose file list is in pages (`records.pages`), each page checked as an object
    of its own: one missing or damaged is named, and the files of the others are checked."""
    files: list[FileEntry] = []
    refs = tuple(manifest_pages(document, oid))
    for page in refs:
        holder = f"the file list of {where}"
        if page.object in sweep.bad:
            sweep.need(page.object, holder)
        elif not repo.store.has(page.object):
            if not promised_by(repo):  # a partial clone's read stopped between manifest and pages
                sweep.report(page.object, f"missing (page of {holder})")
        else:
            try:
                files.extend(page_entries(repo.get_document(page.object), page))
            except NewerFormatError as exc:
                sweep.report(page.object, f"{exc} — upgrade datakeep to check it", bad=False)
            except DatakeepError as exc:
                sweep.report(page.object, f"unreadable page of {holder} ({exc})")
    return Manifest.from_dict(document, oid, files=files, pages=refs)


def _check_manifest(repo: Repository, manifest: Manifest, name: str, sweep: _Sweep) -> None:
    """Check a manifest's objects are there; note the chunks to rebuild in ``sweep``."""
    bad = sweep.bad
    for entry in manifest.files:
        for chunk in entry.chunks:
            for oid in chunk.objects():
                sweep.need(oid, f"a chunk of dataset {name}")
                if oid not in bad and not repo.store.has(oid) and not promised_by(repo):
                    sweep.report(oid, f"missing (chunk of dataset {name})")
            # A patch is verified by rebuilding it through its chain: its bytes alone prove little.
            wanted = (sweep.full or chunk.depth) and all(repo.store.has(oid) for oid in chunk.objects())
            if wanted and chunk.object not in bad and not bad.intersection(chunk.bases):
                sweep.rebuilds.setdefault((chunk.id, chunk.object), (chunk, entry.schema))
            if chunk.hashes and chunk.hashes not in bad and repo.store.has(chunk.hashes):
                problem = _sidecar_problem(repo, chunk.hashes, chunk.rows)
                if problem:
                    sweep.report(chunk.hashes, problem, bad=False)


def _sidecar_problem(repo: Repository, oid: ObjectId, rows: int) -> str | None:
    """What is wrong with the row-hash sidecar ``oid`` of a chunk of ``rows`` rows, if anything.
    Its bytes were already checked against its id; this checks that they hold one hash a row."""
    from datakeep import hash_objects

    try:
        hashes = hash_objects.decode(oid, repo.store.get(oid))
    except DatakeepError as exc:
        return str(exc)
    if len(hashes) != rows:
        return f"row-hash sidecar holds {len(hashes)} hashes for {rows} rows"
    return None
