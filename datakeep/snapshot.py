"""Taking a snapshot: stream a dataset's Parquet files, cut them into content-defined chunks,
store the chunks nobody has stored yet, and describe it all in a manifest.

Only what changed costs anything: a file whose stat matches the index is not read; a chunk whose
logical id the parent snapshot already has is neither encoded nor written again.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from datakeep import column_patches, hash_objects, patches, resume, tracking
from datakeep.chunking import Chunker, ChunkParams
from datakeep.errors import DatakeepError, DatasetError, InputDataError
from datakeep.fsutil import EarlySync, Signature, file_signature, still_matches, sync_files
from datakeep.hashing import ENCODING_VERSION, StreamHasher, schema_columns, update_all
from datakeep.ids import ObjectId
from datakeep.parquet_encoding import column_encodings, dictionary_columns
from datakeep.parquet_io import ReadAhead, iter_batches, open_parquet, started_batches, without_views
from datakeep.progress import FileMeter, Progress
from datakeep.records.index import Index, TrackedDataset
from datakeep.records.manifest import ChunkRef, FileEntry, Manifest
from datakeep.repo import Repository
from datakeep.rowcache import RowIndex, RowIndexBuilder
from datakeep.rowhash import DictionaryPlan, row_hashes
from datakeep.tracking import dataset_files
from datakeep.unify import union_schema

if TYPE_CHECKING:
    from datakeep.parquet_source import FileMetaData, ParquetSource
    from datakeep.stats import TableStats

#: Rows decoded at a time, at most: a power of two, so batches end on the hash blocks' bounds.
BATCH_ROWS = 65536
#: What a batch may take decoded, as `batch_rows_for` estimates it: a 400-column table in batches
#: of 65,536 rows peaked at 1.7 GB (8,192 rows: 1.06 GB, in the same time).
BATCH_BYTES = 64 * 2**20
MAX_IN_FLIGHT = 4
#: Batches decoded ahead of the hashing (on a reader thread).
READ_AHEAD = 2
CHUNK_COMPRESSION = "zstd"
#: Level 1: since only repeating columns get dictionary pages and integers are delta-encoded, it
#: stores 1% less than level 3 on the bench table (24.7 vs 25.0 MB at 1M rows) and encodes 20-25%
#: faster (a 400-column table: 0.93 s against 1.25 s for 12 chunks).
CHUNK_COMPRESSION_LEVEL = 1


@dataclass(slots=True)
class WriteStats:
    new_objects: int = 0
    new_bytes: int = 0  # chunks, patches and row-hash sidecars
    manifest_bytes: int = 0  # the snapshot manifests this commit stored (a folder of many files: large)
    chunks_written: int = 0
    chunks_reused: int = 0
    chunks_patched: int = 0
    files_read: int = 0
    files_cached: int = 0
    rows_resumed: int = 0  # rows of changed files not read again, thanks to a resume record
    new_paths: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict[str, int]:
        return {
            "new_objects": self.new_objects,
            "new_bytes": self.new_bytes,
            "manifest_bytes": self.manifest_bytes,
            "chunks_written": self.chunks_written,
            "chunks_reused": self.chunks_reused,
            "chunks_patched": self.chunks_patched,
            "files_read": self.files_read,
            "files_cached": self.files_cached,
            "rows_resumed": self.rows_resumed,
        }


def encode_schema(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def decode_schema(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def encode_chunk(table: pa.Table, dictionary: list[str] | None = None) -> bytes:
    """A chunk as a plain Parquet object any engine can read (DuckDB, Spark, Dask); ``dictionary``
    names the columns to give dictionary pages (judged from ``table`` when None)."""
    import pyarrow.parquet as pq  # here: reading needs only `ParquetSource` (see there)

    sink = pa.BufferOutputStream()
    if dictionary is None:
        dictionary = dictionary_columns(table)
    pq.write_table(
        table,
        sink,
        compression=CHUNK_COMPRESSION,
        compression_level=CHUNK_COMPRESSION_LEVEL,
        row_group_size=max(1, table.num_rows),
        use_dictionary=dictionary,
        column_encoding=column_encodings(table.schema, dictionary) or None,
        write_statistics=True,
        store_schema=True,
    )
    return sink.getvalue().to_pybytes()


@dataclass(frozen=True, slots=True)
class WrittenChunk:
    ref: ChunkRef
    hashes: np.ndarray | None  # the chunk's row hashes, when the caller asked to keep them


class ChunkWriter:
    """Encodes and stores new chunks on worker threads (Parquet encoding releases the GIL)."""

    def __init__(self, repo: Repository, stats: WriteStats, workers: int = 2) -> None:
        self.repo = repo
        self.stats = stats
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="datakeep-chunk")
        self._in_flight: deque[Future[WrittenChunk]] = deque()
        self._lock = threading.Lock()  # counters are shared by the worker threads
        self._early_sync = EarlySync()

    def submit(
        self,
        table: pa.Table,
        chunk_id: str,
        hashes: np.ndarray | Callable[[], np.ndarray],
        predecessor: ChunkRef | None = None,
        *,
        keep_hashes: bool = True,
        dictionary: list[str] | None = None,
        base_schema: pa.Schema | None = None,
        row_patch: bool = True,
    ) -> Future[WrittenChunk]:
        """Store ``table`` on a worker; ``hashes`` are its row hashes, or a function that gives them
        (called there). ``keep_hashes`` False drops them once stored (the future then holds only
        the ref). ``dictionary``: the columns to give dictionary pages if stored whole (judged from
        ``table`` when None). ``base_schema``: the columns of ``predecessor``, when ``table`` may be
        a column patch on it (`column_patches`), tried where a row patch is not (``row_patch``
        False: the columns were retyped) or does not pay."""
        while len(self._in_flight) >= MAX_IN_FLIGHT:
            self._in_flight.popleft().result()
        future = self._pool.submit(
            self._write, table, chunk_id, hashes, predecessor, keep_hashes, dictionary, base_schema, row_patch
        )
        self._in_flight.append(future)
        return future

    def _write(
        self,
        table: pa.Table,
        chunk_id: str,
        hashes: np.ndarray | Callable[[], np.ndarray],
        predecessor: ChunkRef | None,
        keep_hashes: bool,
        dictionary: list[str] | None,
        base_schema: pa.Schema | None,
        row_patch: bool,
    ) -> WrittenChunk:
        if callable(hashes):
            hashes = hashes()
        stored = self._store(table, chunk_id, hashes, predecessor, dictionary, base_schema, row_patch)
        return WrittenChunk(stored, hashes if keep_hashes else None)

    def _store(
        self,
        table: pa.Table,
        chunk_id: str,
        hashes: np.ndarray,
        predecessor: ChunkRef | None,
        dictionary: list[str] | None,
        base_schema: pa.Schema | None = None,
        row_patch: bool = True,
    ) -> ChunkRef:
        if predecessor is not None and row_patch:
            base, seq = patches.patch_base(predecessor)
            if base.depth < patches.MAX_DEPTH:
                patched = self._write_patch(table, chunk_id, hashes, base, seq)
                if patched is not None:
                    return patched
        if predecessor is not None and base_schema is not None:
            patched = self._write_column_patch(table, chunk_id, hashes, predecessor, base_schema)
            if patched is not None:
                return patched
        data = encode_chunk(table, dictionary)
        oid = self._put(data)
        hashes_oid = self._put(hash_objects.encode(hashes))
        patches.remember_hashes(oid, hashes)
        with self._lock:
            self.stats.chunks_written += 1
        return ChunkRef(id=chunk_id, object=oid, hashes=hashes_oid, rows=table.num_rows, bytes=len(data))

    def _write_patch(
        self, table: pa.Table, chunk_id: str, hashes: np.ndarray, base: ChunkRef, seq: int | None
    ) -> ChunkRef | None:
        """Store ``table`` as a row-level patch on ``base`` when that is small enough."""
        base_hashes = patches.chunk_hashes(self.repo.store, base)
        patch = patches.align(base_hashes, hashes)
        if patch is None:
            return None
        return self._put_patch(patches.encode(patch, table, base.object, base.hashes), chunk_id, hashes, base, seq)

    def _write_column_patch(
        self, table: pa.Table, chunk_id: str, hashes: np.ndarray, base: ChunkRef, base_schema: pa.Schema
    ) -> ChunkRef | None:
        """Store ``table`` as a column patch on ``base`` when it holds the base's rows and enough of
        its columns unchanged (see `column_patches`). Without a row-hash sidecar (as large as a
        float column): the next commit finds the hashes in the row index it leaves, and where that
        is gone they are rebuilt from the chunk (`patches.rebuild_hashes`)."""
        if base.depth >= patches.MAX_DEPTH or base.rows != table.num_rows:
            return None

        def base_columns(positions: list[int]) -> pa.Table:
            return patches.rebuild_table(self.repo.store, base.object, positions, memo=False)

        def base_head(positions: list[int], rows: int) -> pa.Table | None:
            return patches.head_rows(self.repo.store, base.object, positions, rows)

        known = patches.known_hashes(base.object)
        sources = column_patches.plan(table, base_schema, base_columns, base_head, known)
        if sources is None:
            return None
        return self._put_patch(column_patches.encode(table, base.object, sources), chunk_id, hashes, base, None)

    def _put_patch(self, data: bytes, chunk_id: str, hashes: np.ndarray, base: ChunkRef, seq: int | None) -> ChunkRef:
        """Store a patch object of either kind on ``base``; its hashes are remembered, not stored."""
        oid = self._put(data)
        patches.remember_hashes(oid, hashes)
        with self._lock:
            self.stats.chunks_written += 1
            self.stats.chunks_patched += 1
        return ChunkRef(
            id=chunk_id,
            object=oid,
            hashes=ObjectId(""),
            rows=len(hashes),
            bytes=len(data),
            bases=tuple(dict.fromkeys(base.objects())),
            depth=base.depth + 1,
            seq=seq,
        )

    def _put(self, data: bytes) -> ObjectId:
        store = self.repo.store
        oid, new = store.put(data)
        if new:
            with self._lock:
                self._count_new(store.path(oid), len(data))
        return oid

    def _count_new(self, path: Path, size: int) -> None:
        self.stats.new_objects += 1
        self.stats.new_bytes += size
        self.stats.new_paths.append(path)
        self._early_sync.add(path)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._early_sync.stop()

    def discard_new(self) -> None:
        """Remove the objects stored since the last `flush_to_disk`, once the workers are done: a
        commit refused part-way (two files typing a column irreconcilably) leaves the store as it
        found it. Only under the repository lock, where nothing else can refer to them yet."""
        self.close()
        self._early_sync = EarlySync()  # an fsync that failed matters no more
        for path in self.stats.new_paths:
            path.unlink(missing_ok=True)
        self.stats.new_paths.clear()

    def flush_to_disk(self) -> None:
        """Make every new object durable before anything can refer to it (objects before refs)."""
        early, self._early_sync = self._early_sync, EarlySync()
        early.stop()
        sync_files(self.stats.new_paths, synced=early.synced_files())
        self.stats.new_paths.clear()


def batch_rows_for(schema: pa.Schema, metadata: FileMetaData | None = None) -> int:
    """Rows per batch for files of ``schema``: `BATCH_ROWS`, or fewer for a wide table, so a
    batch stays near `BATCH_BYTES`. Judged from the types (text counted at 32 bytes a value), so
    commits of a file cut their batches alike: statistics, gathered batch by batch, are then the
    same for the same rows, resumed or not. A power of two, down to 1,024 rows, and below that
    only for a file whose rows are larger (``metadata``: images, documents, embeddings in a
    column), which 1,024 rows of 256 KiB would make a 256 MB batch."""
    width = sum(_value_bytes(f.type) for f in schema) or 1
    rows = BATCH_ROWS
    while rows > 1024 and rows * width > BATCH_BYTES:
        rows //= 2
    row_bytes = _largest_row_bytes(metadata) if metadata is not None else 0
    while rows > 1 and rows * row_bytes > BATCH_BYTES:
        rows //= 2
    return rows


def _largest_row_bytes(metadata: FileMetaData) -> float:
    """The uncompressed bytes per row of the file's widest row group, as its footer says."""
    groups = (metadata.row_group(i) for i in range(metadata.num_row_groups))
    return max((g.total_byte_size / g.num_rows for g in groups if g.num_rows), default=0.0)


