"""The C loops of ``datakeep/_native.c``, with the checks that keep them memory-safe.

Each function computes exactly what a numpy reference elsewhere in datakeep computes, bit for bit
(tests/test_native.py compares them on random data); only the speed differs. ``AVAILABLE`` is
false where the extension could not be built (no C compiler at install time) or when the
environment sets ``DATAKEEP_NATIVE=0``; callers then run the numpy reference.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

try:
    from datakeep import _native
except ImportError:  # built without a C compiler: the numpy references run instead
    _native = None

AVAILABLE = _native is not None and os.environ.get("DATAKEEP_NATIVE", "1") != "0"


def _check_u64(name: str, array: np.ndarray, rows: int) -> None:
    if array.dtype != np.uint64 or not array.flags.c_contiguous or len(array) != rows:
        raise ValueError(f"{name}: expected {rows} contiguous uint64 values, got {array.dtype} x {len(array)}")


def _checked_offsets(offsets: np.ndarray, data: np.ndarray | memoryview | bytes | pa.Buffer) -> np.ndarray:
    """``offsets`` (int32 or int64), once checked to be a non-decreasing run within ``data``:
    the C loops read ``data`` wherever they point."""
    if offsets.dtype not in (np.int32, np.int64) or len(offsets) == 0:
        raise ValueError(f"offsets: expected int32 or int64 with at least one entry, got {offsets.dtype}")
    offsets = np.ascontiguousarray(offsets)
    size = memoryview(data).nbytes  # type: ignore[arg-type]  # arrays and Arrow buffers are buffers
    if len(offsets) > 1 and (offsets[0] < 0 or offsets[-1] > size or bool((offsets[1:] < offsets[:-1]).any())):
        raise ValueError("offsets: not a non-decreasing run within the data")
    return offsets


def bytes_hashes(offsets: np.ndarray, data: np.ndarray | memoryview | bytes | pa.Buffer) -> np.ndarray:
    """The hash of each value ``data[offsets[i]:offsets[i + 1]]`` (rowhash's string hash);
    ``offsets`` are int32 or int64, non-decreasing, within ``data``."""
    assert _native is not None
    offsets = _checked_offsets(offsets, data)
    out = np.empty(len(offsets) - 1, dtype=np.uint64)
    _native.bytes_hashes(offsets, offsets.dtype.itemsize, data, out)
    return out


def fixed_hashes(values: np.ndarray, width: int) -> np.ndarray:
    """``mix(value + width)`` of each little-endian unsigned value of ``width`` bytes (1, 2, 4
    or 8), ``values`` an (n, width) uint8 matrix."""
    assert _native is not None
    if width not in (1, 2, 4, 8) or values.dtype != np.uint8 or values.ndim != 2 or values.shape[1] != width:
        raise ValueError(f"values: expected an (n, {width}) uint8 matrix, got {values.dtype} {values.shape}")
    values = np.ascontiguousarray(values)
    out = np.empty(values.shape[0], dtype=np.uint64)
    _native.fixed_hashes(values, width, out)
    return out


def mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser over ``values`` (uint64, contiguous), in place; returns them."""
    assert _native is not None
    _check_u64("values", values, len(values))
    _native.mix_in_place(values)
    return values


def combine(into: np.ndarray, column: np.ndarray, salt: int) -> None:
    """``into[i] = mix(into[i] ^ (column[i] + salt))``, in place."""
    assert _native is not None
    _check_u64("into", into, len(into))
    column = np.ascontiguousarray(column, dtype=np.uint64)
    _check_u64("column", column, len(into))
    _native.combine(into, column, salt % 2**64)


#: Rows a `first_matches` table can index (its slots are 32-bit).
MAX_MATCH_ROWS = 2**31
_scratch = threading.local()  # per thread, as the C code fills it without the GIL


def first_matches(base: np.ndarray, new: np.ndarray) -> tuple[np.ndarray, bool]:
    """(for each ``new`` hash the first ``base`` row equal to it or -1, whether ``base`` repeats
    a hash); ``base`` has fewer than `MAX_MATCH_ROWS` rows."""
    assert _native is not None
    if len(base) >= MAX_MATCH_ROWS:
        raise ValueError(f"base: {len(base)} rows, at most {MAX_MATCH_ROWS - 1} can be matched at once")
    base = np.ascontiguousarray(base, dtype=np.uint64)
    new = np.ascontiguousarray(new, dtype=np.uint64)
    source = np.empty(len(new), dtype=np.int64)
    capacity = max(16, 1 << (2 * len(base) - 1).bit_length()) if len(base) else 16
    table = getattr(_scratch, "table", None)
    if table is None or len(table) < capacity:
        table = _scratch.table = np.empty(capacity, dtype=np.uint32)
    repeated = _native.first_matches(base, new, source, table)
    return source, bool(repeated)


def patch_runs(source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ops, literal rows) of patches.align from ``source`` (each new row's base row, or -1):
    ops an (runs, 3) int64 matrix of (0 base or 1 literal, first row, length)."""
    assert _native is not None
    source = np.ascontiguousarray(source, dtype=np.int64)
    ops = np.empty((len(source), 3), dtype=np.int64)
    rows = np.empty(len(source), dtype=np.int64)
    op_count, literal_count = _native.patch_runs(source, ops, rows)
    return ops[:op_count], rows[:literal_count]


def fits_dense(span: int, rows_a: int, rows_b: int) -> bool:
    """Whether `dense_join` and `dense_counts` take keys spanning ``span`` values on sides of these
    many rows (their slots and row numbers are 32-bit)."""
    return 0 < span < 2**31 and max(rows_a, rows_b) < 2**31 - 1


def dense_join(a: np.ndarray, b: np.ndarray, low: int, span: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows (int32) of ``a`` and ``b`` (int64 keys, each within ``[low, low + span)``) with
    equal keys, in key order (keys >= 0 before negative ones); None when a side repeats a key. ``span``
    is below 2**31."""
    assert _native is not None
    if not fits_dense(span, len(a), len(b)):
        raise ValueError(f"span: {span} keys for {len(a)} and {len(b)} rows, beyond the 32-bit slots")
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    slots_a, slots_b = np.empty(span, dtype=np.int32), np.empty(span, dtype=np.int32)
    most = min(len(a), len(b))
    pairs_a, pairs_b = np.empty(most, dtype=np.int32), np.empty(most, dtype=np.int32)
    found = _native.dense_join(a, b, low, slots_a, slots_b, pairs_a, pairs_b)
    if found < 0:
        return None
    return pairs_a[:found], pairs_b[:found]


def dense_counts(
    a: np.ndarray, hashes_a: np.ndarray, b: np.ndarray, hashes_b: np.ndarray, low: int, span: int
) -> tuple[int, int] | None:
    """(rows of ``b`` whose key ``a`` holds, how many of them with an equal row hash), or None
    when a side repeats a key. Keys are int64 within ``[low, low + span)``, ``span`` below 2**31."""
    assert _native is not None
    if not fits_dense(span, len(a), len(b)):
        raise ValueError(f"span: {span} keys for {len(a)} and {len(b)} rows, beyond the 32-bit slots")
    if len(hashes_a) != len(a) or len(hashes_b) != len(b):
        raise ValueError("hashes: one per key on each side")
    keys_a, keys_b = np.ascontiguousarray(a, dtype=np.int64), np.ascontiguousarray(b, dtype=np.int64)
    rows_a, rows_b = np.ascontiguousarray(hashes_a, dtype=np.uint64), np.ascontiguousarray(hashes_b, dtype=np.uint64)
    result = _native.dense_counts(keys_a, rows_a, keys_b, rows_b, low, np.empty(span, dtype=np.int32))
    return None if result is None else (int(result[0]), int(result[1]))


#: numpy (kind, width) -> the type code `numeric_summary` reads them as.
_NUMBER_CODES = {
    ("i", 1): "b", ("i", 2): "h", ("i", 4): "i", ("i", 8): "l",
    ("u", 1): "B", ("u", 2): "H", ("u", 4): "I", ("u", 8): "L",
    ("f", 4): "f", ("f", 8): "d",
}  # fmt: skip


def numeric_summary(
    values: np.ndarray, validity: pa.Buffer | None, validity_offset: int
) -> tuple[int, int | float | None, int | float | None, int, int, int, int, float, float]:
    """The fields of numeric_summary.NumericSummary for ``values`` (little-endian integers or
    floats of 4 or 8 bytes), the rows whose bit in Arrow's ``validity`` bitmap (None: all rows
    hold a value) is set from bit ``validity_offset`` on."""
    assert _native is not None
    code = _NUMBER_CODES.get((values.dtype.kind, values.dtype.itemsize))
    if code is None or values.ndim != 1 or (values.dtype.byteorder == ">"):
        raise ValueError(f"values: expected little-endian integers or floats, got {values.dtype}")
    values = np.ascontiguousarray(values)
    bitmap = validity if validity is not None else b""
    return _native.numeric_summary(values, code, bitmap, validity_offset, len(values))


def string_buffers(array: pa.Array) -> tuple[np.ndarray, pa.Buffer | bytes] | None:
    """(offsets, value bytes) of a string or binary array (Arrow's offsets, not views), the
    offsets from the array's first row on; None when it has no rows or no offsets. The functions
    that hand them to C check them."""
    import pyarrow as pa  # here: this module is imported on paths that never touch Arrow

    t = array.type
    large = pa.types.is_large_string(t) or pa.types.is_large_binary(t)
    if not (large or pa.types.is_string(t) or pa.types.is_binary(t)):
        raise ValueError(f"expected a string or binary array with offsets, got {t}")
    offsets_type = np.int64 if large else np.int32
    offsets_buffer, values = array.buffers()[1:3]
    if len(array) == 0 or offsets_buffer is None:
        return None
    width = np.dtype(offsets_type).itemsize
    offsets = np.frombuffer(offsets_buffer, dtype=offsets_type, count=len(array) + 1, offset=array.offset * width)
    return offsets, values if values is not None else b""


def small_counts(array: pa.Array, most: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(the first row of each distinct value, how many rows hold it) of a string or binary array
    (Arrow's offsets, not views) or an integer or time array, in the order the values first
    appear, a null counting as one value (as pyarrow.compute.value_counts gives them); None when
    there are more than ``most`` distinct values (a table twice that size is allocated)."""
    assert _native is not None
    import pyarrow as pa  # here: this module is imported on paths that never touch Arrow

    if not 0 <= most <= 2**29:
        raise ValueError(f"most: {most}, at most 2**29 values can be counted")
    t = array.type
    first, count = np.empty(most, dtype=np.int64), np.empty(most, dtype=np.int64)
    validity = array.buffers()[0]
    bitmap = validity if validity is not None and array.null_count else b""
    if pa.types.is_integer(t) or (pa.types.is_temporal(t) and t.bit_width in (32, 64)):
        width = t.bit_width // 8
        data = array.buffers()[1]
        values = np.frombuffer(data, dtype=np.uint8, count=len(array) * width, offset=array.offset * width)
        found = _native.small_counts("i", values, width, b"", bitmap, array.offset, len(array), most, first, count)
    else:
        buffers = string_buffers(array)
        if buffers is None:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        offsets, data = buffers
        offsets = _checked_offsets(offsets, data)
        found = _native.small_counts(
            "s", offsets, offsets.dtype.itemsize, data, bitmap, array.offset, len(array), most, first, count
        )
    return None if found < 0 else (first[:found], count[:found])


def distinct_count(array: pa.Array) -> int:
    """How many distinct values `small_counts` finds in ``array`` (a null counting as one)."""
    found = small_counts(array, len(array))
    assert found is not None  # never more distinct values than rows
    return len(found[0])


def string_min_max(array: pa.Array) -> tuple[object, object]:
    """(least, greatest) value of a string or binary array (Arrow's offsets, not views), as
    Python objects; (None, None) when every row is null. Byte-wise, as pyarrow.compute.min_max."""
    assert _native is not None
    buffers = string_buffers(array)
    if buffers is None or array.null_count == len(array):
        return None, None
    offsets, data = buffers
    offsets = _checked_offsets(offsets, data)
    validity = array.buffers()[0]
    bitmap = validity if validity is not None and array.null_count else b""
    lo, hi = _native.string_min_max(offsets, offsets.dtype.itemsize, data, bitmap, array.offset, len(array))
    return array[lo].as_py(), array[hi].as_py()


def rounded(values: np.ndarray, digits: int) -> np.ndarray:
    """Each float64 of ``values`` to ``digits`` (1-17) significant digits, exactly as
    ``float(f"{v:.{digits}g}")`` rounds it."""
    assert _native is not None
    values = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty_like(values)
    _native.rounded(values, digits, out)
    return out
