"""How datakeep encodes the Parquet it writes: which columns get dictionary pages, and how the
others are encoded.

pyarrow dictionary-encodes every column by default. On a column of mostly distinct values (ids,
e-mail addresses, amounts, free text) that is pure cost: the writer builds a dictionary until it
passes 1 MiB, falls back to plain pages, and the file ends up with a useless dictionary page, its
index pages and plain pages. On the benchmark's 1M-row table, dictionary pages only where values
repeat made stored chunks 18% smaller, encoding 45% faster and decoding 15-35% faster. The choice
is an encoding, never content: snapshot and chunk ids do not see it.

Integer and time columns without dictionary pages are stored with DELTA_BINARY_PACKED: ids,
timestamps, counts and dates pack into the few bits their differences need and decode without a
zstd pass over eight bytes a value. On the bench table the id and timestamp columns decoded 3x
faster and stored chunks shrank 6%; random 64-bit values cost 1% more.

Floating-point columns without dictionary pages are stored with BYTE_STREAM_SPLIT: the bytes of
each value are spread over byte planes, so zstd sees the exponents together. Decoding is faster
(the bench table's float column 1.65 ms -> 0.64 ms a chunk; a table of 24 float columns 23 ->
15 ms) and chunks are a little smaller (2% on the bench table). DuckDB, Spark and pyarrow read it.
"""

from __future__ import annotations

import functools

import numpy as np
import pyarrow as pa

from datakeep import kernels
from datakeep.arrow_numpy import arrow_array, is_integer_like
from datakeep.parquet_source import ParquetSource

#: Rows looked at per column to judge whether its values repeat.
PROBE_ROWS = 4096
#: Dictionary pages pay when at most this share of the probed values is distinct.
MAX_DISTINCT_SHARE = 0.5


def dictionary_columns(table: pa.Table) -> list[str]:
    """The Parquet column paths of ``table`` worth dictionary pages, for ``use_dictionary``.

    A flat column gets them when its values repeat in an evenly spread probe of rows; a column
    already dictionary-typed, and every leaf of a nested column, keep them as pyarrow would.
    """
    leaves = _leaf_paths(table.schema.remove_metadata())
    probe = _probe_rows(table.num_rows)
    chosen: list[str] = []
    for field, column, paths in zip(table.schema, table.columns, leaves, strict=True):
        if (
            pa.types.is_nested(field.type)
            or pa.types.is_dictionary(field.type)
            or not _values_distinct(_probe(column, probe))
        ):
            chosen.extend(paths)
    return chosen


def stored_dictionary_columns(parquet: ParquetSource) -> list[str] | None:
    """The column paths a Parquet file datakeep stored has dictionary pages for (the choice
    `dictionary_columns` made when it was written), or None when it has no row group to tell.
    A restore takes the choice from there: probing again imported pyarrow.compute, 25 ms of a
    1M-row checkout, to arrive at the same answer."""
    if parquet.metadata.num_row_groups == 0:
        return None
    group = parquet.metadata.row_group(0)
    return [group.column(i).path_in_schema for i in range(group.num_columns) if group.column(i).has_dictionary_page]


def _probe(column: pa.ChunkedArray, rows: np.ndarray) -> pa.ChunkedArray:
    """The values at ``rows`` (sorted), taken chunk by chunk: a take over a chunked column
    first concatenates every chunk, which was most of the time a restore spent before writing
    its first row group (43 ms of a 1M-row checkout)."""
    try:
        if column.num_chunks <= 1:
            return kernels.take(column, arrow_array(rows))
        ends = np.cumsum([len(chunk) for chunk in column.chunks])
        starts = ends - np.array([len(chunk) for chunk in column.chunks])
        cuts = np.searchsorted(rows, ends)
        begin = 0
        parts = []
        for chunk, start, cut in zip(column.chunks, starts, cuts, strict=True):
            if cut > begin:
                parts.append(kernels.take(chunk, arrow_array(rows[begin:cut] - start)))
            begin = int(cut)
        return pa.chunked_array(parts, type=column.type)
    except pa.ArrowNotImplementedError:
        # Types without a take kernel (string_view, binary_view): the first rows instead.
        return column.slice(0, len(rows))


def column_encodings(schema: pa.Schema, dictionary: list[str]) -> dict[str, str]:
    """``column_encoding`` for the flat integer, time and floating-point columns of ``schema``
    that are not in ``dictionary`` (Parquet allows no other encoding beside dictionary pages)."""
    chosen = set(dictionary)
    encodings: dict[str, str] = {}
    for field in schema:
        if field.name in chosen:
            continue
        if is_integer_like(field.type):  # stored as Parquet INT32 or INT64 values
            encodings[field.name] = "DELTA_BINARY_PACKED"
        elif pa.types.is_float32(field.type) or pa.types.is_float64(field.type):
            encodings[field.name] = "BYTE_STREAM_SPLIT"
    return encodings


def _values_distinct(sample: pa.ChunkedArray) -> bool:
    """Whether most present values of ``sample`` differ (False when that cannot be judged)."""
    present = len(sample) - sample.null_count
    if not present:
        return False
    try:
        return kernels.count_distinct(sample) > MAX_DISTINCT_SHARE * present
    except pa.ArrowNotImplementedError:  # a type without the kernel: pyarrow's default
        return False


def _probe_rows(rows: int) -> np.ndarray:
    count = min(rows, PROBE_ROWS)
    return np.linspace(0, max(rows - 1, 0), num=count).astype(np.int64)


@functools.lru_cache(maxsize=64)
def _leaf_paths(schema: pa.Schema) -> tuple[tuple[str, ...], ...]:
    """Per top-level field, the dotted paths of its Parquet leaf columns (as pyarrow names them):
    read back from the footer of a file of no rows written with pyarrow's writer class (not
    ``pyarrow.parquet``, whose import `ParquetSource` spares the read paths)."""
    from pyarrow._parquet import ParquetWriter

    sink = pa.BufferOutputStream()
    ParquetWriter(sink, schema, writer_engine_version="V2").close()
    reader = ParquetSource(pa.BufferReader(sink.getvalue())).reader
    grouped: dict[str, list[str]] = {name: [] for name in schema.names}
    for path in reader.column_paths:
        grouped[path[0]].append(".".join(path))
    return tuple(tuple(grouped[name]) for name in schema.names)