@functools.lru_cache(maxsize=1024)  # per type: a folder's small files each ask for every column
def _value_bytes(data_type: pa.DataType) -> int:
    if pa.types.is_dictionary(data_type):
        return _value_bytes(data_type.index_type)
    if pa.types.is_struct(data_type):
        return sum(_value_bytes(data_type.field(i).type) for i in range(data_type.num_fields)) or 1
    try:
        return max(1, data_type.bit_width // 8)
    except ValueError:  # variable width: text, binary, lists, maps
        return 32


def hash_file(
    path: Path, encoding: int = ENCODING_VERSION, record: resume.Record | None = None
) -> tuple[str, pa.Schema, int]:
    """(content id in ``encoding``, schema, rows) of one Parquet file: the read-only path `status`
    uses. With the file's resume ``record`` (encoding 2), the rows before its point are not read
    again when their row groups kept their bytes."""
    parquet = open_parquet(path)
    hasher = StreamHasher(parquet.schema_arrow, encoding)
    first_row = 0
    if record is not None and encoding == 2:
        groups = resume.fingerprints(path, parquet, record.point.group)
        known = resume.known_prefix(record, resume.schemas_digest(parquet), groups)
        if known is not None:
            hasher = StreamHasher.resumed(parquet.schema_arrow, known)
            first_row = hasher.rows
    # Decoded ahead on a reader thread, as a commit does: the hashing overlaps the decoding.
    batch_rows = batch_rows_for(parquet.schema_arrow, parquet.metadata)
    for batch in iter_batches(parquet, path, batch_rows, read_ahead=READ_AHEAD, first_row=first_row):
        hasher.update(batch)
    # The decoded batches are gone; give their pages back to the system, not to the next phase.
    pa.default_memory_pool().release_unused()
    return hasher.hexdigest(), parquet.schema_arrow, hasher.rows


class BackgroundStats:
    """Feeds batches to column statistics on a thread of their own, in order. The statistics are
    Arrow kernels, which release the GIL, so they run beside the hashing of the same batches.

    ``keep_at``: rows (counted from the file's first) after which to keep a copy of the state,
    in ``states``, for a later commit to resume from (`resume`); ``first_row``: where the rows
    fed start. ``inline``: update on the calling thread instead (a file of one batch, where a
    thread's start and hand-overs cost more than the overlap saves)."""

    def __init__(
        self,
        stats: TableStats,
        first_row: int = 0,
        keep_at: set[int] | None = None,
        *,
        inline: bool = False,
    ) -> None:
        self.stats = stats
        self._pool = None if inline else ThreadPoolExecutor(max_workers=1, thread_name_prefix="datakeep-stats")
        self._queued: deque[Future[None]] = deque()
        self._position = first_row
        self._keep_at = keep_at or set()
        self.states: dict[int, list[dict[str, Any]]] = {}
        if first_row in self._keep_at:
            self.states[first_row] = stats.state()

    def add(self, batch: pa.RecordBatch) -> None:
        if self._pool is None:
            self._update(batch)
            return
        while len(self._queued) >= MAX_IN_FLIGHT:
            self._queued.popleft().result()
        self._queued.append(self._pool.submit(self._update, batch))

    def _update(self, batch: pa.RecordBatch) -> None:
        self.stats.update(batch)
        self._position += batch.num_rows
        if self._position in self._keep_at:
            self.states[self._position] = self.stats.state()

    def __enter__(self) -> BackgroundStats:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pool is None:
            return
        try:
            if exc_info[0] is None:
                for queued in self._queued:
                    queued.result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)


