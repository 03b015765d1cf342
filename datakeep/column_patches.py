"""Column patches: a changed chunk stored as its base chunk's rows with some columns of its own.

Adding a column (a feature, a derived field) changes every row, so a row-level patch (`patches`)
finds no row to copy, and every chunk of the table was stored whole again: a full copy for each
new column. When a chunk has its base's rows, row for row, a column patch keeps, per column,
either "the base's column at position j" (same name, same type, same content) or values of its
own, and stores only the latter. A keyed dataset cuts its chunks by key, so after a column is
added, dropped, reordered or rewritten its chunks still line up with the old ones.

Layout: ``MAGIC``; a 4-byte little-endian length and the JSON header (``version``, ``base``,
``rows``, ``schema``: the chunk's Arrow schema as base64 IPC, ``columns``: per column
``[0, base position]`` or ``[1, position among the stored columns]``); then the stored columns as
a zstd-compressed Arrow IPC stream (nothing when every column comes from the base). Its magic is
not the row patches': a reader that knows only those fails on it instead of misreading it.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from datakeep.errors import CorruptObjectError
from datakeep.hashing import content_id
from datakeep.ids import ObjectId, object_id

MAGIC = b"DKCOLS01"
VERSION = 1
FROM_BASE, STORED = 0, 1
#: A column patch is kept only while the columns it stores are at most this share of the chunk's
#: bytes: past it the whole chunk is about as small, and reads need no base.
MAX_STORED_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class ColumnPatch:
    """A parsed column patch."""

    base: ObjectId
    rows: int
    schema: pa.Schema
    sources: tuple[tuple[int, int], ...]  # per column: (FROM_BASE, base position) or (STORED, position)
    stored: memoryview  # the stored columns' IPC stream (empty when none)


def is_column_patch(data: bytes) -> bool:
    return data[: len(MAGIC)] == MAGIC


def plan(
    table: pa.Table,
    base_schema: pa.Schema,
    base_columns: Callable[[list[int]], pa.Table],
    base_head: Callable[[list[int], int], pa.Table | None] | None = None,
    base_hashes: np.ndarray | None = None,
) -> list[tuple[int, int]] | None:
    """Where each column of ``table`` comes from, or None when a column patch would not pay.

    A column is taken from the base when the base has a column of its name and type whose
    content is the same: proven at once for all such columns by row hashes where the base's are at
    hand (`_all_base_columns_kept`), else compared by logical content hash (`hashing.content_id`),
    which tells -0.0 from 0.0 and ignores the bytes behind nulls, exactly as the chunk's id does; a
    dictionary column also needs the base's dictionary, which hashes do not see but a read gives.
    ``base_columns(positions)`` gives the base chunk's columns at ``positions``, in that order;
    ``base_head(positions, rows)`` their first ``rows`` rows cheaply, or None where it cannot;
    ``base_hashes`` the base's row hashes, when at hand.
    """
    where = {field.name: j for j, field in enumerate(base_schema)}
    if len(where) != len(base_schema):
        return None  # repeated names: which one a column came from would be a guess
    candidates = {
        i: where[field.name]
        for i, field in enumerate(table.schema)
        if field.name in where and base_schema.field(where[field.name]).type == field.type
    }
    if _all_base_columns_kept(table, candidates, len(base_schema), base_hashes, base_columns):
        sources = _sources(table.num_columns, candidates)
        return sources if _stored_bytes(table, sources) <= MAX_STORED_SHARE * table.nbytes else None
    if base_head is not None and candidates:
        # A table rewritten whole (a full refresh) fails here on its first rows, before its base is
        # decoded and hashed to no purpose: that cost its commits a quarter more CPU.
        rows = min(HEAD_ROWS, table.num_rows)
        head = _by_position(base_head(sorted(set(candidates.values())), rows), candidates)
        if head is not None:
            candidates = {i: j for i, j in candidates.items() if _same_head(table.column(i).slice(0, rows), head[j])}
    kept_bytes = sum(table.column(i).nbytes for i in candidates)
    if not candidates or table.nbytes - kept_bytes > MAX_STORED_SHARE * table.nbytes:
        return None
    base = _by_position(base_columns(sorted(set(candidates.values()))), candidates)
    if base is None or any(len(column) != table.num_rows for column in base.values()):
        return None
    same = {i: j for i, j in candidates.items() if _same(table.column(i), base[j])}
    sources = _sources(table.num_columns, same)
    return sources if _stored_bytes(table, sources) <= MAX_STORED_SHARE * table.nbytes else None


def _all_base_columns_kept(
    table: pa.Table,
    candidates: dict[int, int],
    base_columns: int,
    base_hashes: np.ndarray | None,
    read_base: Callable[[list[int]], pa.Table],
) -> bool:
    """Whether every candidate column of ``table`` holds its base column unchanged, proven
    without decoding those base columns: row hashes combined in the base's order, from the
    candidates' values and (decoded) the few base columns that are not candidates (dropped or
    retyped), equal the base's row hashes. It is the proof a row patch rests on when it copies a
    row. False also when it cannot be shown so (a candidate changed, a dictionary, no hashes, or
    more base columns to decode than to spare)."""
    from datakeep.rowhash import column_hashes, combine_hashes

    at = {j: i for i, j in candidates.items()}
    others = [j for j in range(base_columns) if j not in at]
    if (
        base_hashes is None
        or len(base_hashes) != table.num_rows
        or not at
        or len(others) > len(at)
        or any(pa.types.is_dictionary(table.schema.field(i).type) for i in candidates)
    ):
        return False
    decoded = read_base(others) if others else None
    if decoded is not None and decoded.num_rows != table.num_rows:
        return False
    own = {j: k for k, j in enumerate(others)}
    columns = (
        column_hashes(table.column(at[j])) if j in at else column_hashes(decoded.column(own[j]))  # type: ignore[union-attr]
        for j in range(base_columns)
    )
    return bool(np.array_equal(combine_hashes(columns, table.num_rows), base_hashes))


def _sources(columns: int, from_base: dict[int, int]) -> list[tuple[int, int]]:
    """Per column: the base's (``from_base``: column -> base position) or the next stored one."""
    sources: list[tuple[int, int]] = []
    stored = 0
    for i in range(columns):
        if i in from_base:
            sources.append((FROM_BASE, from_base[i]))
        else:
            sources.append((STORED, stored))
            stored += 1
    return sources


