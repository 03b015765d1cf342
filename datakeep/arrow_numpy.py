"""numpy views of Arrow arrays without pyarrow's ``to_numpy``, which imports pandas (about a third
of a second) the first time it runs; that start-up cost lands on every commit a user times."""

from __future__ import annotations

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


def arrow_array(values: np.ndarray) -> pa.Array:
    """A numpy integer, float or bool array as an Arrow array (``pa.array`` on numpy input
    imports pandas to check for pandas types)."""
    values = np.ascontiguousarray(values)
    if values.dtype == bool:
        packed = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(packed)])
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


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
