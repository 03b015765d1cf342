"""Arrow values as the Python values a report shows, including values Python cannot hold.

Shared by the reports that print cells: validation samples and diff samples.

Arrow's ``to_pylist`` raises on a timestamp after the year 9999 (a date32 reaches the year
5,877,641), a duration past 999,999,999 days or a time of day past midnight, and a report must
show exactly such values. They are shown as text instead: a date, timestamp or duration as
`temporal_text` writes it (ISO 8601 with an expanded year, ``+10001-01-01``; a duration as
``str(timedelta)`` would), a time of day as its integer and unit. Everything Python holds comes
back as ``to_pylist`` gives it; only the cells outside Python's range are converted one at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

# Kernels through `datakeep.kernels`: importing pyarrow.compute costs every diff ~40 ms.
from datakeep import kernels
from datakeep.temporal_text import value_text

_INT64 = (-(2**63), 2**63 - 1)
_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_DAY = 86_400
# Python's dates, from 0001-01-01 to 9999-12-31, as days since 1970-01-01, a day inside each end:
# a zoned timestamp is shown in its zone, up to a day away from its UTC time.
_FIRST_DAY, _LAST_DAY = -719_162 + 1, 2_932_896 - 1
_TIMEDELTA_DAYS = 999_999_999


def as_python(arr: pa.Array) -> list[Any]:
    """``arr.to_pylist()``, with text for the values Python cannot hold (see the module)."""
    try:
        return arr.to_pylist()
    except (OverflowError, ValueError, pa.ArrowException):
        pass
    kind = arr.type
    if pa.types.is_dictionary(kind):
        return as_python(arr.dictionary_decode())
    if isinstance(kind, pa.ExtensionType):
        return as_python(arr.storage)
    if pa.types.is_map(kind):
        key, value = kind.key_field.name, kind.item_field.name
        return [None if entries is None else [(e[key], e[value]) for e in entries] for entries in _lists(arr)]
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _lists(arr)
    if pa.types.is_struct(kind):
        names = [kind.field(i).name for i in range(kind.num_fields)]
        children = [as_python(child) for child in arr.flatten()]
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        rows = zip(*children, strict=True)
        return [dict(zip(names, row, strict=True)) if ok else None for ok, row in zip(valid, rows, strict=True)]
    if _bounds(kind) is not None:
        return _times(arr)
    return [_one(arr, i) for i in range(len(arr))]


def _lists(arr: pa.Array) -> list[Any]:
    """Each list of ``arr`` as a Python list, its values converted together."""
    values = as_python(arr.flatten())  # the values of the valid lists only, in order
    lengths = kernels.fill_null(kernels.list_value_length(arr), 0).to_numpy(zero_copy_only=False)
    ends = np.cumsum(lengths)
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    return [values[end - n : end] if ok else None for ok, n, end in zip(valid, lengths, ends, strict=True)]


def _bounds(kind: pa.DataType) -> tuple[int, int] | None:
    """The ticks of ``kind`` that Python certainly holds; None for a type that is not a time."""
    if pa.types.is_timestamp(kind):
        per_day = _DAY * _PER_SECOND[kind.unit]
        return _FIRST_DAY * per_day, _LAST_DAY * per_day
    if pa.types.is_date32(kind):
        return _FIRST_DAY, _LAST_DAY
    if pa.types.is_date64(kind):
        return _FIRST_DAY * _DAY * 1000, _LAST_DAY * _DAY * 1000
    if pa.types.is_duration(kind):
        most = _TIMEDELTA_DAYS * _DAY * _PER_SECOND[kind.unit]
        return -most, most
    if pa.types.is_time(kind):
        return 0, _DAY * _PER_SECOND[kind.unit] - 1
    return None


def _times(arr: pa.Array) -> list[Any]:
    bounds = _bounds(arr.type)
    assert bounds is not None
    low, high = (min(max(bound, _INT64[0]), _INT64[1]) for bound in bounds)
    ticks = _ticks(arr)
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    held = valid & (ticks >= low) & (ticks <= high)
    # Only the cells Python holds are converted by Arrow; the others are null until written out.
    out = kernels.if_else(pa.array(held), arr, pa.scalar(None, arr.type)).to_pylist()
    for i in np.flatnonzero(valid & ~held):
        out[i] = _one(arr, int(i))
    return out


def _ticks(arr: pa.Array) -> np.ndarray:
    """The integers behind a time column (0 where null)."""
    width = pa.int32() if arr.type.bit_width == 32 else pa.int64()
    return arr.view(width).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)


def _one(arr: pa.Array, i: int) -> Any:
    """One cell as Python holds it, or as text when it cannot."""
    try:
        return arr[i].as_py()
    except (OverflowError, ValueError, pa.ArrowException):
        pass
    kind = arr.type
    if _bounds(kind) is None:
        try:
            return arr.slice(i, 1).cast(pa.string())[0].as_py()
        except (pa.ArrowException, ValueError):
            return f"<{kind} value>"
    ticks = int(_ticks(arr.slice(i, 1))[0])
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind) or pa.types.is_duration(kind):
        # As the statistics store it (`temporal_text`): one spelling in `show`, diff and validate.
        return value_text(kind, ticks)
    unit = getattr(kind, "unit", "")
    return f"{ticks} {unit}".strip()  # a time of day past midnight