def _stored_bytes(table: pa.Table, sources: list[tuple[int, int]]) -> int:
    return sum(table.column(i).nbytes for i, (source, _) in enumerate(sources) if source == STORED)


#: Rows of each column compared before the base is decoded whole (`plan`).
HEAD_ROWS = 256


def _by_position(columns: pa.Table | None, candidates: dict[int, int]) -> dict[int, pa.ChunkedArray] | None:
    """``columns`` (the base's at the candidates' positions, in order) keyed by position."""
    if columns is None:
        return None
    positions = sorted(set(candidates.values()))
    return {j: columns.column(k) for k, j in enumerate(positions)}


def _same_head(new: pa.ChunkedArray, old: pa.ChunkedArray) -> bool:
    """Whether a column's first rows may be its base's: their per-row hashes (one C pass each,
    where a content hash costs a stream hasher per column) are equal. Only a first sieve: `_same`
    decides."""
    from datakeep.rowhash import column_hashes

    return len(new) == len(old) and bool(np.array_equal(column_hashes(new), column_hashes(old)))


def _same(new: pa.ChunkedArray, old: pa.ChunkedArray) -> bool:
    if len(new) != len(old) or _digest(new) != _digest(old):
        return False
    return not pa.types.is_dictionary(new.type) or new.equals(old)


def _digest(column: pa.ChunkedArray | pa.Array) -> str:
    return content_id(pa.table({"c": column}), 1)


