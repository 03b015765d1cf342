"""Opening user Parquet files with errors that say what is wrong and what to do."""

from __future__ import annotations

import collections
import functools
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from datakeep import kernels
from datakeep.arrow_numpy import arrow_array
from datakeep.errors import InputDataError
from datakeep.hashing import type_is
from datakeep.parquet_source import FileMetaData, ParquetSource, object_errors, stored_object

MAGIC = b"PAR1"
#: Column chunks of user files are read through a buffer of this size instead of whole: a row
#: group of a 400-column file is otherwise read and held column chunk by column chunk, which took
#: 6.5 s to stream 200,000 rows (10.9 s CPU); buffered 1.4 s. Narrow files read as fast, in less
#: memory (5M-row bench file: 265 -> 205 MB).
READ_BUFFER_BYTES = 1024 * 1024
#: What the buffers of all of a file's columns may take together: every column keeps its own, so
#: a 1,000-column file read with 1 MiB buffers held a gigabyte in them alone. A wide file's
#: columns get smaller buffers (down to `MIN_READ_BUFFER_BYTES`), which read as fast (401
#: columns: 64 KiB to 1 MiB all stream 200,000 rows in 1.3 s).
READ_BUFFERS_BUDGET = 64 * 1024 * 1024
MIN_READ_BUFFER_BYTES = 64 * 1024


