"""A local cache of each recent snapshot's row index: every row's hash and key, in chunk order.

A commit on a patched chain needs the parent's row hashes (to align each changed chunk with its
predecessor) and the parent's keys (for the commit's change summary), and `datakeep diff` of
recent versions needs both again. For a chunk stored as a patch they would otherwise be rebuilt
through its whole chain: decode and re-hash the literal rows of every level. The commit that
wrote a snapshot already held all of it in memory, so it leaves it here.

This is a cache, not the store: ``.datakeep/cache/rows/<dataset tag>-<snapshot id>.arrow``, an uncompressed
Arrow IPC file, written without fsync, never pushed, and ignored whenever it does not match the
manifest it is read for (rows, key columns, the digest of the chunk list). Deleting it loses
nothing but time. Only the newest four of each dataset are kept (see ``KEEP``).

A reader maps an index and holds a shared ``flock`` on it for as long as the mapping lives. A
save rewrites the index it prunes in place when it can take that file's lock exclusively (no
one has it mapped): its pages are already the system's, where a new file's are handed out fresh,
which on the benchmark's machine made the save of an 80 MB index take 30 to 200 ms instead of
11 ms, the last thing a commit waits for. Until a dataset has ``KEEP`` indexes there is none to
prune, and the save writes over a spare file the commit filled as it started instead
(`rowcache_files`). Either way the file appears under its new name by a rename, whole.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import functools
import itertools
import mmap
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import xxhash

from datakeep import kernels, patches
from datakeep.arrow_numpy import arrow_array, primitive_view
from datakeep.digest import bytes_id
from datakeep.errors import DatakeepError
from datakeep.fsutil import atomic_output, temp_name
from datakeep.hashing import content_id
from datakeep.records.commit import Commit
from datakeep.records.manifest import ChunkRef, Manifest
from datakeep.repo import Repository
from datakeep.rowcache_files import KEEP, Spare, dataset_tag, index_path, prune

#: Snapshots with more rows get no row index. An index is held in memory whole (16 bytes a row
#: with an integer key, more with string keys), and a commit holds its parent's and its own: past
#: this size that would make a commit's memory grow with the dataset. Without an index a commit
#: and a diff read hashes and keys chunk by chunk from the store, in bounded memory.
MAX_ROWS = 8_000_000
#: Nor is an index saved past the size of that many rows with an integer key: wide keys (1M rows
#: of 200-byte text) made an index of 208 MB, and four are kept.
MAX_BYTES = MAX_ROWS * 16
HASH_COLUMN = "__row_hash"
#: 2: the schema metadata holds digests of the content (`_chunk_digests`, `_keys_digest`).
FORMAT = b"2"


class DamagedIndexError(Exception):
    """A cached row index whose row hashes or keys do not match their digests (a crash while it
    was written over, a disk error): its hashes would align changed rows with the wrong old ones,
    and a patch would store wrong rows. Whoever meets it takes the slow way instead."""


@dataclass(frozen=True, slots=True, eq=False)
class RowIndex:
    """Row hashes (over all columns, `rowhash.row_hashes`) and key columns of one snapshot.

    One read from the cache carries the digest of each chunk's row hashes (``digests``), and a
    chunk's hashes are checked the first time they are used (`check_chunk`): at 5M rows the whole
    check cost 7-10 ms an index before the commit could start, for pages it reads anyway later."""

    unchecked_hashes: np.ndarray
    unchecked_keys: pa.Table
    starts: np.ndarray  # row where each manifest chunk begins, plus the total at the end
    objects: tuple[str, ...]
    #: xxh3-64 of each chunk's row hashes, and `_keys_digest` of the keys; None for an index this
    #: process built (nothing to check).
    digests: tuple[int, ...] | None = None
    keys_digest: str | None = None
    _checked: set[int] = field(default_factory=set)  # chunk positions; -1 for the keys
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def keys(self) -> pa.Table:
        """The key columns, checked the first time; DamagedIndexError when they do not match."""
        if self.keys_digest is not None:
            with self._lock:
                if -1 not in self._checked:
                    if _keys_digest(self.unchecked_keys) != self.keys_digest:
                        raise DamagedIndexError("keys")
                    self._checked.add(-1)
        return self.unchecked_keys

    @property
    def hashes(self) -> np.ndarray:
        """Every row's hash, every chunk checked; DamagedIndexError when one does not match."""
        if self.digests is None:
            return self.unchecked_hashes
        for position in range(len(self.objects)):
            if not self.check_chunk(position):
                raise DamagedIndexError(position)
        return self.unchecked_hashes

    def check_chunk(self, position: int) -> bool:
        """Whether the row hashes of the chunk at ``position`` are what the index was saved with."""
        if self.digests is None:
            return True
        with self._lock:
            if position not in self._checked:
                if _digest(self._slice(position)) != self.digests[position]:
                    return False
                self._checked.add(position)
        return True

    def chunk_hashes(self, position: int) -> np.ndarray:
        """The row hashes of the chunk at ``position``, unchecked (`check_chunk` before use)."""
        return self._slice(position)

    def chunk(self, position: int) -> tuple[pa.Table, np.ndarray]:
        """(keys, hashes) of the manifest chunk at ``position``; DamagedIndexError when its
        hashes do not match their digest."""
        if not self.check_chunk(position):
            raise DamagedIndexError(position)
        start, end = int(self.starts[position]), int(self.starts[position + 1])
        return self.keys.slice(start, end - start), self._slice(position)

    def _slice(self, position: int) -> np.ndarray:
        return self.unchecked_hashes[int(self.starts[position]) : int(self.starts[position + 1])]

    def by_object(self) -> dict[str, int]:
        return {oid: position for position, oid in enumerate(self.objects)}


