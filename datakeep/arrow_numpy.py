"""numpy views of Arrow arrays without pyarrow's ``to_numpy``, which imports pandas (about a third
of a second) the first time it runs; that start-up cost lands on every commit a user times."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa


def primitive_view(array: pa.Array | pa.ChunkedArray, dtype: str, *, allow_nulls: bool = False) -> np.ndarray:
    """The values of a null-free fixed-width ``array`` as numpy ``dtype`` (zero-copy for one chunk).
    With ``allow_nulls``, null slots are kept as whatever bytes lie behind them (unspecified)."""
    if isinstance(array, pa.ChunkedArray):
        parts = [primitive_view(chunk, dtype, allow_nulls=allow_nulls) for chunk in array.chunks]
        if len(parts) == 1:
            return parts[0]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
    if array.null_count and not allow_nulls:
        raise ValueError("primitive_view needs an array without nulls")
    width = np.dtype(dtype).itemsize
    buffer = array.buffers()[1]
    if buffer is None or len(array) == 0:
        return np.zeros(0, dtype=dtype)
    return np.frombuffer(buffer, dtype=dtype, count=len(array), offset=array.offset * width)


def _bits(buffer: pa.Buffer, offset: int, count: int) -> np.ndarray:
    """``count`` bits of an Arrow bitmap from bit ``offset``, as bools."""
    if count == 0:
        return np.zeros(0, dtype=bool)
    first_byte, skip = divmod(offset, 8)
    raw = np.frombuffer(buffer, dtype=np.uint8, count=(skip + count + 7) // 8, offset=first_byte)
    return np.unpackbits(raw, bitorder="little")[skip : skip + count].view(bool)


def valid_mask(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """True where ``array`` holds a value, False where it holds a null."""
    if isinstance(array, pa.ChunkedArray):
        parts = [valid_mask(chunk) for chunk in array.chunks]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=bool)
    n = len(array)
    if array.null_count == 0:
        return np.ones(n, dtype=bool)
    if pa.types.is_null(array.type) or array.null_count == n:
        return np.zeros(n, dtype=bool)
    buffers = array.buffers()
    if not buffers or buffers[0] is None:
        # Types whose nulls are not a validity bitmap (unions, run-end encoded): ask Arrow.
        return _bits_of(array.is_valid())
    return _bits(buffers[0], array.offset, n)


def _bits_of(booleans: pa.Array) -> np.ndarray:
    return _bits(booleans.buffers()[1], booleans.offset, len(booleans)) & valid_mask(booleans)


def boolean_values(array: pa.Array) -> np.ndarray:
    """A boolean array as uint8 0/1, nulls as 0."""
    if len(array) == 0:
        return np.zeros(0, dtype=np.uint8)
    return _bits_of(array).view(np.uint8)


def integer_view(array: pa.Array) -> np.ndarray:
    """A null-free integer array (any width) as its own numpy integer type."""
    t = array.type
    kind = "i" if pa.types.is_signed_integer(t) else "u"
    return primitive_view(array, f"<{kind}{t.bit_width // 8}")


def arrow_array(values: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    """A numpy integer, float or bool array as an Arrow array, null where ``valid`` is False
    (``pa.array``, on numpy input or a list, imports pandas to check for pandas types: 0.25 s)."""
    values = np.ascontiguousarray(values)
    bitmap, nulls = _validity(valid)
    if values.dtype == bool:
        packed = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [bitmap, pa.py_buffer(packed)], null_count=nulls)
    data_type = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(data_type, len(values), [bitmap, pa.py_buffer(values)], null_count=nulls)


def text_array(values: Sequence[str | None]) -> pa.Array:
    """Python strings (None: null) as an Arrow string array, without ``pa.array`` (see
    `arrow_array`)."""
    encoded = [b"" if value is None else value.encode("utf-8") for value in values]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    data_type = pa.string() if offsets[-1] < 2**31 else pa.large_string()
    if data_type == pa.string():
        offsets = offsets.astype(np.int32)
    bitmap, nulls = _validity(np.fromiter((value is not None for value in values), dtype=bool, count=len(values)))
    buffers = [bitmap, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    return pa.Array.from_buffers(data_type, len(values), buffers, null_count=nulls)


def _validity(valid: np.ndarray | None) -> tuple[pa.Buffer | None, int]:
    """An Arrow validity bitmap and null count for ``valid`` (no bitmap when nothing is null)."""
    if valid is None or bool(valid.all()):
        return None, 0
    return pa.py_buffer(np.packbits(valid, bitorder="little")), int(len(valid) - np.count_nonzero(valid))


def no_columns(rows: int) -> pa.Table:
    """A table of ``rows`` rows and no columns, as ``read_table(columns=[])`` gives (a table made
    of no arrays would have no rows)."""
    return pa.table({"": pa.nulls(rows)}).select([])


def is_integer_like(data_type: pa.DataType) -> bool:
    """Integers and what Arrow keeps as 32- or 64-bit integers: dates, times, timestamps,
    durations."""
    return (
        pa.types.is_integer(data_type)
        or pa.types.is_timestamp(data_type)
        or pa.types.is_date(data_type)
        or pa.types.is_time(data_type)
        or pa.types.is_duration(data_type)
    )