def encode(table: pa.Table, base: ObjectId, sources: list[tuple[int, int]]) -> bytes:
    """The column patch of ``table`` on ``base`` (see `plan` for ``sources``)."""
    schema = table.schema.remove_metadata()
    header = json.dumps(
        {
            "version": VERSION,
            "base": base,
            "rows": table.num_rows,
            "schema": base64.b64encode(schema.serialize().to_pybytes()).decode("ascii"),
            "columns": [list(source) for source in sources],
        },
        separators=(",", ":"),
    ).encode()
    parts = [MAGIC, struct.pack("<I", len(header)), header]
    own = [i for i, (source, _) in enumerate(sources) if source == STORED]
    if own:
        stored = table.select(own).combine_chunks().replace_schema_metadata(None)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, stored.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
            writer.write_table(stored)
        parts.append(sink.getvalue().to_pybytes())
    return b"".join(parts)


def parse(oid: ObjectId, data: bytes) -> ColumnPatch:
    """The header and stored bytes of the column patch ``data`` (stored under ``oid``)."""
    try:
        (length,) = struct.unpack_from("<I", data, len(MAGIC))
        start = len(MAGIC) + 4
        header = json.loads(data[start : start + length])
        schema = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(header["schema"])))
        sources = tuple((int(source), int(index)) for source, index in header["columns"])
        patch = ColumnPatch(
            base=object_id(str(header["base"])),
            rows=int(header["rows"]),
            schema=schema,
            sources=sources,
            stored=memoryview(data)[start + length :],
        )
    except (ValueError, KeyError, TypeError, struct.error, pa.ArrowException) as exc:
        raise CorruptObjectError(oid, f"damaged column patch header ({exc})") from None
    if len(sources) != len(schema) or any(source not in (FROM_BASE, STORED) or i < 0 for source, i in sources):
        raise CorruptObjectError(oid, "column patch sources do not match its schema")
    return patch


def stored_columns(oid: ObjectId, patch: ColumnPatch) -> pa.Table:
    """The columns the patch holds itself."""
    try:
        options = pa.ipc.IpcReadOptions(use_threads=False)
        return pa.ipc.open_stream(pa.py_buffer(patch.stored), options=options).read_all()
    except (pa.ArrowException, OSError) as exc:
        raise CorruptObjectError(oid, f"damaged column patch columns ({exc})") from None


def base_positions(patch: ColumnPatch, wanted: list[int]) -> list[int]:
    """The base's column positions that the chunk's columns at ``wanted`` need, in order."""
    return sorted({index for source, index in (patch.sources[i] for i in wanted) if source == FROM_BASE})


def assemble(
    oid: ObjectId, patch: ColumnPatch, wanted: list[int], base: pa.Table | None, stored: pa.Table | None
) -> pa.Table:
    """The chunk's columns at ``wanted``: from ``base`` (its columns at `base_positions`) or from
    ``stored`` (`stored_columns`), under the chunk's own names and types."""
    at = {position: k for k, position in enumerate(base_positions(patch, wanted))}
    arrays = []
    try:
        for i in wanted:
            source, index = patch.sources[i]
            column = base.column(at[index]) if source == FROM_BASE else stored.column(index)  # type: ignore[union-attr]
            if len(column) != patch.rows:
                raise ValueError(f"a column of {len(column)} rows in a chunk of {patch.rows}")
            arrays.append(column)
        fields = [patch.schema.field(i) for i in wanted]
        return pa.Table.from_arrays(arrays, schema=pa.schema(fields)) if wanted else _no_columns(patch.rows)
    except (ValueError, IndexError, KeyError, AttributeError, pa.ArrowException) as exc:
        raise CorruptObjectError(oid, f"column patch does not fit its base ({exc})") from None


def _no_columns(rows: int) -> pa.Table:
    return pa.table({"_": pa.nulls(rows)}).select([])