def _chunks_digest(chunks: Sequence[ChunkRef]) -> bytes:
    return bytes_id("\n".join(c.object for c in chunks).encode()).encode()


def _digest(hashes: np.ndarray) -> int:
    return xxhash.xxh3_64_intdigest(np.ascontiguousarray(hashes, dtype="<u8").data)


def _chunk_digests(hashes: np.ndarray, starts: np.ndarray) -> str:
    return ",".join(f"{_digest(hashes[int(a) : int(b)]):x}" for a, b in itertools.pairwise(starts))


def _keys_digest(keys: pa.Table) -> str:
    """A digest of the key columns' content, whatever their chunking: their bytes for fixed-width
    keys without nulls (ids, times: 1 ms at 5M rows), else their logical content id."""
    digest = xxhash.xxh3_128()
    for column in keys.columns:
        width = _fixed_width(column.type)
        if width is None or column.null_count:
            return f"c{content_id(keys)}"
        for part in column.chunks:
            digest.update(primitive_view(part, f"<u{width}").data)
    return f"x{digest.hexdigest()}"


def _path(repo: Repository, manifest: Manifest) -> Path:
    return index_path(repo.dk, manifest.name, manifest.id)


def load(repo: Repository, manifest: Manifest | None, *, check: bool = True) -> RowIndex | None:
    """The cached row index of ``manifest``, or None when there is none that matches it (or one
    damaged). ``check`` False leaves each chunk's row hashes to be checked as they are used (a
    commit), where DamagedIndexError, or `RowIndex.check_chunk` False, says one is damaged."""
    if manifest is None or manifest.rows > MAX_ROWS or HASH_COLUMN in manifest.key:
        return None
    path = _path(repo, manifest)
    try:
        # Mapped, not read: the index (80 MB at 5M rows) is used a chunk at a time as the commit
        # goes, so a copy up front only delayed the commit's first batch.
        table = pa.ipc.open_file(pa.py_buffer(_locked_map(path))).read_all()
    except (OSError, ValueError, pa.ArrowException):
        return None
    meta = table.schema.metadata or {}
    key = list(manifest.key)
    if (
        meta.get(b"format") != FORMAT
        or meta.get(b"chunks") != _chunks_digest(manifest.chunks)
        or table.num_rows != manifest.rows
        or table.column_names != [*key, HASH_COLUMN]
    ):
        return None
    keys = table.select(key)
    starts = _starts(manifest.chunks)
    try:
        digests = tuple(int(d, 16) for d in meta.get(b"chunk_digests", b"").decode().split(","))
    except ValueError:
        return None
    if len(digests) != len(manifest.chunks):
        return None
    index = RowIndex(
        unchecked_hashes=primitive_view(table.column(HASH_COLUMN), "<u8"),
        unchecked_keys=keys,
        starts=starts,
        objects=tuple(c.object for c in manifest.chunks),
        digests=digests,
        keys_digest=meta.get(b"keys", b"").decode(),
    )
    if check:
        try:
            index.keys  # noqa: B018 - checked now
            index.hashes  # noqa: B018
        except DamagedIndexError:
            return None
    return index


