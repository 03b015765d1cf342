"""Opening user Parquet files with errors that say what is wrong and what to do."""

from __future__ import annotations

import functools
import queue
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datakeep.arrow_numpy import arrow_array
from datakeep.errors import InputDataError

MAGIC = b"PAR1"
#: Column chunks of user files are read through a buffer of this size instead of whole: a row
#: group of a 400-column file is otherwise read and held column chunk by column chunk, which took
#: 6.5 s to stream 200,000 rows (10.9 s CPU); buffered 1.4 s. Narrow files read as fast, in less
#: memory (5M-row bench file: 265 -> 205 MB).
READ_BUFFER_BYTES = 1024 * 1024


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
    # pq.ParquetFile takes no memory pool; the reader class beneath it does.
    from pyarrow._parquet import ParquetReader

    reader = ParquetReader(memory_pool=scratch_pool())
    reader.open(source, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)
    return reader


def take_columns(
    source: str | pa.NativeFile, columns: Sequence[str | int], rows: np.ndarray, *, row_group: int | None = None
) -> pa.Table:
    """Rows ``rows`` (any order) of the given columns (names, or positions in the file's schema),
    decoding one column at a time into `scratch_pool`: for a few rows out of many, the peak is
    one decoded column rather than all (nor all pages read ahead). Columns keep the file's names."""
    reader = scratch_reader(source)
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
        taken.append(column.take(wanted))
    return pa.table(taken, names=picked)


def open_parquet(path: Path) -> pq.ParquetFile:
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
        # pre_buffer off: with it, pyarrow keeps every row group's bytes it has read until the
        # file is closed, so streaming a 20M-row file through iter_batches held 830 MB.
        parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=READ_BUFFER_BYTES)
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise InputDataError(str(path), f"is damaged and cannot be read ({exc})") from None
    check_schema(schema, str(path))
    return parquet


def check_schema(schema: pa.Schema, where: str) -> None:
    names = schema.names
    duplicates = sorted({name for name in names if names.count(name) > 1})
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
    parquet: pq.ParquetFile, path: Path, batch_rows: int, *, read_ahead: int = 0
) -> Iterator[pa.RecordBatch]:
    """Record batches of the file, turning mid-file damage into InputDataError.

    With ``read_ahead`` > 0 a thread decodes up to that many batches ahead of the consumer:
    Parquet decoding releases the GIL, so it overlaps with the hashing and statistics the
    consumer does on each batch.
    """
    batches = _batches(parquet, path, batch_rows)
    if read_ahead <= 0:
        yield from batches
        return
    yield from _read_ahead(batches, read_ahead)


def _batches(parquet: pq.ParquetFile, path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    try:
        yield from parquet.iter_batches(batch_size=batch_rows, use_threads=True)
    except (pa.ArrowException, OSError) as exc:
        raise InputDataError(str(path), f"is damaged and cannot be read ({exc})") from None


_DONE = object()


def _read_ahead(source: Iterator[pa.RecordBatch], depth: int) -> Iterator[pa.RecordBatch]:
    ready: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        """Queue ``item`` unless the consumer has gone; False when it has."""
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in source:
                if not offer(item):
                    return
            offer(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)

    thread = threading.Thread(target=produce, name="datakeep-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            item = ready.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