class BatchHashes:
    """The whole-row hashes of one decoded batch, computed once, by the first chunk writer that
    needs them. Hashing batch by batch, not chunk by chunk, keeps the per-column cost of a call
    small when chunks are short (a 400-column table cuts 3,000-row chunks: 2.8x the CPU), and
    rows of chunks found unchanged are never hashed."""

    def __init__(
        self, batch: pa.RecordBatch, plan: DictionaryPlan, file_hashes: np.ndarray | None = None, first_row: int = 0
    ) -> None:
        self._batch: pa.RecordBatch | None = batch
        self._plan = plan
        self._hashes: np.ndarray | None = None
        self._lock = threading.Lock()
        #: The file's row-hash array (`RowIndexBuilder.reserve`), if any, and the batch's first
        #: row in it: its hashes are written there.
        self.file_hashes = file_hashes
        self.first_row = first_row

    def get(self) -> np.ndarray:
        with self._lock:
            if self._hashes is None:
                assert self._batch is not None
                out = None
                if self.file_hashes is not None:
                    out = self.file_hashes[self.first_row : self.first_row + self._batch.num_rows]
                self._hashes = row_hashes(self._batch, plan=self._plan, out=out)
                self._batch = None
            return self._hashes


def _joined(parts: list[tuple[BatchHashes, int, int]]) -> np.ndarray:
    """The row hashes of a chunk made of rows ``start:stop`` of each part's batch."""
    pieces = [source.get()[start:stop] for source, start, stop in parts]
    if len(pieces) == 1:
        return pieces[0]
    (first, start, _), (last, _, stop) = parts[0], parts[-1]
    shared = first.file_hashes
    if shared is not None and all(source.file_hashes is shared for source, _, _ in parts):
        # Consecutive rows of the file's array (batches follow each other): a slice, no copy.
        return shared[first.first_row + start : last.first_row + stop]
    return np.concatenate(pieces)


