"""Unit factors: a scaled value is rounded to the decimal it stands for, not left a float's near miss."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Significant digits a scaled value is rounded to: as many as a float64 holds for any decimal.
SCALED_DIGITS = 15


def scaled(values: pa.Array, scale: float) -> pa.Array:
    """``values`` (float64) times ``scale``, rounded to `SCALED_DIGITS` significant digits.

    A unit's factor is a decimal (0.01, 0.1, 100) that binary floating point holds only nearly:
    1999 cents came out as 19.990000000000002 euros (failing a maximum of 19.99), 19.99 euros as
    1998.9999999999998 cents (not whole). A measurement has fewer significant digits than a float
    holds, so rounding to as many as it holds gives the decimal itself and alters no real value.
    """
    product = pc.multiply(values, pa.scalar(scale, pa.float64()))
    valid = product.is_valid().to_numpy(zero_copy_only=False)
    numbers = product.to_numpy(zero_copy_only=False).astype(np.float64, copy=True)
    numbers[valid] = round_significant(numbers[valid], SCALED_DIGITS)
    return pa.array(numbers, type=pa.float64(), mask=~valid)


def round_significant(values: np.ndarray, digits: int) -> np.ndarray:
    """``values`` rounded to ``digits`` significant decimal digits, each the float nearest that
    decimal (so `repr` shows it). Zeros, infinities, NaN and values too far from 1 for a power of
    ten to be exact (below about 1e-8 or above 1e37 for 15 digits) are left as they are."""
    out = values.copy()
    magnitude = np.abs(values)
    at = np.flatnonzero(np.isfinite(values) & (magnitude > 0))
    exponent = np.floor(np.log10(magnitude[at])).astype(np.int64)
    # log10 can miss by one next to a power of ten (10**309 is inf there: nothing is moved).
    with np.errstate(over="ignore"):
        exponent[magnitude[at] < 10.0 ** exponent.astype(np.float64)] -= 1
        exponent[magnitude[at] >= 10.0 ** (exponent + 1).astype(np.float64)] += 1
    shift = digits - 1 - exponent  # decimal places kept; 10**k is an exact float for |k| <= 22
    up = (shift >= 0) & (shift <= 22)
    down = (shift < 0) & (shift >= -22)
    factor = 10.0 ** np.minimum(np.abs(shift), 22).astype(np.float64)
    # An integer below 10**digits is exact; one exact division or product back is correctly rounded.
    out[at[up]] = np.round(values[at[up]] * factor[up]) / factor[up]
    out[at[down]] = np.round(values[at[down]] / factor[down]) * factor[down]
    return out
