"""The canonical encoding of a table's logical content, fed to xxh3-128.

Changing anything here changes every snapshot id; `docs/hashing.md` specifies it and
`tests/test_hashing_golden.py` pins it. Encoding versions: 1 and 2.

A table's content is, per column, a handful of byte *streams* (validity, values, lengths, data,
and the streams of nested children), each hashed incrementally in row order. Because every
stream of rows ``[0, n)`` is the concatenation of the streams of ``[0, k)`` and ``[k, n)``, the
digest does not depend on how rows are split into row groups, batches or chunks.

Encoding 2 (what new repositories use) hashes rows in fixed blocks of ``BLOCK_ROWS``: each block's
digest is its encoding-1 id, and the table's id hashes the list of block digests. Blocks are cut at
fixed row numbers, so the id still ignores every layout; and a commit of an appended file can
resume from the digests of the blocks it already knows instead of re-reading them.

What counts as *content*: column names and order, canonical types, nullability, row order, every
value (null vs NaN, -0.0 vs 0.0 are different). What is *encoding* and therefore ignored:
compression, row groups, statistics, dictionary encoding, ``string`` vs ``large_string`` vs
``string_view`` (and the same for binary and list), NaN payload bits, the bytes behind null slots,
and schema metadata (pandas' index metadata is kept in the manifest to restore, not hashed).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import xxhash

from datakeep import kernels
from datakeep.arrow_numpy import arrow_array, boolean_values, integer_view, valid_mask
from datakeep.errors import UnsupportedTypeError
from datakeep.serialize import canonical_json

if TYPE_CHECKING:
    from datakeep.ids import ContentId

from datakeep.digest import ALGORITHM, ENCODINGS, NEWEST_ENCODING, bytes_id, combine

__all__ = ["ALGORITHM", "StreamHasher", "bytes_id", "canonical_type", "combine", "content_id"]
#: The encoding new repositories use; a repository keeps the one it was made with
#: (`config.json`'s "encoding", 1 when absent), so its ids never change.
ENCODING_VERSION = NEWEST_ENCODING
#: Rows per block in encoding 2. A multiple of the commit's batch size, so blocks and batches align.
BLOCK_ROWS = 65536

_CANONICAL_NAN = {
    2: np.uint16(0x7E00),
    4: np.uint32(0x7FC00000),
    8: np.uint64(0x7FF8000000000000),
}


@functools.lru_cache(maxsize=1024)
def canonical_type(data_type: pa.DataType) -> str:
    """The type as content: physical encodings (large/view/dictionary) collapse to one name."""
    t = data_type
    if pa.types.is_dictionary(t):
        return canonical_type(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or type_is(t, "is_string_view"):
        return "string"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or type_is(t, "is_binary_view"):
        return "binary"
    if pa.types.is_map(t):
        keys = canonical_type(t.key_type)
        return f"map<{keys}, {_field_type(t.item_field)}>"
    if pa.types.is_fixed_size_list(t):
        return f"fixed_size_list<{_field_type(t.value_field)}>[{t.list_size}]"
    if _is_variable_list(t):
        return f"list<{_field_type(t.value_field)}>"
    if pa.types.is_struct(t):
        inner = ", ".join(f"{t.field(i).name}: {_field_type(t.field(i))}" for i in range(t.num_fields))
        return f"struct<{inner}>"
    if isinstance(t, pa.ExtensionType):
        return f"extension<{t.extension_name}>[{canonical_type(t.storage_type)}]"
    # Arrow's own extension types (uuid, json, bool8, fixed_shape_tensor, opaque) are not
    # ``pa.ExtensionType``; their names already carry their parameters, as ids have pinned.
    if pa.types.is_union(t) or type_is(t, "is_run_end_encoded"):
        raise UnsupportedTypeError(
            f"columns of type {t} are not supported",
            "cast the column to a plain type (e.g. its value type) before adding the dataset",
        )
    return str(t)


def _field_type(field: pa.Field) -> str:
    suffix = "" if field.nullable else " not null"
    return canonical_type(field.type) + suffix


def type_is(data_type: pa.DataType, predicate: str) -> bool:
    """``pa.types.<predicate>(data_type)``, False where this pyarrow lacks the predicate (the view
    types arrived in pyarrow 16; datakeep supports 15)."""
    check = getattr(pa.types, predicate, None)
    return bool(check and check(data_type))


def _is_variable_list(t: pa.DataType) -> bool:
    return (
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or type_is(t, "is_list_view")
        or type_is(t, "is_large_list_view")
    )


def is_string_like(t: pa.DataType) -> bool:
    return canonical_type(t) in ("string", "binary") and not pa.types.is_dictionary(t)


def is_text(t: pa.DataType) -> bool:
    """A plain string column of any flavour (not binary, not a dictionary)."""
    return bool(pa.types.is_string(t) or pa.types.is_large_string(t) or type_is(t, "is_string_view"))


def schema_columns(schema: pa.Schema) -> list[dict[str, object]]:
    """The schema as content: name, canonical type and nullability of each column, in order."""
    return [{"name": f.name, "type": canonical_type(f.type), "nullable": bool(f.nullable)} for f in schema]


# -- normalisation shared by the stream hash and the per-row hashes ---------------------------


def decode(array: pa.Array) -> pa.Array:
    """Undo encodings that are not content: dictionaries, views, extension wrappers."""
    t = array.type
    if not decode_needed(t):
        return array
    if pa.types.is_dictionary(t):
        return decode(kernels.take(array.dictionary, array.indices))
    if isinstance(t, pa.BaseExtensionType):  # Python-defined and Arrow's own (json, uuid, ...)
        return decode(array.storage)
    if type_is(t, "is_string_view"):
        return kernels.cast(array, pa.large_string())
    if type_is(t, "is_binary_view"):
        return kernels.cast(array, pa.large_binary())
    if type_is(t, "is_list_view"):
        return kernels.cast(array, pa.list_(t.value_field))
    if type_is(t, "is_large_list_view"):
        return kernels.cast(array, pa.large_list(t.value_field))
    return array


def validity(array: pa.Array) -> np.ndarray:
    """One byte per row: 1 valid, 0 null."""
    if array.null_count == 0:
        return np.ones(len(array), dtype=np.uint8)
    if pa.types.is_null(array.type):
        return np.zeros(len(array), dtype=np.uint8)
    return valid_mask(array).view(np.uint8)


def fixed_width(array: pa.Array) -> np.ndarray:
    """Values as an ``(n, width)`` uint8 matrix: nulls zeroed, every NaN one canonical NaN."""
    t = array.type
    width = t.byte_width
    n = len(array)
    buffer = array.buffers()[1]
    if buffer is None or n == 0:
        return np.zeros((n, width), dtype=np.uint8)
    raw = np.frombuffer(buffer, dtype=np.uint8, count=n * width, offset=array.offset * width)
    values = raw.reshape(n, width)
    copied = False
    if pa.types.is_floating(t):
        floats = values.view(f"<f{width}").reshape(n)
        nan = np.isnan(floats)
        if nan.any():
            values = values.copy()
            copied = True
            values.view(f"<u{width}").reshape(n)[nan] = _CANONICAL_NAN[width]
    if array.null_count:
        if not copied:
            values = values.copy()
        values[~valid_mask(array)] = 0
    return values


def booleans(array: pa.Array) -> np.ndarray:
    return boolean_values(array)


def string_parts(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(int64 lengths with 0 for nulls, the concatenated bytes of the valid values)."""
    n = len(array)
    offsets_dtype = (
        np.int64 if (pa.types.is_large_string(array.type) or pa.types.is_large_binary(array.type)) else np.int32
    )
    buffers = array.buffers()
    if n == 0 or buffers[1] is None:
        return np.zeros(n, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(
        buffers[1],
        dtype=offsets_dtype,
        count=n + 1,
        offset=array.offset * np.dtype(offsets_dtype).itemsize,
    ).astype(np.int64)
    lengths = np.diff(offsets)
    start, end = int(offsets[0]), int(offsets[-1])
    data = (
        np.frombuffer(buffers[2], dtype=np.uint8, count=end - start, offset=start)
        if buffers[2] is not None and end > start
        else np.zeros(0, np.uint8)
    )
    if array.null_count:
        valid = valid_mask(array)
        garbage = lengths[~valid]
        if garbage.any():
            # Bytes behind null slots are not content: drop them.
            keep = np.repeat(valid, lengths)
            data = data[keep]
        lengths = np.where(valid, lengths, 0)
    return lengths, data


# -- the stream hasher ------------------------------------------------------------------------


class StreamHasher:
    """Hashes the columns of a table, batch after batch, independent of how rows are split."""

    def __init__(self, schema: pa.Schema, encoding: int = ENCODING_VERSION) -> None:
        if encoding not in ENCODINGS:
            raise ValueError(f"unknown encoding {encoding}")
        self.schema = schema
        self.encoding = encoding
        self.columns, self._column_json, self._columns_text = _layout(schema)
        self.rows = 0
        self._streams: list[dict[str, xxhash.xxh3_128]] = [{} for _ in range(len(schema))]
        self._block_rows = 0  # rows in the open block (encoding 2)
        #: Encoding 2: the digests of the closed blocks, in order.
        self.blocks: list[bytes] = []

    @classmethod
    def resumed(cls, schema: pa.Schema, blocks: list[bytes]) -> StreamHasher:
        """An encoding-2 hasher that has already seen ``len(blocks)`` whole blocks with these
        digests: feeding it the rest of the rows gives the id of the whole table."""
        hasher = cls(schema, 2)
        hasher.blocks = list(blocks)
        hasher.rows = len(blocks) * BLOCK_ROWS
        return hasher

    def update(self, batch: pa.RecordBatch | pa.Table) -> None:
        update_all([self], batch)

    def _room(self) -> int | None:
        """Rows until the open block closes (None: encoding 1 has no blocks)."""
        return BLOCK_ROWS - self._block_rows if self.encoding == 2 else None

    def _advance(self, rows: int) -> None:
        self.rows += rows
        if self.encoding == 2:
            self._block_rows += rows
            if self._block_rows == BLOCK_ROWS:
                self.blocks.append(self._block_digest())
                self._streams = [{} for _ in range(len(self.schema))]
                self._block_rows = 0

    def _block_digest(self) -> bytes:
        return xxhash.xxh3_128_digest(_document(1, self._block_rows, self._column_json, self._streams))

    def hexdigest(self) -> ContentId:
        from datakeep.ids import ContentId

        if self.encoding == 1:
            return ContentId(xxhash.xxh3_128_hexdigest(_document(1, self.rows, self._column_json, self._streams)))
        blocks = self.blocks + ([self._block_digest()] if self._block_rows else [])
        # canonical_json({"encoding": 2, "rows": ..., "columns": `schema_columns`, "blocks": ...}),
        # written out around the columns' JSON, made once per schema: a folder's small files
        # hash two documents each, and json.dumps of their columns was most of it.
        blocks_hex = xxhash.xxh3_128_hexdigest(b"".join(blocks))
        document = f'{{"blocks":"{blocks_hex}","columns":{self._columns_text},"encoding":2,"rows":{self.rows}}}'
        return ContentId(xxhash.xxh3_128_hexdigest(document.encode()))


def _document(
    encoding: int, rows: int, columns: list[tuple[str, str]], streams: list[dict[str, xxhash.xxh3_128]]
) -> bytes:
    """The canonical JSON of ``{"encoding", "rows", "columns": [{"name", "type", "nullable",
    "streams": {path: hexdigest}}]}`` (`canonical_json`), written out directly: one per block and
    per chunk, and json.dumps of a 400-column document each time was a third of the hashing. Stream
    paths are ASCII digits, letters and '/', which JSON writes as they are. ``columns``: each
    column's JSON around its streams (`_column_json`)."""
    parts = []
    for (head, tail), column in zip(columns, streams, strict=True):
        inner = ",".join(f'"{path}":"{h.hexdigest()}"' for path, h in sorted(column.items()))
        parts.append(f"{head}{inner}{tail}")
    return f'{{"columns":[{",".join(parts)}],"encoding":{encoding},"rows":{rows}}}'.encode()


@functools.lru_cache(maxsize=64)
def _layout(schema: pa.Schema) -> tuple[list[dict[str, object]], list[tuple[str, str]], str]:
    """`schema_columns`, `_column_json` and the canonical JSON of the columns of ``schema``,
    worked out once: a commit makes a hasher per chunk, and a 400-column table's took 2 ms each.
    Read only."""
    columns = schema_columns(schema)
    return columns, _column_json(columns), _json_text(columns)


def _column_json(columns: list[dict[str, object]]) -> list[tuple[str, str]]:
    """Per column, the canonical JSON before and after its streams' object."""
    return [
        (
            f'{{"name":{_json_text(meta["name"])},"nullable":{"true" if meta["nullable"] else "false"},"streams":{{',
            f'}},"type":{_json_text(meta["type"])}}}',
        )
        for meta in columns
    ]


def _json_text(value: object) -> str:
    return canonical_json(value).decode("utf-8")


def update_all(hashers: list[StreamHasher], batch: pa.RecordBatch | pa.Table) -> None:
    """Feed ``batch`` to several hashers at once, normalising each column only once (a commit
    hashes every chunk into both the chunk's id and the whole file's id). Encoding-2 hashers may
    close their blocks at different rows, so the batch is fed in pieces cut wherever any does."""
    total = batch.num_rows
    if total == 0:
        # Encoding 1 sees the empty batch (its streams then exist, which its ids depend on);
        # encoding 2 has nothing to hash.
        _feed_all([h for h in hashers if h.encoding == 1], batch)
        return
    cuts = {total}
    for hasher in hashers:
        room = hasher._room()
        while room is not None and room < total:
            cuts.add(room)
            room += BLOCK_ROWS
    start = 0
    for stop in sorted(cuts):
        _feed_all(hashers, batch if (start, stop) == (0, total) else batch.slice(start, stop - start))
        for hasher in hashers:
            hasher._advance(stop - start)
        start = stop


def _feed_all(hashers: list[StreamHasher], batch: pa.RecordBatch | pa.Table) -> None:
    if not hashers:
        return
    for index in range(batch.num_columns):
        column = batch.column(index)
        chunks: list[pa.Array] = list(column.chunks) if isinstance(column, pa.ChunkedArray) else [column]
        if not chunks:
            chunks = [pa.array([], type=column.type)]
        sink = _Fanout([hasher._streams[index] for hasher in hashers])
        for chunk in chunks:
            _feed(sink, "", chunk)


class _Fanout:
    """The streams of one column in several hashers: every update goes to all of them."""

    def __init__(self, targets: list[dict[str, xxhash.xxh3_128]]) -> None:
        self.targets = targets

    def update(self, path: str, data: Any) -> None:
        for streams in self.targets:
            hasher = streams.get(path)
            if hasher is None:
                hasher = streams[path] = xxhash.xxh3_128()
            hasher.update(data)


#: How `_feed` hashes a column of each type, judged once per type: a 400-column table cut into
#: 3,000-row chunks feeds 30,000 column pieces a commit, and asking pyarrow's type predicates
#: each time was a fifth of the hashing.
_DECODE, _NULL, _BOOLEAN, _STRING, _FIXED_LIST, _LIST, _STRUCT, _FLOAT, _FIXED = range(9)


@functools.lru_cache(maxsize=1024)
def _feed_kind(t: pa.DataType) -> int | None:
    """The `_feed` branch for values of type ``t``; None: not supported."""
    if decode_needed(t):
        return _DECODE
    if pa.types.is_null(t):
        return _NULL
    if pa.types.is_boolean(t):
        return _BOOLEAN
    if is_string_like(t):
        return _STRING
    if pa.types.is_fixed_size_list(t):
        return _FIXED_LIST
    if _is_variable_list(t) or pa.types.is_map(t):
        return _LIST
    if pa.types.is_struct(t):
        return _STRUCT
    if hasattr(t, "byte_width") and _has_fixed_width(t):
        return _FLOAT if pa.types.is_floating(t) else _FIXED
    return None


@functools.lru_cache(maxsize=1024)
def decode_needed(t: pa.DataType) -> bool:
    """Whether `decode` changes arrays of type ``t``."""
    return bool(
        pa.types.is_dictionary(t)
        or isinstance(t, pa.BaseExtensionType)
        or type_is(t, "is_string_view")
        or type_is(t, "is_binary_view")
        or type_is(t, "is_list_view")
        or type_is(t, "is_large_list_view")
    )


#: The validity stream of rows without nulls, sliced rather than allocated per column piece.
_all_valid = b"\x01" * 65536


def _valid_run(rows: int) -> memoryview:
    global _all_valid
    if rows > len(_all_valid):
        _all_valid = b"\x01" * rows
    return memoryview(_all_valid)[:rows]


def _feed(streams: _Fanout, path: str, array: pa.Array) -> None:
    kind = _feed_kind(array.type)
    if kind == _DECODE:
        array = decode(array)
        kind = _feed_kind(array.type)
    if kind is None:
        raise UnsupportedTypeError(
            f"columns of type {array.type} are not supported",
            "cast the column to a plain type before adding the dataset",
        )
    rows = len(array)
    nulls = array.null_count
    streams.update(path + "v", _valid_run(rows) if nulls == 0 else validity(array))
    if kind == _NULL:
        return
    if kind in (_FIXED, _FLOAT):
        streams.update(path + "x", _fixed_bytes(array, rows, nulls, kind == _FLOAT))
    elif kind == _STRING:
        lengths, data = string_parts(array)
        streams.update(path + "l", lengths.astype("<i8", copy=False))
        streams.update(path + "d", data)
    elif kind == _BOOLEAN:
        streams.update(path + "b", booleans(array))
    elif kind == _FIXED_LIST:
        _feed(streams, path + "0/", _fixed_list_children(array))
    elif kind == _LIST:
        lengths = list_lengths(array)
        streams.update(path + "l", lengths.astype("<i8", copy=False))
        _feed(streams, path + "0/", list_values(array))
    else:  # _STRUCT
        for i, child in enumerate(struct_children(array)):
            _feed(streams, f"{path}{i}/", child)


def _fixed_bytes(array: pa.Array, rows: int, nulls: int, floating: bool) -> Any:
    """The bytes `fixed_width` gives, as a view of Arrow's buffer when no null or NaN needs
    rewriting (most column pieces)."""
    buffer = array.buffers()[1]
    if nulls or buffer is None or rows == 0:
        return fixed_width(array)
    width = array.type.byte_width
    start = array.offset * width
    if floating and np.isnan(np.frombuffer(buffer, dtype=f"<f{width}", count=rows, offset=start)).any():
        return fixed_width(array)
    return memoryview(buffer)[start : start + rows * width]


def _has_fixed_width(t: pa.DataType) -> bool:
    try:
        return t.byte_width > 0
    except ValueError:
        return False


def list_lengths(array: pa.Array) -> np.ndarray:
    """Elements per list (0 for a null list), from the offsets: works for list, large_list, map."""
    if len(array) == 0:
        return np.zeros(0, dtype=np.int64)
    lengths = np.diff(integer_view(array.offsets).astype(np.int64))
    if array.null_count:
        lengths = np.where(valid_mask(array), lengths, 0)
    return lengths


def list_values(array: pa.Array) -> pa.Array:
    """The elements of all valid lists, in order (a map's entries as a struct array).

    Children behind a null list slot are not content, so they are left out.
    """
    offsets = integer_view(array.offsets).astype(np.int64)
    values = array.values
    if len(array) == 0:
        return values.slice(0, 0)
    start, end = int(offsets[0]), int(offsets[-1])
    if array.null_count == 0:
        return values.slice(start, end - start)
    lengths = list_lengths(array)
    starts = offsets[:-1]
    ends = np.cumsum(lengths)
    indices = (
        np.arange(int(lengths.sum()), dtype=np.int64) - np.repeat(ends - lengths, lengths) + np.repeat(starts, lengths)
    )
    return kernels.take(values, arrow_array(indices))


def _fixed_list_children(array: pa.Array) -> pa.Array:
    size = array.type.list_size
    values = array.values.slice(array.offset * size, len(array) * size)
    if array.null_count:
        # Children under a null fixed-size list slot are not content: null them out.
        values = _mask_nulls(values, np.repeat(valid_mask(array), size))
    return values


def _mask_nulls(values: pa.Array, valid: np.ndarray) -> pa.Array:
    return kernels.if_else(arrow_array(valid), values, pa.nulls(len(values), type=values.type))


def struct_children(array: pa.Array) -> list[pa.Array]:
    """Children of a struct with the parent's nulls pushed down (their values are not content)."""
    children = array.flatten()
    if array.null_count == 0:
        return list(children)
    valid = valid_mask(array)
    return [_mask_nulls(child, valid) for child in children]


def content_id(table: pa.Table | pa.RecordBatch, encoding: int = ENCODING_VERSION) -> ContentId:
    """The logical content id of a whole table, in ``encoding``."""
    hasher = StreamHasher(table.schema, encoding)
    hasher.update(table)
    return hasher.hexdigest()
