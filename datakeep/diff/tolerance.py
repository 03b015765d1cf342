"""`--tolerance COL=X`: whether two numeric cells are equal within X, computed exactly.

Cells were compared as float64 with nulls as -inf, which made a null equal to -inf (and to any
number under an infinite tolerance), lost the cents of large decimals, counted a decimal
difference of exactly X as more than X, and failed outright on integers beyond 2**53. Here each
kind is compared in its own arithmetic: integers exactly in 64 bits, decimals (and anything
compared with one) as Python decimals, floats as floats. A null equals only a null, NaN only NaN.
"""

from __future__ import annotations

import decimal
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa

from datakeep import kernels
from datakeep.arrow_numpy import primitive_view, valid_mask

#: Digits of decimal arithmetic: a decimal256 holds 76, and a difference needs one more.
_DECIMAL_DIGITS = 80


@dataclass(frozen=True, slots=True)
class Numbers:
    """One column's cells, as compared: int64, uint64, float64 or objects (decimals), with a
    mask of the cells that hold a value (the values behind nulls are unspecified)."""

    values: np.ndarray
    valid: np.ndarray


def numbers(column: pa.Array | pa.ChunkedArray) -> Numbers:
    """The cells of a numeric column (integer, floating point or decimal)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    valid = valid_mask(column)
    t = column.type
    if pa.types.is_decimal(t):
        return Numbers(np.array(column.to_pylist(), dtype=object), valid)
    if pa.types.is_integer(t):
        kind = "i" if pa.types.is_signed_integer(t) else "u"
        raw = primitive_view(column, f"<{kind}{t.bit_width // 8}", allow_nulls=True)
        return Numbers(raw.astype(np.int64 if kind == "i" else np.uint64), valid)
    floats = kernels.cast(column, pa.float64(), safe=False)
    return Numbers(primitive_view(floats, "<f8", allow_nulls=True).copy(), valid)


def gather(parts: list[tuple[np.ndarray, Numbers]], count: int) -> Numbers:
    """The cells of ``parts`` (positions, cells there) as one `Numbers` of ``count`` cells."""
    if not parts:
        return Numbers(np.zeros(count, dtype=np.float64), np.zeros(count, dtype=bool))
    kinds = {part.values.dtype for _, part in parts}
    dtype = kinds.pop() if len(kinds) == 1 else np.dtype(object)
    values = np.zeros(count, dtype=dtype)
    valid = np.zeros(count, dtype=bool)
    for where, part in parts:
        values[where] = part.values
        valid[where] = part.valid
    return Numbers(values, valid)


def within(old: Numbers, new: Numbers, tolerance: float) -> np.ndarray:
    """Per pair of cells: equal within ``tolerance`` (a null only to a null, NaN only to NaN)."""
    both = old.valid & new.valid
    close = ~old.valid & ~new.valid
    if both.any():
        close[both] = _close(old.values[both], new.values[both], tolerance)
    return close


def _close(a: np.ndarray, b: np.ndarray, tolerance: float) -> np.ndarray:
    if a.dtype == object or b.dtype == object:
        return _close_exactly(a, b, tolerance)
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        if a.dtype == b.dtype:
            return _close_integers(a, b, tolerance)
        return _close_exactly(a.astype(object), b.astype(object), tolerance)  # int64 beside uint64
    x, y = a.astype(np.float64), b.astype(np.float64)
    with np.errstate(invalid="ignore"):
        near = np.abs(x - y) <= tolerance  # inf - inf is NaN: not near, but equal below
    return near | (x == y) | (np.isnan(x) & np.isnan(y))


def _close_integers(a: np.ndarray, b: np.ndarray, tolerance: float) -> np.ndarray:
    """|a - b| <= tolerance for integers of one type, exactly: the distance fits in 64 unsigned
    bits, and unsigned subtraction of the larger minus the smaller gives it even where the signed
    one would overflow."""
    if math.isinf(tolerance) or tolerance >= 2**64:
        return np.ones(len(a), dtype=bool)
    ua, ub = a.view(np.uint64), b.view(np.uint64)
    distance = np.where(a >= b, ua - ub, ub - ua)
    return distance <= np.uint64(math.floor(tolerance))


def _close_exactly(a: np.ndarray, b: np.ndarray, tolerance: float) -> np.ndarray:
    # The tolerance as typed (0.01), not its binary neighbour (0.01000000000000000020816...).
    limit = Decimal(repr(tolerance))
    out = np.zeros(len(a), dtype=bool)
    with decimal.localcontext() as context:
        context.prec = _DECIMAL_DIGITS
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            p, q = _decimal(x), _decimal(y)
            if p.is_nan() or q.is_nan():
                out[i] = p.is_nan() and q.is_nan()
            else:
                out[i] = p == q or abs(p - q) <= limit
    return out


def _decimal(value: Any) -> Decimal:
    """A cell as a decimal: a float as its shortest spelling (1.01, as written), others exactly."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float | np.floating):
        return Decimal(repr(float(value)))
    return Decimal(int(value))