@dataclass
class PendingFile:
    """A file read and hashed whose new chunks may still be being stored: only what its entry
    and resume record need once they are (a folder's files wait here, thousands at a time)."""

    entry: FileEntry  # without its chunks
    slots: list[ChunkRef | Future[WrittenChunk]]
    resume_at: tuple[Path, str] | None  # (.datakeep folder, record key) where records are kept
    resume_record: Callable[[list[int]], resume.Record | None] | None  # given the chunks' rows

    def result(self) -> FileEntry:
        """The file's entry, once every chunk is stored; its resume record saved (or cleared)."""
        chunks = tuple(s.result().ref if isinstance(s, Future) else s for s in self.slots)
        if self.resume_at is not None:
            record = self.resume_record([c.rows for c in chunks]) if self.resume_record is not None else None
            resume.save(*self.resume_at, record)
        return dataclasses.replace(self.entry, chunks=chunks)


class FileChunker:
    """Streams one Parquet file into chunks, hashing the whole file and each chunk as it goes."""

    def __init__(
        self,
        *,
        path: Path,
        relpath: str,
        key: tuple[str, ...],
        params: ChunkParams | None,
        known: dict[str, ChunkRef],
        writer: ChunkWriter,
        previous: tuple[ChunkRef, ...] = (),
        rows: RowIndexBuilder | None = None,
        target_bytes: int = 0,
        encoding: int,
        dk: Path | None = None,
        resume_key: str = "",
        previous_entry: FileEntry | None = None,
        dictionaries: dict[pa.Schema, list[str]] | None = None,
        folder_files: int = 1,
        on_rows: Callable[[int, int], None] | None = None,
    ) -> None:
        self.encoding = encoding
        #: Where resume records live (`resume`), under which name, and the parent's entry for this
        #: file they must match; without ``dk`` (or in encoding 1, which has no blocks) none is used.
        self.dk = dk if encoding == 2 else None
        self.resume_key = resume_key
        self.previous_entry = previous_entry
        self.rows = rows
        self.target_bytes = target_bytes
        self.previous = previous
        self._previous_position = {chunk.id: i for i, chunk in enumerate(previous)}
        self._previous_starts = np.cumsum([0] + [c.rows for c in previous[:-1]]) if previous else np.zeros(0)
        self._emitted_rows = 0
        self._dictionary: list[str] | None = None  # columns stored with dictionary pages
        self._file_hashes: np.ndarray | None = None  # the row hashes of the file, as they are computed
        #: Choices of dictionary columns already made in this commit, by schema: the files of a
        #: folder share one (the probe cost 3 ms a file, most of a small part file's commit).
        self._dictionaries = dictionaries if dictionaries is not None else {}
        self._folder_files = folder_files  # how many files the dataset has (see stats.finish)
        self._on_rows = on_rows  # told (rows read, rows in the file) after each batch
        self._shift = 0  # old row position minus new row position, as of the last kept chunk
        #: The parent's columns, when chunks may be column patches on the parent's
        #: (`column_patches`); and whether they may be row patches (not after a retype).
        self._columns_from: pa.Schema | None = None
        self._row_patches = True
        self.path = path
        self.relpath = relpath
        self.key = key
        self.params = params
        self.known = known
        self.writer = writer

    def _same_cell_types(self, batch_schema: pa.Schema) -> bool:
        """Whether the parent's version of the file had, column by column, the types of
        ``batch_schema`` (names may differ: a renamed column keeps its cells)."""
        old = self._parent_schema()
        if old is None:
            return False
        return len(old) == len(batch_schema) and all(a.type == b.type for a, b in zip(old, batch_schema, strict=True))

    def _parent_schema(self) -> pa.Schema | None:
        """The columns of the parent's version of the file, as its batches were typed."""
        if self.previous_entry is None:
            return None
        old = decode_schema(self.previous_entry.schema)
        return without_views(old) or old

    def _column_patch_base(self, batch_schema: pa.Schema) -> pa.Schema | None:
        """The parent's columns, when this version's chunks may be column patches on its chunks: a
        keyed file (its chunks are cut by key, so they keep their rows when columns change) whose
        key columns kept their types, and some other column its name and type."""
        old = self._parent_schema()
        if old is None or not self.key:
            return None
        same = {f.name for f in batch_schema if old.get_field_index(f.name) >= 0 and old.field(f.name).type == f.type}
        return old if set(self.key) <= same and len(same) > len(set(self.key)) else None

    def _forget_previous(self) -> None:
        self.previous = ()
        self._previous_position = {}
        self._previous_starts = np.zeros(0)

    def run(self) -> tuple[Callable[[], FileEntry], ChunkParams]:
        """Read and hash the file and hand its new chunks to the writer. Returns a function that
        waits for them to be stored and gives the file's entry: the caller reads the next file
        meanwhile (waiting here kept the writer idle while a folder's next small file was read)."""
        parquet = open_parquet(self.path)
        schema = parquet.schema_arrow
        missing = [k for k in self.key if k not in schema.names]
        if missing:
            raise DatasetError(
                f"{self.path}: key column(s) {', '.join(missing)} not in the data (columns: {', '.join(schema.names)})",
                "fix --key when adding the dataset",
            )
        total_rows = parquet.metadata.num_rows
        params = self.params or _params_for(parquet, self.target_bytes)
        chunker = Chunker(params)
        # The batches' schema: the file's, with view types as their large equivalents (the
        # manifest keeps the file's own schema, to restore).
        batch_schema = without_views(schema) or schema
        if self.previous:
            # Row hashes see a cell's bits, not its type: 7 under duration[s] and under
            # duration[ms] hash alike, and a patch copies a row whose hash is unchanged from its
            # base, cast into the new type (7 s became 7000 ms). So a chunk is row-patched only
            # against chunks whose columns had the same types; after a retype it is stored whole,
            # or as a column patch when the retyped (added, dropped) columns are what changed.
            self._row_patches = self._same_cell_types(batch_schema)
            self._columns_from = self._column_patch_base(batch_schema)
            if not self._row_patches and self._columns_from is None:
                self._forget_previous()
        batch_rows = batch_rows_for(batch_schema, parquet.metadata)
        # Decoding starts here, from the first row, while the resume record is looked at: its
        # fingerprints read the row groups' bytes again (15 ms at 5M rows) with the second core
        # idle. Nearly every commit reads from the first row; one that resumes drops these.
        early = started_batches(parquet, self.path, batch_rows, READ_AHEAD) if total_rows > batch_rows else None
        try:
            return self._read(parquet, schema, batch_schema, total_rows, params, chunker, batch_rows, early)
        finally:
            if early is not None:
                early.close()

    def _read(
        self,
        parquet: ParquetSource,
        schema: pa.Schema,
        batch_schema: pa.Schema,
        total_rows: int,
        params: ChunkParams,
        chunker: Chunker,
        batch_rows: int,
        early: ReadAhead | None,
    ) -> tuple[Callable[[], FileEntry], ChunkParams]:
        file_hasher = StreamHasher(batch_schema, self.encoding)
        from datakeep.stats import TableStats  # here: `status` hashes files without pyarrow.compute

        table_stats = TableStats(batch_schema)
        slots: list[ChunkRef | Future[WrittenChunk]] = []
        pending: list[pa.RecordBatch] = []
        # Per pending slice: its whole-row hashes, already known (no key: they are the boundary
        # hashes) or rows of its batch's hashes, computed when a writer needs them.
        pending_hashes: list[np.ndarray] = []
        pending_parts: list[tuple[BatchHashes, int, int]] = []
        position = 0
        probe = resume.Probe.of(self.path, parquet, params.to_dict(), self.key) if self.dk is not None else None
        resumed = None
        if probe is not None and self.dk is not None:
            record = resume.load(self.dk, self.resume_key)
            resumed = probe.start(record, self.previous_entry)
            if record is not None and record.schemas == probe.schemas and self._dictionary is None:
                # The choice made when this file was last committed, under the same schema: the
                # probe (pyarrow.compute's import and a look at 4,096 rows a column, 40 ms before
                # the first chunk) would judge the new version's first batch alike, nearly always.
                self._dictionary = list(record.dictionary)
        if resumed is not None:
            try:
                table_stats.restore(resumed.stats)
            except ValueError:
                resumed = None
        hash_only_until = 0
        if resumed is not None:
            # The rows before the cut are the parent's chunks; those from the resumed row to the
            # cut are still hashed into the file's id, whose blocks before that row are known.
            file_hasher = StreamHasher.resumed(batch_schema, resumed.blocks)
            slots.extend(resumed.chunks)
            self.writer.stats.chunks_reused += len(resumed.chunks)
            self.writer.stats.rows_resumed += resumed.row
            if self.rows is not None:
                self.rows.skip(len(resumed.chunks))
            chunker.position = chunker.last_cut = resumed.cut
            self._emitted_rows = resumed.cut
            self._dictionary = resumed.dictionary
            position, hash_only_until = resumed.row, resumed.cut
        keep_at = probe.wanted_rows(params.max_rows, position) if probe else set()
        # A file of one batch is read, hashed and counted on this thread: with a folder of
        # thousands of small files, starting threads and handing each file between them took
        # most of a commit (the chunk writer's workers still overlap one file with the next).
        small = total_rows - position <= batch_rows
        hash_plan: DictionaryPlan = {}
        # Whole-row hashes go straight into the row index's array, when one is being built.
        file_hashes = self.rows.reserve(total_rows) if self.rows is not None else None
        self._file_hashes = file_hashes
        batches: Iterable[pa.RecordBatch]
        if early is not None and position == 0:
            batches = early
        else:
            if early is not None:
                early.close()  # resumed: the rows it decoded are not wanted
            batches = iter_batches(
                parquet,
                self.path,
                batch_rows,
                read_ahead=0 if small else READ_AHEAD,
                first_row=position,
                aligned=True,
                use_threads=not small,
            )
        with BackgroundStats(table_stats, position, keep_at, inline=small) as background_stats:
            for batch in batches:
                background_stats.add(batch)
                if self._on_rows is not None:
                    self._on_rows(position + batch.num_rows, total_rows)
                if position < hash_only_until:
                    head = min(batch.num_rows, hash_only_until - position)
                    file_hasher.update(batch.slice(0, head))
                    position += head
                    if head == batch.num_rows:
                        continue
                    batch = batch.slice(head)
                if self._dictionary is None:
                    # Judged once per file, on its first batch: the same choice for every chunk
                    # whichever worker stores it first, at the cost of one probe per column
                    # (per chunk, that was 3 s of a 16 s commit of a 400-column table).
                    if batch_schema not in self._dictionaries:
                        self._dictionaries[batch_schema] = dictionary_columns(pa.Table.from_batches([batch]))
                    self._dictionary = self._dictionaries[batch_schema]
                if file_hashes is not None and position + batch.num_rows > len(file_hashes):
                    raise InputDataError(str(self.path), f"footer says {total_rows} rows but more were read")
                into = None if self.key or file_hashes is None else file_hashes[position : position + batch.num_rows]
                boundary = row_hashes(batch, list(self.key) if self.key else None, hash_plan, out=into)
                whole_rows = BatchHashes(batch, hash_plan, file_hashes, position) if self.key else None
                start = 0
                for cut in [*chunker.push(boundary), None]:
                    local = batch.num_rows if cut is None else cut - position
                    if local > start:
                        pending.append(batch.slice(start, local - start))
                        if whole_rows is None:
                            pending_hashes.append(boundary[start:local])
                        else:
                            pending_parts.append((whole_rows, start, local))
                    if cut is not None:
                        slots.append(self._emit(batch_schema, pending, pending_hashes, pending_parts, file_hasher))
                        pending, pending_hashes, pending_parts = [], [], []
                        start = local
                position += batch.num_rows
            if pending:
                slots.append(self._emit(batch_schema, pending, pending_hashes, pending_parts, file_hasher))
        if file_hasher.rows != total_rows:
            raise InputDataError(str(self.path), f"footer says {total_rows} rows but {file_hasher.rows} were read")
        file_id = file_hasher.hexdigest()
        resume_record = None
        if probe is not None:
            resume_record = functools.partial(
                probe.record,
                self.path,
                file_id,
                blocks=file_hasher.blocks,
                stats_at=background_stats.states,
                dictionary=self._dictionary or (),
            )
        waiting = PendingFile(
            entry=FileEntry(
                path=self.relpath,
                id=file_id,
                rows=file_hasher.rows,
                schema=encode_schema(schema),
                chunks=(),
                stats=table_stats.finish(files=self._folder_files),
            ),
            slots=slots,
            resume_at=(self.dk, self.resume_key) if self.dk is not None else None,
            resume_record=resume_record,
        )
        return waiting.result, params

    def _predecessor(self, middle: int) -> ChunkRef | None:
        """The old chunk holding the rows this new chunk most likely came from: the base for a
        row-level patch. Inserts and deletes shift rows only a little, and every kept chunk
        re-anchors the shift, so the old chunk at the same (shifted) position is the one, even
        when a boundary appeared or vanished."""
        if not self.previous:
            return None
        index = int(np.searchsorted(self._previous_starts, middle + self._shift, side="right")) - 1
        return self.previous[min(max(index, 0), len(self.previous) - 1)]

    def _emit(
        self,
        schema: pa.Schema,
        batches: list[pa.RecordBatch],
        row_hash_parts: list[np.ndarray],
        batch_hash_parts: list[tuple[BatchHashes, int, int]],
        file_hasher: StreamHasher,
    ) -> ChunkRef | Future[WrittenChunk]:
        table = pa.Table.from_batches(batches, schema=schema)
        chunk_hasher = StreamHasher(schema, self.encoding)
        update_all([file_hasher, chunk_hasher], table)
        chunk_id = chunk_hasher.hexdigest()
        start = self._emitted_rows
        self._emitted_rows += table.num_rows
        known = self.known.get(chunk_id)
        if known is not None:
            if self.rows is not None:
                self.rows.add(table.select(list(self.key)), None)
            self.writer.stats.chunks_reused += 1
            if chunk_id in self._previous_position:
                self._shift = int(self._previous_starts[self._previous_position[chunk_id]]) - start
            return known
        predecessor = self._predecessor(start + table.num_rows // 2)
        # Without a key the boundary hashes already are whole-row hashes; with one, the writer's
        # worker hashes the rows' batches (off this thread, which reads and hashes the stream).
        hashes = None
        if not self.key and self._file_hashes is not None:
            hashes = self._file_hashes[start : start + table.num_rows]  # where its boundary hashes went
        elif not self.key:
            hashes = row_hash_parts[0] if len(row_hash_parts) == 1 else np.concatenate(row_hash_parts)
        collecting = self.rows is not None and self.rows.collecting
        written = self.writer.submit(
            table,
            chunk_id,
            hashes if hashes is not None else functools.partial(_joined, batch_hash_parts),
            predecessor,
            keep_hashes=collecting,
            dictionary=self._dictionary,
            base_schema=self._columns_from,
            row_patch=self._row_patches,
        )
        if self.rows is not None:
            self.rows.add(table.select(list(self.key)), hashes if hashes is not None else written)
        return written


def _cached_entry(
    cached: dict[str, Any] | None, previous: FileEntry | None, parent: Manifest | None, kind: str
) -> FileEntry | None:
    """The entry the stat cache vouches for, with its statistics; None when the file must be read.
    ``previous`` is the parent's entry for this file (or for the file a renamed one replaced).

    The index keeps entries without statistics (`Index.remember`): on an 8-column table they were
    6 KB of every file's 6.3, and `status` parses the index whole. An unchanged file's statistics
    are those it had in the parent snapshot, whose manifest holds them (a single file's as the
    dataset's), so they are taken from there when the parent holds that content at that path.
    """
    if cached is None:
        return None
    if parent is None or previous is None or previous.id != cached.get("id") or previous.schema != cached.get("schema"):
        return None
    stats = parent.stats if kind == "file" and parent.kind == "file" else previous.stats
    return FileEntry.from_dict({**cached, "stats": stats})


def _params_for(parquet: ParquetSource, target_bytes: int) -> ChunkParams:
    meta = parquet.metadata
    rows = max(meta.num_rows, 1)
    uncompressed = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
    return ChunkParams.for_row_width(uncompressed / rows if uncompressed else 64.0, target_bytes)


@dataclass(frozen=True, slots=True)
class _FilePlan:
    """One file of a dataset being snapshot, and whether it must be read (no ``cached`` entry)."""

    inner: str  # path inside the dataset
    absolute: Path
    relpath: str  # path in the project, as the index knows it
    signature: Signature
    recorded: int  # when its stat was taken (the index's racy-clean rule)
    previous: FileEntry | None  # the parent's entry for it
    cached: FileEntry | None


def refuse_if_changed(path: Path, signature: Signature, doing: str = "read") -> None:
    """A file written to (or removed) while it was read may have given half of each version,
    or bytes that look damaged: either way, say what happened."""
    if not still_matches(path, signature):
        raise InputDataError(
            str(path),
            f"changed while it was being {doing}",
            "commit again once whatever writes it has finished (nothing was committed)",
        )


def build_snapshot(
    repo: Repository,
    name: str,
    tracked: TrackedDataset,
    *,
    parent: Manifest | None,
    index: Index,
    writer: ChunkWriter,
    validated: dict[str, str] | None = None,
    known_elsewhere: dict[str, ChunkRef] | None = None,
    parent_rows: RowIndex | None = None,
    older_hashes: dict[str, tuple[np.ndarray, Callable[[], bool]]] | None = None,
    rows: RowIndexBuilder | None = None,
    found: tuple[str, list[tuple[str, Path]]] | None = None,
    progress: Progress | None = None,
) -> Manifest:
    """Snapshot the working copy of one tracked dataset, storing only chunks not stored yet.

    ``known_elsewhere`` holds chunks of other datasets in the same commit, so the same rows
    tracked twice (a copy, another string encoding) are stored once. ``parent_rows`` (the
    parent's cached row index) spares rebuilding the hashes of patched predecessors, and
    ``older_hashes`` (`rowcache.older_base_hashes`) those of older bases; ``rows`` collects this
    snapshot's row index; ``found`` is what `tracking.dataset_files` already said;
    ``progress`` hears the bytes of the files read (labelled with the dataset's name).
    """
    # Hashes from cached row indexes are checked against their digests when first used.
    for oid, (hashes, check) in (older_hashes or {}).items():
        patches.remember_hashes(ObjectId(oid), hashes, check=check)
    if parent is not None and parent_rows is not None:
        for position, chunk in enumerate(parent.chunks):
            check = functools.partial(parent_rows.check_chunk, position)
            patches.remember_hashes(chunk.object, parent_rows.chunk_hashes(position), check=check)
    kind, files = dataset_files(repo.root, tracked, name, found)
    known = {**(known_elsewhere or {}), **({chunk.id: chunk for chunk in parent.chunks} if parent else {})}
    previous_entries = {entry.path: entry for entry in parent.files} if parent else {}
    params = ChunkParams.from_dict(parent.chunking) if parent and parent.chunking else None
    # Which files must be read, decided before any is: a progress display then knows how many
    # bytes are coming.
    plans: list[_FilePlan] = []
    for inner, absolute in files:
        relpath = repo.relpath(absolute)
        signature = file_signature(absolute)
        previous_entry = previous_entries.get(inner)
        if previous_entry is None and kind == "file" and parent is not None and parent.kind == "file":
            previous_entry = parent.files[0]  # the tracked file was renamed
        cached = _cached_entry(index.lookup(relpath, signature), previous_entry, parent, kind)
        if cached is not None and not all(repo.store.has(oid) for c in cached.chunks for oid in c.objects()):
            cached = None
        plans.append(_FilePlan(inner, absolute, relpath, signature, time.time_ns(), previous_entry, cached))
    to_read = sum(plan.signature[0] for plan in plans if plan.cached is None)
    if progress is not None and to_read:
        progress.begin(name, to_read)
    slots: list[FileEntry | None] = []
    # Files read whose chunks may still be being stored (position, wait, plan): the next file is
    # read meanwhile, and the index remembers a file once its chunks are stored.
    waiting: list[tuple[int, Callable[[], FileEntry], _FilePlan]] = []
    dictionaries: dict[pa.Schema, list[str]] = {}
    try:
        for plan in plans:
            if plan.cached is not None:
                writer.stats.files_cached += 1
                # The entry as the dataset names the file: a folder's file keeps its path, so its
                # entry is taken as it is (a copy of each was 0.2 s of a 20,000-file commit).
                same_path = plan.cached.path == plan.inner
                slots.append(
                    plan.cached if same_path else FileEntry.from_dict({**plan.cached.to_dict(), "path": plan.inner})
                )
                if rows is not None:
                    rows.skip(len(plan.cached.chunks))
                continue
            meter = FileMeter(progress, plan.signature[0]) if progress is not None else None
            try:
                stored, params = FileChunker(
                    path=plan.absolute,
                    relpath=plan.inner,
                    key=tracked.key,
                    params=params,
                    known=known,
                    writer=writer,
                    previous=plan.previous.chunks if plan.previous is not None else (),
                    rows=rows,
                    target_bytes=int(repo.config.extra.get("chunk_bytes") or 0),
                    encoding=repo.config.encoding,
                    dk=repo.dk,
                    resume_key=resume.record_key(name, plan.relpath),
                    previous_entry=plan.previous,
                    dictionaries=dictionaries,
                    folder_files=len(files) if kind == "folder" else 1,
                    on_rows=meter,
                ).run()
            except DatakeepError:
                refuse_if_changed(plan.absolute, plan.signature)  # torn bytes look damaged: say so
                raise
            if meter is not None:
                meter.finish()
            refuse_if_changed(plan.absolute, plan.signature)
            writer.stats.files_read += 1
            waiting.append((len(slots), stored, plan))
            slots.append(None)
    finally:
        if progress is not None and to_read:
            progress.end()
    for position, stored, plan in waiting:
        slots[position] = entry = stored()
        index.remember(plan.relpath, plan.signature, entry.to_dict(), plan.recorded)
    entries = [entry for entry in slots if entry is not None]
    # The decoded batches and chunk tables are gone: hand their memory back to the system now, so
    # the change summary that follows does not stack its peak on top of it (mimalloc and jemalloc
    # otherwise keep freed pages for a while).
    pa.default_memory_pool().release_unused()
    # A folder's columns are the union of its files' (one file: its own); refused here, before
    # anything refers to the new chunks, when two files type a column irreconcilably.
    union = union_schema(file_schemas(entries), f"dataset '{name}'")
    if params is None:
        params = ChunkParams.for_row_width(64.0)
    snapshot_id = entries[0].id if kind == "file" else folder_id(entries)
    from datakeep.stats import merge as merge_stats

    dataset_stats = merge_stats([e.stats for e in entries], union=union, rows=[e.rows for e in entries])
    if kind == "file":
        # One file: its statistics are the dataset's; keep them once.
        entries = [FileEntry.from_dict({**entries[0].to_dict(), "stats": {}})]
    return Manifest(
        id=snapshot_id,
        name=name,
        path=tracked.path,
        kind=kind,
        key=tracked.key,
        columns=tuple(schema_columns(union)),
        rows=sum(e.rows for e in entries),
        files=tuple(entries),
        stats=dataset_stats,
        chunking=params.to_dict(),
        entity=tracked.entity,
        source=tracked.source,
        validated=validated,
    )


def folder_id(entries: list[FileEntry] | tuple[FileEntry, ...]) -> str:
    return tracking.folder_id([(e.path, e.id) for e in entries])


def file_schemas(entries: list[FileEntry] | tuple[FileEntry, ...]) -> list[tuple[str, pa.Schema]]:
    """(path, exact schema) of each file; a folder's files mostly share one schema, decoded once."""
    decoded: dict[str, pa.Schema] = {}
    for entry in entries:
        if entry.schema not in decoded:
            decoded[entry.schema] = decode_schema(entry.schema)
    return [(e.path, decoded[e.schema]) for e in entries]


def working_snapshot_id(
    repo: Repository,
    name: str,
    tracked: TrackedDataset,
    index: Index,
    found: tuple[str, list[tuple[str, Path]]] | None = None,
) -> str:
    """The snapshot id the working copy would get, reading only files whose stat changed;
    ``found`` is what `tracking.located` already said about its path."""
    kind, files = dataset_files(repo.root, tracked, name, found)
    entries: list[tuple[str, str]] = []
    for inner, absolute in files:
        relpath, signature = repo.relpath(absolute), file_signature(absolute)
        cached = index.lookup(relpath, signature)
        if cached is not None:
            entries.append((inner, cached["id"]))
            continue
        started = time.time_ns()
        record = resume.load(repo.dk, resume.record_key(name, relpath)) if repo.config.encoding == 2 else None
        file_id, schema, _ = hash_file(absolute, repo.config.encoding, record)
        if file_signature(absolute) == signature:  # not written to while it was read
            racy = index.racy(relpath, signature)
            if racy is not None and racy["id"] == file_id:
                index.confirm(relpath, started)
            else:
                index.refresh(relpath, signature, file_id, encode_schema(schema), started)
        entries.append((inner, file_id))
    return tracking.snapshot_id_of(kind, entries)