def older_base_hashes(
    repo: Repository, name: str, parent: Commit, manifest: Manifest
) -> dict[str, tuple[np.ndarray, Callable[[], bool]]]:
    """Row hashes of the chunks that the next commit of dataset ``name`` may patch against and its
    parent's snapshot (``manifest``, at commit ``parent``) does not hold, from the cached row
    indexes of the parent's own first parents: {object id: (hashes, their check)}, each to be
    checked when used (`RowIndex.check_chunk`).

    Patches form a skip chain (`patches.patch_base`), so a changed chunk is patched against a
    version several commits back one commit in two. Its hashes were otherwise read from the
    base's sidecar or rebuilt through its patches: 230 ms of CPU in a 5M-row edit's commit, which
    made those commits a fifth slower than the others. A cache only: whatever is missing (an
    index pruned, a commit not here) is left to those slower ways."""
    held = {chunk.object for chunk in manifest.chunks}
    wanted = {patches.patch_base(chunk)[0].object for chunk in manifest.chunks if chunk.depth} - held
    found: dict[str, tuple[np.ndarray, Callable[[], bool]]] = {}
    commit = parent
    try:
        for _ in range(KEEP - 1):  # no older index of the dataset is kept
            if not wanted or not commit.parents:
                break
            commit = repo.commit_at(commit.parents[0])
            ref = commit.datasets.get(name)
            index = load(repo, repo.manifest_at(ref.manifest), check=False) if ref is not None else None
            if index is None:
                continue
            positions = index.by_object()
            for oid in [oid for oid in wanted if oid in positions]:
                at = positions[oid]
                found[oid] = (index.chunk_hashes(at), functools.partial(index.check_chunk, at))
                wanted.discard(oid)
    except DatakeepError:
        pass  # an ancestor not in this repository: the bases are found the slow way
    return found


def save(repo: Repository, manifest: Manifest, index: RowIndex, spare: Spare | None = None) -> None:
    """Cache ``index`` for ``manifest``; best effort (a full disk only costs the next commit time).
    ``spare`` (`rowcache_files.start_spare`) is written over when no pruned index is, else removed."""
    if index.unchecked_hashes.nbytes + index.unchecked_keys.nbytes > MAX_BYTES:
        if spare is not None:
            spare.discard()
        return
    hashes = np.ascontiguousarray(index.hashes, dtype=np.uint64)
    table = index.keys.append_column(HASH_COLUMN, arrow_array(hashes))
    metadata = {
        "format": FORMAT,
        "chunks": _chunks_digest(manifest.chunks),
        "chunk_digests": _chunk_digests(hashes, _starts(manifest.chunks)),
        "keys": _keys_digest(index.keys),
    }
    table = table.replace_schema_metadata(metadata)
    path = _path(repo, manifest)
    try:
        with contextlib.suppress(OSError, pa.ArrowException):
            _save(path, manifest.name, table, spare)
    finally:
        if spare is not None:
            spare.discard()  # not written over (or no longer under its name): nothing to keep


