"""What one column's values say about it, for `schema infer`, gathered batch by batch in Arrow.

A column's declaration follows from its Arrow type, the way `validate` reads it, and every value
in it is plain YAML: numbers, strings, and ISO 8601 dates and times (which `yaml.safe_load` reads
back as `datetime`, and pandas and pandera compare with timestamps).
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datakeep.hashing import is_text
from datakeep.rowhash import column_hashes

# A dictionary-encoded text column gets `isin` with its values when it has at most this many;
# past that the list is a dump of data, not a rule a person would review.
MAX_CATEGORIES = 100
# The instants pandas' datetime64[ns] can hold, in nanoseconds since 1970 (-2**63 is NaT).
_NS_RANGE = (-(2**63) + 1, 2**63 - 1)
_TICKS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_EPOCH = dt.datetime(1970, 1, 1)


class Profile:
    """One column: its type, whether it has missing values, its range, categories, uniqueness."""

    def __init__(self, name: str, data_type: pa.DataType) -> None:
        self.name = name
        self.note: str | None = None  # written as the column's description
        dictionary = pa.types.is_dictionary(data_type)
        # `validate` decodes dictionary columns before anything else; only text ones stay categories.
        self.type = data_type.value_type if dictionary else data_type
        self.categorical = dictionary and is_text(self.type)
        self.missing = False  # a null, or a NaN: pandas and pandera count both as missing
        self.low: pa.Scalar | None = None  # for the types that have an order
        self.high: pa.Scalar | None = None
        self.categories: set[str] | None = set() if self.categorical else None
        lowered = name.lower()
        id_like = lowered == "id" or lowered.endswith("id")
        keyable = is_text(self.type) or pa.types.is_integer(self.type)
        self.hashes: list[np.ndarray] | None = [] if id_like and keyable else None

    def add(self, column: pa.Array) -> None:
        if pa.types.is_dictionary(column.type):
            column = column.dictionary_decode()
        if pa.types.is_float16(column.type):
            column = column.cast(pa.float32())  # exact; Arrow has no min/max for half floats
        nulls = column.null_count
        self.missing = self.missing or nulls > 0
        if pa.types.is_floating(column.type) and pc.any(pc.is_nan(column)).as_py():
            self.missing = True
        if self.categories is not None:
            self.categories.update(pc.unique(column.drop_null()).to_pylist())
            if len(self.categories) > MAX_CATEGORIES:
                self.categories = None
        if self.hashes is not None:
            self.hashes = None if nulls else [*self.hashes, column_hashes(column)]
        if _has_order(column.type) and nulls < len(column):
            self._widen(pc.min_max(column))

    def _widen(self, bounds: pa.StructScalar) -> None:
        low, high = bounds["min"], bounds["max"]
        if not low.is_valid or (pa.types.is_floating(low.type) and math.isnan(low.as_py())):
            return  # only NaNs: no range
        if self.low is not None and self.high is not None:
            low = pc.min(pa.concat_arrays([pa.repeat(self.low, 1), pa.repeat(low, 1)]))
            high = pc.max(pa.concat_arrays([pa.repeat(self.high, 1), pa.repeat(high, 1)]))
        self.low, self.high = low, high

    def is_key(self) -> bool:
        """Unique and never null in the whole file (by 64-bit hash: a collision only loses the guess)."""
        if not self.hashes:
            return False
        hashes = np.sort(np.concatenate(self.hashes))
        return not bool((hashes[1:] == hashes[:-1]).any())

    def declaration(self) -> dict[str, Any]:
        """The column's entry under ``columns:``, in pandera's YAML format."""
        t = self.type
        out: dict[str, Any] = {}
        bounds: tuple[Any, Any] | None = None
        if pa.types.is_boolean(t):
            out["dtype"] = "boolean" if self.missing else "bool"
        elif pa.types.is_integer(t):
            # numpy integers cannot hold a null; pandas' nullable ones (Int64, UInt8) can.
            name = np.dtype(t.to_pandas_dtype()).name
            out["dtype"] = name.capitalize().replace("Uint", "UInt") if self.missing else name
            bounds = self._bounds(_number, _number)
        elif pa.types.is_floating(t):
            out["dtype"] = np.dtype(t.to_pandas_dtype()).name
            bounds = self._bounds(_number, _number)
        elif is_text(t):
            out["dtype"] = "category" if self.categorical else "str"
            if self.categories:
                out["isin"] = sorted(self.categories)
        elif pa.types.is_decimal(t):
            # Not pandera's Decimal(p, s): it checks values in a 28-digit context, which a
            # decimal128(34, 2) value fails.
            out["dtype"] = "object"
            out["description"] = f"{t}: Decimal objects in pandas"
            bounds = self._bounds(lambda s: _outward(s, up=False), lambda s: _outward(s, up=True))
        elif pa.types.is_timestamp(t) and t.tz is not None:
            # A zoned pandas dtype keeps its unit, and so does validate.
            out["dtype"] = f"datetime64[{t.unit}, {t.tz}]"
            bounds = self._bounds(lambda s: _instant(s, up=False), lambda s: _instant(s, up=True))
        elif pa.types.is_timestamp(t) or pa.types.is_date(t):
            # pandera has one naive datetime dtype, datetime64[ns], and validate reads dates into
            # it too. A value it cannot hold (before 1677-09-22 or after 2262-04-11, such as a
            # 9999-12-31 "open end") would fail every row, so such a column gets no dtype.
            if self._fits_nanoseconds():
                out["dtype"] = "datetime64[ns]"
                bounds = self._bounds(lambda s: _instant(s, up=False), lambda s: _instant(s, up=True))
            else:
                out["description"] = f"{t} with values outside datetime64[ns], so no dtype is declared"
        elif pa.types.is_duration(t):
            out["dtype"] = "timedelta64[ns]"
        elif pa.types.is_null(t):
            out["dtype"] = "object"
            out["description"] = "every value is null: the file says nothing of the type"
        else:
            # Lists, structs, maps, bytes, times of day, extension types: pandas holds them as
            # Python objects, which no range or set check is inferred for.
            out["dtype"] = "object"
            out["description"] = f"{t}: Python objects in pandas; no value checks are inferred"
        if self.note is not None:
            out["description"] = f"{self.note}; {out['description']}" if "description" in out else self.note
        out["nullable"] = self.missing
        if bounds is not None:
            out["greater_than_or_equal_to"], out["less_than_or_equal_to"] = bounds
        return out

    def _bounds(self, low: Any, high: Any) -> tuple[Any, Any] | None:
        if self.low is None or self.high is None:
            return None
        bounds = (low(self.low), high(self.high))
        return None if None in bounds else bounds

    def _fits_nanoseconds(self) -> bool:
        scalars = [s for s in (self.low, self.high) if s is not None]
        return all(_NS_RANGE[0] <= _nanoseconds(s) <= _NS_RANGE[1] for s in scalars)


def _has_order(t: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_timestamp(t)
        or pa.types.is_date(t)
    )


def _number(scalar: pa.Scalar) -> int | float:
    value: int | float = scalar.as_py()
    return value


def _nanoseconds(scalar: pa.Scalar) -> int:
    """A date or timestamp as nanoseconds since 1970, exactly (Python integers do not overflow)."""
    t = scalar.type
    if pa.types.is_date32(t):
        return int(scalar.cast(pa.int32()).as_py()) * 86_400 * 10**9
    if pa.types.is_date64(t):
        return int(scalar.cast(pa.int64()).as_py()) * 10**6
    return int(scalar.value) * (10**9 // _TICKS_PER_SECOND[t.unit])


def _instant(scalar: pa.Scalar, *, up: bool) -> dt.datetime | None:
    """A date or timestamp bound as a whole second, rounded outward so the check holds for it.

    Zoned values are written in UTC (``+00:00``); they compare as instants whatever the zone.
    None when Python's datetime cannot hold it (years before 1 or after 9999): no range then.
    """
    nanos = _nanoseconds(scalar)
    seconds = -(-nanos // 10**9) if up else nanos // 10**9
    try:
        value = _EPOCH + dt.timedelta(seconds=seconds)
    except OverflowError:
        return None
    return value.replace(tzinfo=dt.timezone.utc) if getattr(scalar.type, "tz", None) else value


def _outward(scalar: pa.Scalar, *, up: bool) -> float:
    """A decimal bound as the nearest float on its safe side. YAML has no decimals, and a Decimal
    compares exactly with a float, so the nearest float could exclude the bound's own value."""
    value: Decimal = scalar.as_py()
    number = float(value)
    if up and Decimal(number) < value:
        number = math.nextafter(number, math.inf)
    elif not up and Decimal(number) > value:
        number = math.nextafter(number, -math.inf)
    return number