def read_buffer_bytes(leaf_columns: int) -> int:
    """The read buffer of each column of a file with ``leaf_columns`` Parquet columns."""
    return max(MIN_READ_BUFFER_BYTES, min(READ_BUFFER_BYTES, READ_BUFFERS_BUDGET // max(1, leaf_columns)))


def streaming_parquet(path: Path | str, metadata: FileMetaData | None = None) -> ParquetSource:
    """``path`` opened to be streamed: pages read through per-column buffers sized for its width
    (``metadata``, its parsed footer, when the caller has it). Raises pyarrow's errors."""
    # pre_buffer off: with it, pyarrow keeps every row group's bytes it has read until the file
    # is closed, so streaming a 20M-row file through iter_batches held 830 MB.
    if metadata is not None:
        return ParquetSource(
            path, metadata=metadata, pre_buffer=False, buffer_size=read_buffer_bytes(metadata.num_columns)
        )
    # Opened once with the widest buffers, and again (its footer parsed once) only when it has
    # too many columns for them: a folder of small part files opened each file twice, a tenth of
    # reading one.
    source = ParquetSource(path, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)
    narrower = read_buffer_bytes(source.metadata.num_columns)
    if narrower == READ_BUFFER_BYTES:
        return source
    return ParquetSource(path, metadata=source.metadata, pre_buffer=False, buffer_size=narrower)


@functools.cache
def scratch_pool() -> pa.MemoryPool:
    """A memory pool for short-lived decodes that only a few rows are kept from (a diff's
    changed chunks). Arrow's default pool here is mimalloc, which keeps freed pages per thread:
    decoding chunk after chunk on two threads then holds several times what is live. jemalloc
    (or the system allocator where the wheel lacks it) gives them back, no slower here."""
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return pa.system_memory_pool()
    if pa.default_memory_pool().backend_name != "jemalloc":
        # Purge freed pages at once. The setting is process-wide, so only when jemalloc is ours
        # alone: a host that chose jemalloc as Arrow's default keeps its own tuning.
        pa.jemalloc_set_decay_ms(0)
    return pool


def scratch_reader(source: str | pa.NativeFile) -> Any:
    """A low-level Parquet reader (``pyarrow._parquet.ParquetReader``) decoding into
    `scratch_pool`, reading pages as needed rather than a row group's worth ahead."""
    from pyarrow._parquet import ParquetReader

    reader = ParquetReader(memory_pool=scratch_pool())
    with object_errors(stored_object(source)):  # a damaged chunk named, with its repair
        reader.open(source, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)
    narrower = read_buffer_bytes(reader.metadata.num_columns)
    if narrower < READ_BUFFER_BYTES:  # a wide chunk: smaller buffers, the footer parsed once
        metadata = reader.metadata
        reader = ParquetReader(memory_pool=scratch_pool())
        reader.open(source, pre_buffer=False, buffer_size=narrower, metadata=metadata)
    return reader


def take_columns(
    source: str | pa.NativeFile, columns: Sequence[str | int], rows: np.ndarray, *, row_group: int | None = None
) -> pa.Table:
    """Rows ``rows`` (any order) of the given columns (names, or positions in the file's schema),
    decoding one column at a time into `scratch_pool`: for a few rows out of many, the peak is
    one decoded column rather than all (nor all pages read ahead). Columns keep the file's names."""
    with object_errors(stored_object(source)):
        return _take_columns(scratch_reader(source), columns, rows, row_group)


def _take_columns(reader: Any, columns: Sequence[str | int], rows: np.ndarray, row_group: int | None) -> pa.Table:
    names = reader.schema_arrow.names
    # Parquet numbers leaf columns: a struct, list or map column is all the leaves under its name.
    leaves: dict[str, list[int]] = {}
    for leaf, path in enumerate(reader.column_paths):
        leaves.setdefault(path[0], []).append(leaf)
    wanted = arrow_array(np.asarray(rows, dtype=np.int64))
    picked = [names[c] if isinstance(c, int) else c for c in columns]
    taken = []
    for name in picked:
        if row_group is None:
            column = reader.read_all(column_indices=leaves[name], use_threads=False).column(0)
        else:
            column = reader.read_row_group(row_group, column_indices=leaves[name], use_threads=False).column(0)
        taken.append(kernels.take(views_widened(pa.table([column], names=["c"])).column(0), wanted))
    return pa.table(taken, names=picked)


def open_parquet(path: Path) -> ParquetSource:
    """Open ``path`` as Parquet, or raise InputDataError with the reason in one line."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputDataError(
            str(path), "no such file", "check the path (it is relative to the repository root)"
        ) from None
    if size == 0:
        raise InputDataError(
            str(path),
            "is empty (0 bytes)",
            "re-export the file; an empty file is not a Parquet file",
        )
    with open(path, "rb") as handle:
        head = handle.read(4)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    if head != MAGIC:
        looks = "text (CSV?)" if _looks_like_text(path) else "some other format"
        raise InputDataError(
            str(path),
            f"is not a Parquet file (it starts with {head!r}; it looks like {looks})",
            "convert it to Parquet first (e.g. `datakeep map` for CSV, or pandas.read_csv(...).to_parquet(...))",
        )
    if tail != MAGIC or size < 12:
        raise InputDataError(
            str(path),
            "is truncated: the Parquet footer is missing",
            "copy or export the file again",
        )
    try:
        parquet = streaming_parquet(path)
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(path, exc) from None
    check_schema(schema, str(path))
    return parquet


def unreadable(path: Path, exc: Exception) -> InputDataError:
    """The error for a Parquet file pyarrow failed on: damaged, or using what pyarrow lacks
    (polars' 128-bit integers, a new encoding), which re-copying the file would not mend."""
    if isinstance(exc, pa.ArrowNotImplementedError):
        return InputDataError(
            str(path),
            f"uses something pyarrow {pa.__version__} cannot read ({exc})",
            "re-export it with supported types (e.g. 128-bit integers cast to int64 or decimal), or upgrade pyarrow",
        )
    return InputDataError(str(path), f"is damaged and cannot be read ({exc})")


def check_schema(schema: pa.Schema, where: str) -> None:
    duplicates = sorted(name for name, times in collections.Counter(schema.names).items() if times > 1)
    if duplicates:
        raise InputDataError(
            where,
            f"has duplicate column names: {', '.join(duplicates)}",
            "rename the columns so each name appears once",
        )


def _looks_like_text(path: Path) -> bool:
    with open(path, "rb") as handle:
        sample = handle.read(512)
    return bool(sample) and b"\x00" not in sample


def iter_batches(
    parquet: ParquetSource,
    path: Path,
    batch_rows: int,
    *,
    read_ahead: int = 0,
    first_row: int = 0,
    aligned: bool = False,
    use_threads: bool = True,
) -> Iterator[pa.RecordBatch]:
    """Record batches of the file from row ``first_row`` on, turning mid-file damage into
    InputDataError.

    With ``read_ahead`` > 0 a thread decodes up to that many batches ahead of the consumer:
    Parquet decoding releases the GIL, so it overlaps with the hashing and statistics the
    consumer does on each batch. With ``aligned``, every batch ends at a multiple of
    ``batch_rows`` (counted from the file's first row) or at the end of the file, whatever the
    row groups: what is computed batch by batch (statistics) is then the same for the same rows
    however the file was written, and whether a commit read it from the start or resumed it.
    ``use_threads`` False decodes on the calling thread alone (for a small file, handing columns
    to Arrow's thread pool costs more than it saves).
    """
    batches = _batches(parquet, path, batch_rows, first_row, use_threads)
    if aligned:
        batches = _aligned(batches, first_row, batch_rows)
    if read_ahead <= 0:
        yield from batches
        return
    yield from ReadAhead(batches, read_ahead)


def started_batches(parquet: ParquetSource, path: Path, batch_rows: int, read_ahead: int) -> ReadAhead:
    """`iter_batches` from the file's first row, aligned, ``read_ahead`` batches ahead, decoding
    from now on rather than from the first batch asked for: the caller prepares meanwhile."""
    return ReadAhead(_aligned(_batches(parquet, path, batch_rows, 0, True), 0, batch_rows), read_ahead)


def _batches(
    parquet: ParquetSource, path: Path, batch_rows: int, first_row: int, use_threads: bool
) -> Iterator[pa.RecordBatch]:
    storable = without_views(parquet.schema_arrow)
    meta = parquet.metadata
    group, skip = 0, first_row
    while group < meta.num_row_groups and skip >= meta.row_group(group).num_rows > 0:
        skip -= meta.row_group(group).num_rows
        group += 1
    try:
        for batch in parquet.iter_batches(
            batch_size=batch_rows, row_groups=range(group, meta.num_row_groups), use_threads=use_threads
        ):
            if skip:
                # The row group holding ``first_row`` is decoded whole; its rows before it are not wanted.
                dropped = min(skip, batch.num_rows)
                batch, skip = batch.slice(dropped), skip - dropped
                if not batch.num_rows:
                    continue
            yield batch if storable is None else batch.cast(storable)
    except (pa.ArrowException, OSError) as exc:
        raise unreadable(path, exc) from None


def _aligned(batches: Iterator[pa.RecordBatch], first_row: int, size: int) -> Iterator[pa.RecordBatch]:
    """``batches`` (starting at row ``first_row``) re-cut to end at multiples of ``size``."""
    position = first_row
    boundary = (first_row // size + 1) * size
    pending: list[pa.RecordBatch] = []
    pending_rows = 0
    for batch in batches:
        while batch.num_rows:
            take = min(batch.num_rows, boundary - position - pending_rows)
            pending.append(batch if take == batch.num_rows else batch.slice(0, take))
            pending_rows += take
            batch = batch.slice(take)
            if position + pending_rows == boundary:
                yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)
                position, boundary, pending, pending_rows = boundary, boundary + size, [], 0
    if pending:
        yield pending[0] if len(pending) == 1 else pa.concat_batches(pending)


def without_views(schema: pa.Schema) -> pa.Schema | None:
    """``schema`` with string_view and binary_view (at any depth) as large_string and
    large_binary, or None when it has none.

    Views are an encoding (docs/hashing.md), but most Arrow kernels datakeep's chunking and
    patches use (take, filter) have none for them; the file's own schema is kept in the manifest
    and a checkout casts back to it.
    """
    if not any(_has_views(field.type) for field in schema):
        return None
    changed = [_without_views(field.type) for field in schema]
    return pa.schema(
        [field if new is None else field.with_type(new) for field, new in zip(schema, changed, strict=True)],
        metadata=schema.metadata,
    )


def views_widened(table: pa.Table) -> pa.Table:
    """``table`` with its view columns as the large types `without_views` names (Arrow's take and
    filter have no kernels for views)."""
    schema = without_views(table.schema)
    return table if schema is None else kernels.cast_table(table, schema)


@functools.lru_cache(maxsize=1024)
def _has_views(data_type: pa.DataType) -> bool:
    """Whether `_without_views` changes ``data_type``, judged once per type: a commit asks twice
    for every column of every file, and a folder of small part files asked 32,000 times."""
    return _without_views(data_type) is not None


def _without_views(data_type: pa.DataType) -> pa.DataType | None:
    if type_is(data_type, "is_string_view"):
        return pa.large_string()
    if type_is(data_type, "is_binary_view"):
        return pa.large_binary()
    if pa.types.is_list(data_type) or pa.types.is_large_list(data_type) or pa.types.is_fixed_size_list(data_type):
        inner = _without_views(data_type.value_type)
        if inner is None:
            return None
        field = data_type.value_field.with_type(inner)
        if pa.types.is_fixed_size_list(data_type):
            return pa.list_(field, data_type.list_size)
        return pa.large_list(field) if pa.types.is_large_list(data_type) else pa.list_(field)
    if pa.types.is_struct(data_type):
        fields = [data_type.field(i) for i in range(data_type.num_fields)]
        inner_types = [_without_views(f.type) for f in fields]
        if all(t is None for t in inner_types):
            return None
        return pa.struct([f if t is None else f.with_type(t) for f, t in zip(fields, inner_types, strict=True)])
    if pa.types.is_map(data_type):
        key, item = _without_views(data_type.key_type), _without_views(data_type.item_type)
        if key is None and item is None:
            return None
        return pa.map_(
            data_type.key_field.with_type(key or data_type.key_type),
            data_type.item_field.with_type(item or data_type.item_type),
        )
    return None


_DONE = object()


class ReadAhead:
    """Batches of ``source`` decoded on a thread of their own, up to ``depth`` ahead of the
    consumer, from the moment it is made (a generator would start only when first asked).
    ``close`` stops the thread; a consumer that stops early must call it."""

    def __init__(self, source: Iterator[pa.RecordBatch], depth: int) -> None:
        self._ready: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._source = source
        self._thread = threading.Thread(target=self._produce, name="datakeep-read-ahead", daemon=True)
        self._thread.start()

    def _offer(self, item: object) -> bool:
        """Queue ``item`` unless the consumer has gone; False when it has."""
        while not self._stop.is_set():
            try:
                self._ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _produce(self) -> None:
        try:
            for item in self._source:
                if not self._offer(item):
                    return
            self._offer(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            self._offer(exc)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            while True:
                item = self._ready.get()
                if item is _DONE:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
