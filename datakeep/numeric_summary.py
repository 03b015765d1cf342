"""What the statistics take from each batch of a numeric or time column, in one call: the range,
the NaN and infinite values, and the sum and squared deviations of the finite ones.

The statistics thread ran a dozen Arrow kernels per column and batch for this (a cast, a filter,
mean, variance, min_max), each a pass over the batch and a Python call holding the GIL; at 5M
rows that thread slowed the whole commit by a tenth. Here it is two passes in C
(``native.numeric_summary``), or `reference` in numpy where the extension is not built, with
the same bits: sums are defined lane by lane (`lane_sum`) so that both add in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from datakeep import native
from datakeep.arrow_numpy import primitive_view, valid_mask


@dataclass(frozen=True, slots=True)
class NumericSummary:
    present: int  # values neither null nor NaN
    low: int | float | None  # their least and greatest (None when there is none); of two
    high: int | float | None  # zeros -0.0 is the least and 0.0 the greatest
    nan: int
    posinf: int
    neginf: int
    finite: int  # values neither null, NaN nor infinite: those the sums are over
    total: float  # `lane_sum` of the finite values as float64
    squares: float  # `lane_sum` of (value - total / finite) ** 2 over them


def numbers(array: pa.Array) -> np.ndarray:
    """The values of an integer, floating-point or time array as numpy numbers of its stored
    width (a time as its integer; float16 as float32, exactly); null slots hold whatever lies
    behind them. Raises ValueError for types stored otherwise (decimals, intervals)."""
    t = array.type
    if pa.types.is_floating(t):
        if t.bit_width == 16:
            with np.errstate(invalid="ignore"):  # a signalling NaN stays a NaN: nothing to warn about
                return primitive_view(array, "<f2", allow_nulls=True).astype(np.float32)
        return primitive_view(array, f"<f{t.bit_width // 8}", allow_nulls=True)
    if pa.types.is_integer(t):
        kind = "i" if pa.types.is_signed_integer(t) else "u"
        return primitive_view(array, f"<{kind}{t.bit_width // 8}", allow_nulls=True)
    if pa.types.is_temporal(t) and t.bit_width in (32, 64):
        return primitive_view(array, f"<i{t.bit_width // 8}", allow_nulls=True)
    raise ValueError(f"no numeric summary for {t}")


def summarize(array: pa.Array, values: np.ndarray) -> NumericSummary:
    """The summary of ``array``, whose `numbers` are ``values``."""
    if native.AVAILABLE:
        bitmap = array.buffers()[0] if array.null_count else None
        return NumericSummary(*native.numeric_summary(values, bitmap, array.offset))
    return reference(values, valid_mask(array) if array.null_count else None)


def lane_sum(values: np.ndarray) -> float:
    """The sum of float64 ``values`` in a fixed order: value i goes to lane i % 8, each lane
    summed left to right from +0.0, then ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))."""
    rows = -(-len(values) // 8)
    padded = np.zeros((rows + 1) * 8)  # a first row of zeros: every lane starts from +0.0
    padded[8 : 8 + len(values)] = values
    lanes = np.cumsum(padded.reshape(-1, 8), axis=0)[-1]  # running sums: strictly in order
    return float(((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7])))


def reference(values: np.ndarray, valid: np.ndarray | None) -> NumericSummary:
    """The summary of ``values`` (those where ``valid``, all when None), in numpy."""
    if valid is not None:
        values = values[valid]
    nan = posinf = neginf = 0
    low: int | float | None = None
    high: int | float | None = None
    if values.dtype.kind == "f":
        with np.errstate(invalid="ignore"):  # a signalling NaN stays a NaN: nothing to warn about
            values = values.astype(np.float64)
        is_nan = np.isnan(values)
        nan = int(np.count_nonzero(is_nan))
        present = values[~is_nan]
        posinf, neginf = int(np.count_nonzero(present == np.inf)), int(np.count_nonzero(present == -np.inf))
        finite = present[np.isfinite(present)]
        if len(present):
            low, high = float(present.min()), float(present.max())
            signs = np.signbit(present[present == 0])
            if low == 0:
                low = -0.0 if signs.any() else 0.0
            if high == 0:
                high = -0.0 if signs.all() else 0.0
    else:
        present = values
        finite = values.astype(np.float64)
        if len(present):
            low, high = int(present.min()), int(present.max())
    # Sums of huge values overflow to inf (and inf - inf to NaN), as in the C loop: a value, not
    # an error to warn about.
    with np.errstate(over="ignore", invalid="ignore"):
        total = lane_sum(finite)
        squares = 0.0
        if len(finite):
            deviations = finite - total / len(finite)
            squares = lane_sum(deviations * deviations)
    return NumericSummary(len(present), low, high, nan, posinf, neginf, len(finite), total, squares)