def _save(path: Path, dataset: str, table: pa.Table, spare: Spare | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    dropped = prune(path.parent, dataset_tag(dataset), keep=KEEP - 1)
    if dropped is None and spare is not None:
        dropped = str(filled) if (filled := spare.claim()) is not None else None
    if dropped is not None and _rewrite(dropped, path, table):
        return
    if dropped is not None:
        # Mapped by a reader: unlinked, its pages stay theirs until they let go.
        with contextlib.suppress(OSError):
            os.unlink(dropped)
    with (
        atomic_output(path, durable=False) as temp,
        pa.OSFile(str(temp), "wb") as sink,
        pa.ipc.new_file(sink, table.schema) as writer,
    ):
        writer.write_table(table)


def _locked_map(path: Path) -> mmap.mmap:
    """``path`` mapped read-only under a shared flock that lives as long as the mapping: the
    mapping keeps a duplicate of the descriptor, which holds the lock, until the last view of
    it is gone. OSError when the file is gone or a save is rewriting it (exclusively locked)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise
            # No flock on this file system: no save can take the file to rewrite either.
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            # Taken by a save between our open and our lock (renamed away, rewritten, renamed
            # back under another name): what this name holds now is another file.
            raise FileNotFoundError(errno.ENOENT, "row index replaced while opened", str(path))
        return mmap.mmap(fd, 0, prot=mmap.PROT_READ)
    finally:
        os.close(fd)


def _rewrite(old: str, path: Path, table: pa.Table) -> bool:
    """Write ``table`` as the index at ``path`` into the pruned index ``old`` (see the module
    notes); False, touching nothing, when a reader has ``old`` mapped."""
    fd = os.open(old, os.O_RDWR | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False  # mapped by a reader (or no flock here, so none can be ruled out)
        # Out of readers' sight first; a touch, so no prune takes the renamed file for a stale
        # leftover (its age is the old index's until it is written).
        temp = temp_name(path, path.suffix)
        os.utime(fd)
        os.rename(old, temp)
        try:
            with open(fd, "r+b", buffering=0, closefd=False) as handle:
                with pa.ipc.new_file(pa.PythonFile(handle, mode="w"), table.schema) as writer:
                    writer.write_table(table)
                os.ftruncate(fd, handle.tell())
            os.rename(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        return True
    finally:
        os.close(fd)


def _starts(chunks: Sequence[ChunkRef]) -> np.ndarray:
    starts = np.zeros(len(chunks) + 1, dtype=np.int64)
    np.cumsum([c.rows for c in chunks], out=starts[1:])
    return starts


class RowIndexBuilder:
    """Collects (keys, hashes) per chunk while a snapshot is built, in manifest chunk order.

    Parts are appended per file in the order its chunks are emitted; a chunk whose hashes were
    not computed (reused unchanged, or a file the stat cache skipped) is filled in from the
    parent's index when the builder finishes.
    """

    def __init__(self, key: tuple[str, ...]) -> None:
        self.key = list(key)
        self._parts: list[tuple[pa.Table | None, np.ndarray | Future[Any] | None]] = []
        self._rows = 0
        self._reserved: list[np.ndarray] = []
        self._key_copy: _KeyCopy | None = None
        #: False once the snapshot has proved too big for an index (``MAX_ROWS``): from then on
        #: nothing is kept, and chunk writers need not hand their hashes back. A key column
        #: named like the hash column gets no index either (a cache is not worth a rename).
        self.collecting = HASH_COLUMN not in self.key

    def add(self, keys: pa.Table, hashes: np.ndarray | Future[Any] | None) -> None:
        """One chunk's keys and hashes; ``hashes`` may be the future of a chunk writer that
        computes them (its result has ``.hashes``)."""
        if not self.collecting:
            return
        self._rows += keys.num_rows
        if self._rows > MAX_ROWS:
            self.collecting = False
            self._parts.clear()
            self._reserved.clear()
            return
        self._parts.append((keys, hashes))
        if self._key_copy is not None:
            self._key_copy.add(keys)

    def reserve(self, rows: int) -> np.ndarray | None:
        """An array for the row hashes of a file of ``rows`` rows, which the commit hashes into
        (each chunk's hashes a slice of it), or None when no index is being built. A dataset of
        one file gets its index's hashes there, instead of joining the chunks' into a new array."""
        if not self.collecting or self._rows + rows > MAX_ROWS:
            return None
        array = np.empty(rows, dtype=np.uint64)
        self._reserved.append(array)
        # One file and one key column: its keys are copied into one array as chunks come too.
        self._key_copy = _KeyCopy(rows) if len(self._reserved) == 1 and len(self.key) == 1 else None
        return array

    def skip(self, count: int) -> None:
        if self.collecting:
            self._parts.extend([(None, None)] * count)

    def finish(
        self, manifest: Manifest, parent: RowIndex | None, hashes_of: Callable[[ChunkRef], np.ndarray]
    ) -> RowIndex | None:
        """The snapshot's row index, or None when some chunk's keys are known nowhere here.
        ``hashes_of`` reads a reused chunk's stored hashes when the parent's index lacks them."""
        chunks = manifest.chunks
        if not self.collecting or manifest.rows > MAX_ROWS or len(self._parts) != len(chunks):
            return None
        try:
            if parent is not None and parent.keys.column_names != self.key:
                # The dataset's key changed (`add` again with another --key): the parent's index
                # holds other key columns, so chunks taken over unread cannot get theirs from it.
                parent = None
        except DamagedIndexError:
            parent = None  # its keys do not match their digest
        in_parent = parent.by_object() if parent is not None else {}
        keys: list[pa.Table] = []
        hashes: list[np.ndarray] = []
        # Keys taken over from the parent's index mostly follow each other there (the files a
        # commit did not read): sliced once a run of them, not once a chunk (a slice, a select
        # and a table to join for each of 20,000 files' chunks). Joined, the keys are the same.
        run_start = run_end = -1  # the parent's rows of the run not in ``keys`` yet
        for chunk, (chunk_keys, pending) in zip(chunks, self._parts, strict=True):
            chunk_hashes = pending.result().hashes if isinstance(pending, Future) else pending
            position = in_parent.get(chunk.object)
            if parent is not None and position is not None and (chunk_keys is None or chunk_hashes is None):
                start, end = int(parent.starts[position]), int(parent.starts[position + 1])
                if chunk_keys is None:
                    if start != run_end:
                        if run_end >= 0:
                            keys.append(self._own(parent.keys.slice(run_start, run_end - run_start)))
                        run_start = start
                    run_end = end
                if chunk_hashes is None and parent.check_chunk(position):
                    chunk_hashes = parent.chunk_hashes(position)  # else damaged: read from the store
            elif chunk_keys is None:
                return None
            if chunk_keys is not None:
                if run_end >= 0:
                    keys.append(self._own(parent.keys.slice(run_start, run_end - run_start)))  # type: ignore[union-attr]
                    run_start = run_end = -1
                keys.append(self._own(chunk_keys))
            hashes.append(chunk_hashes if chunk_hashes is not None else hashes_of(chunk))
        if run_end >= 0:
            keys.append(self._own(parent.keys.slice(run_start, run_end - run_start)))  # type: ignore[union-attr]
        rows = sum(len(h) for h in hashes)
        copied = self._key_copy.table() if self._key_copy is not None else None
        if copied is not None and copied.num_rows == rows and all(k is not None for k, _ in self._parts):
            return RowIndex(
                unchecked_hashes=_joined_hashes(hashes, self._reserved),
                unchecked_keys=copied,
                starts=_starts(chunks),
                objects=tuple(c.object for c in chunks),
            )
        # The hashes are joined on a thread of their own while the keys are joined here: two
        # copies of 40 MB at 5M rows, mostly page faults, which the commit otherwise waited
        # for one after the other.
        with ThreadPoolExecutor(max_workers=1) as pool:
            joined = pool.submit(_joined_hashes, hashes, self._reserved)
            all_keys = _concat_keys(keys, self.key, rows)
            all_hashes = joined.result()
        objects = tuple(c.object for c in chunks)
        return RowIndex(unchecked_hashes=all_hashes, unchecked_keys=all_keys, starts=_starts(chunks), objects=objects)

    def _own(self, chunk_keys: pa.Table) -> pa.Table:
        """A chunk's (or a run of chunks') key columns as the index keeps them."""
        return chunk_keys.select(self.key).replace_schema_metadata(None)


class _KeyCopy:
    """A one-file dataset's key column, when it is one fixed-width column (ids, times), copied
    into one array chunk by chunk as the commit cuts them, where its threads have room, instead
    of joined after the last chunk: 40 MB at 5M rows, 16 ms on one core, mostly page faults. Keys
    of another kind, or with nulls, are joined at the end as before (`table` says None)."""

    def __init__(self, rows: int) -> None:
        self._rows = rows
        self._filled = 0
        self._schema: pa.Schema | None = None
        self._array: np.ndarray | None = None
        self._usable = True

    def add(self, keys: pa.Table) -> None:
        if not self._usable:
            return
        column = keys.column(0)
        if self._array is None:
            width = _fixed_width(column.type)
            if width is None:
                self._usable = False
                return
            self._schema = keys.schema.remove_metadata()
            self._array = np.empty(self._rows, dtype=f"<u{width}")
        if (
            column.null_count
            or self._filled + len(column) > self._rows
            or not keys.schema.remove_metadata().equals(self._schema)
        ):
            self._usable = False
            return
        for part in column.chunks:
            self._array[self._filled : self._filled + len(part)] = primitive_view(part, self._array.dtype.str)
            self._filled += len(part)

    def table(self) -> pa.Table | None:
        if not self._usable or self._array is None or self._schema is None or self._filled != self._rows:
            return None
        values = pa.Array.from_buffers(self._schema.field(0).type, self._rows, [None, pa.py_buffer(self._array)])
        return pa.Table.from_arrays([values], schema=self._schema)


def _fixed_width(data_type: pa.DataType) -> int | None:
    """Bytes a value of a plain fixed-width type takes (integers, floats, dates, times)."""
    plain = pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_temporal(data_type)
    width = data_type.bit_width if plain else 0
    return width // 8 if width in (8, 16, 32, 64) else None


def _joined_hashes(hashes: list[np.ndarray], reserved: list[np.ndarray]) -> np.ndarray:
    """The chunks' ``hashes`` as one array: the one file's reserved array when it holds all the
    rows (chunks hashed into it are already in place; those taken over unread are copied in),
    else a new array joining them."""
    rows = sum(len(h) for h in hashes)
    if len(reserved) != 1 or len(reserved[0]) != rows:
        return np.concatenate(hashes) if hashes else np.zeros(0, np.uint64)
    (array,) = reserved
    start = 0
    for chunk_hashes in hashes:
        end = start + len(chunk_hashes)
        if chunk_hashes.ctypes.data != array[start:end].ctypes.data:
            array[start:end] = chunk_hashes
        start = end
    return array


def _concat_keys(parts: list[pa.Table], key: list[str], rows: int) -> pa.Table:
    if not key or not parts:
        # Without key columns the table still has to say how many rows it has.
        return pa.table({HASH_COLUMN: pa.nulls(rows, pa.uint64())}).select([])
    schema = parts[0].schema
    return pa.concat_tables([kernels.cast_table(part, schema) for part in parts]).combine_chunks()
