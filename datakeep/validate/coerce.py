"""Turning raw Arrow columns into canonical columns, vectorised, and saying which cells failed.

A cell failed when it was not null before parsing and is null after: the null masks are compared,
never a value at a time. Dates are parsed with the mapping's explicit strptime format in Arrow
(pandas' `to_datetime` took seconds per million rows); a cell with surrounding spaces or a year
the target cannot hold fails rather than being silently reinterpreted.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from datakeep.schemas import Cast

_FLOAT = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_INT = r"^[+-]?\d{1,18}$"
_ISO_FORMATS = ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S")
# datetime64[ns] holds 1677-09-21 .. 2262-04-11; keep a margin inside it.
_YEARS = {"ns": (1678, 2261)}
_DEFAULT_YEARS = (1000, 9999)


def target_kind(dtype: Any) -> str:
    """Classify a pandas dtype into the few families parsing cares about."""
    t = pd.api.types
    if dtype is None:
        return "any"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "other"
    if t.is_datetime64_dtype(dtype):
        return "datetime"
    if t.is_bool_dtype(dtype):
        return "bool"
    if t.is_integer_dtype(dtype):
        return "int"
    if t.is_float_dtype(dtype):
        return "float"
    if t.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        return "string"
    return "other"


def describe(cast: Cast | None, kind: str) -> str:
    """How a cast failure is explained in the report."""
    if cast is not None and cast.format:
        return f"not a {cast.type} in format '{cast.format}'"
    if cast is not None and cast.type == "number" and (cast.decimal != "." or cast.thousands):
        return f"not a number with decimal '{cast.decimal}' and thousands '{cast.thousands or ''}'"
    if kind == "datetime":
        return "not an ISO date (YYYY-MM-DD); declare a cast with a format in the source mapping"
    return {"int": "not an integer", "float": "not a number", "bool": "not a boolean"}.get(
        kind, f"cannot be read as {kind}"
    )


def parse(arr: pa.Array, cast: Cast | None, dtype: Any) -> tuple[pa.Array, np.ndarray]:
    """Parse ``arr`` towards ``dtype``; return the parsed array and the mask of failed cells."""
    kind = target_kind(dtype)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if kind == "datetime":
        out = _datetime(arr, cast, np.datetime_data(np.dtype(dtype))[0])
    elif kind in ("int", "float"):
        out = _number(arr, cast, integer=kind == "int")
    elif kind == "bool":
        out = _bool(arr, cast)
    elif kind == "string":
        out = arr if pa.types.is_string(arr.type) else _safe_cast(arr, pa.string())
    else:
        return arr, np.zeros(len(arr), dtype=bool)
    failed = pc.and_(pc.is_valid(arr), pc.is_null(out))
    return out, failed.to_numpy(zero_copy_only=False)


def to_pandas(arr: pa.Array, dtype: Any) -> tuple[Any, np.ndarray]:
    """Convert a parsed column to the exact pandas dtype pandera expects.

    Returns the values and the mask of cells that were filled with a placeholder because the
    dtype cannot hold a null (numpy ints and bools); checks must ignore those cells.
    """
    kind = target_kind(dtype)
    nulls = arr.is_null().to_numpy(zero_copy_only=False)
    if dtype is None:
        return arr.to_pandas(), np.zeros(len(arr), dtype=bool)
    np_dtype = dtype if isinstance(dtype, np.dtype) else None
    if np_dtype is not None and kind in ("int", "bool"):
        filled = arr.fill_null(False if kind == "bool" else 0) if nulls.any() else arr
        return filled.to_numpy(zero_copy_only=False).astype(np_dtype), nulls
    if np_dtype is not None and kind == "float":
        return arr.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np_dtype), np.zeros(len(arr), dtype=bool)
    values = arr.to_pandas()
    # On failure pandera's dtype check says what is wrong with the column.
    with contextlib.suppress(TypeError, ValueError):
        values = values.astype(dtype)
    return values, np.zeros(len(arr), dtype=bool)


def _safe_cast(arr: pa.Array, to: pa.DataType) -> pa.Array:
    try:
        return arr.cast(to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(arr), type=to)


def _clean_text(arr: pa.Array) -> pa.Array:
    """Text with surrounding spaces is not a clean value; make it fail rather than guess."""
    trimmed = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(trimmed, arr), arr, pa.scalar(None, pa.string()))


def _datetime(arr: pa.Array, cast: Cast | None, unit: str) -> pa.Array:
    target = pa.timestamp(unit if unit in ("s", "ms", "us", "ns") else "ns")
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return _safe_cast(arr, target)
    if not pa.types.is_string(arr.type):
        return pa.nulls(len(arr), type=target)
    text = _clean_text(arr)
    formats = (cast.format,) if cast is not None and cast.format else _ISO_FORMATS
    out = _strict_strptime(text, formats[0])
    for fmt in formats[1:]:
        out = pc.coalesce(out, _strict_strptime(text, fmt))
    low, high = _YEARS.get(target.unit, _DEFAULT_YEARS)
    year = pc.year(out)
    in_range = pc.and_(pc.greater_equal(year, low), pc.less_equal(year, high))
    out = pc.if_else(in_range, out, pa.scalar(None, out.type))
    return out.cast(target)


def _strict_strptime(text: pa.Array, fmt: str) -> pa.Array:
    """strptime that refuses impossible dates: Arrow rolls 2024-02-30 over to 2024-03-01.

    A parsed value must print back as the text it came from; leading zeros are forgiven, so
    '1/2/2020' still reads with '%d/%m/%Y' as Python's strptime would read it.
    """
    parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
    printed = pc.strftime(parsed, format=fmt)
    same = pc.fill_null(pc.equal(printed, text), False)
    if not pc.all(pc.or_(same, pc.is_null(parsed))).as_py():
        unpadded = pc.equal(_unpad(printed), _unpad(text))
        same = pc.or_(same, pc.fill_null(unpadded, False))
    return pc.if_else(same, parsed, pa.scalar(None, parsed.type))


def _unpad(text: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(text, r"(^|[^0-9])0+([0-9])", r"\1\2")


def _number(arr: pa.Array, cast: Cast | None, *, integer: bool) -> pa.Array:
    to = pa.int64() if integer else pa.float64()
    if pa.types.is_integer(arr.type):
        return _safe_cast(arr, to)
    if pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        floats = _safe_cast(arr, pa.float64())
        if not integer:
            return floats
        whole = pc.and_(pc.equal(pc.floor(floats), floats), pc.less(pc.abs(floats), 2.0**62))
        return pc.if_else(whole, floats, pa.scalar(None, pa.float64())).cast(pa.int64())
    if pa.types.is_boolean(arr.type):
        return arr.cast(to)
    if not pa.types.is_string(arr.type):
        return pa.nulls(len(arr), type=to)
    text = arr
    if cast is not None and cast.thousands:
        text = pc.replace_substring(text, cast.thousands, "")
    if cast is not None and cast.decimal != ".":
        text = pc.replace_substring(text, cast.decimal, ".")
    pattern = _INT if integer and (cast is None or cast.type != "number") else _FLOAT
    ok = pc.match_substring_regex(text, pattern)
    text = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    if integer and pattern == _FLOAT:
        return _number(text.cast(pa.float64()), None, integer=True)
    return text.cast(to)


def _bool(arr: pa.Array, cast: Cast | None) -> pa.Array:
    if pa.types.is_boolean(arr.type):
        return arr
    if pa.types.is_integer(arr.type):
        ok = pc.is_in(arr, value_set=pa.array([0, 1], type=arr.type))
        return pc.if_else(ok, pc.not_equal(arr, 0), pa.scalar(None, pa.bool_()))
    if not pa.types.is_string(arr.type):
        return pa.nulls(len(arr), type=pa.bool_())
    spec = cast or Cast(type="boolean")
    lower = pc.utf8_lower(arr)
    is_true = pc.is_in(lower, value_set=pa.array(list(spec.true_values), pa.string()))
    is_false = pc.is_in(lower, value_set=pa.array(list(spec.false_values), pa.string()))
    return pc.if_else(is_true, True, pc.if_else(is_false, False, pa.scalar(None, pa.bool_())))
