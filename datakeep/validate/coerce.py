"""Turning raw Arrow columns into canonical columns, vectorised, and saying which cells failed.

A cell failed when it was not null before parsing and is null after: the null masks are compared,
never a value at a time. Dates and times are read in `times`; numbers here, exactly (integer
text never goes through a float); a cell with surrounding spaces or a value the target cannot
hold fails rather than being silently reinterpreted.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from datakeep.schemas import Cast
from datakeep.validate import times
from datakeep.validate.cells import fit_cast, safe_cast, where

# "inf" and "nan" are numbers too: a float column holds them, and Arrow writes them so in CSV.
_FLOAT = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|(?i:inf|infinity|nan))$"
_INT = r"^[+-]?\d{1,19}$"
# The 19-digit integers int64 holds, as text: digits of one length compare as numbers do.
_INT64_DIGITS = ("9223372036854775807", "9223372036854775808")  # largest, and largest negative
_UINT = r"^\+?\d{1,20}$"
_UINT64_DIGITS = "18446744073709551615"  # the largest, and the only one of 20 digits


def target_kind(dtype: Any) -> str:
    """Classify a pandas dtype into the few families parsing cares about."""
    t = pd.api.types
    if dtype is None:
        return "any"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return "zoned"
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        # object holds any Python value (lists, dicts, bytes, Decimals): there is nothing to
        # convert it to, and pandas calling it a "string" dtype would turn a list into its repr.
        return "other"
    if t.is_datetime64_dtype(dtype):
        return "datetime"
    if t.is_timedelta64_dtype(dtype):
        return "timedelta"
    if t.is_bool_dtype(dtype):
        return "bool"
    if t.is_integer_dtype(dtype):
        return "int"
    if t.is_float_dtype(dtype):
        return "float"
    if t.is_string_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype):
        return "string"
    return "other"


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def reads_digits(source: pa.DataType, cast: Cast | None) -> bool:
    """Whether a time cast reads a column of Arrow type ``source`` as the text of its digits:
    integers under a declared format, as old dumps write dates (20240131 with '%Y%m%d')."""
    return cast is not None and cast.format is not None and pa.types.is_integer(source)


def describe(cast: Cast | None, kind: str, source: pa.DataType | None = None) -> str:
    """How a cast failure of values of Arrow type ``source`` is explained in the report."""
    timely = kind in ("datetime", "zoned", "timedelta")
    if timely and source is not None and cast is not None and cast.format and reads_digits(source, cast):
        return f"not a {cast.type} in format '{cast.format}' (the integer's digits read as text)"
    if timely and source is not None and cast is not None and cast.format and _is_number(source):
        return (
            f"a {source} number, which a format cannot read: it reads text, or an integer's digits "
            "(20240131 with '%Y%m%d'); write the column as integers or as text at the source"
        )
    if timely and source is not None and _is_number(source):
        what = "a duration" if kind == "timedelta" else "a time"
        return (
            f"a number, not {what}: its unit and origin are unknown (epoch seconds? days?); "
            f"write the column as {'a duration' if kind == 'timedelta' else 'a timestamp or as ISO text'} at the source"
        )
    if cast is not None and cast.format:
        zone = " (%Z reads UTC or GMT)" if "Z" in times.directives(cast.format) else ""
        return f"not a {cast.type} in format '{cast.format}'{zone}"
    if cast is not None and cast.type == "number" and (cast.thousands or cast.decimal != "."):
        what = "an integer the column's dtype holds, written" if kind == "int" else "a number"
        t, d = cast.thousands, cast.decimal
        if not t:
            return f"not {what} with decimal '{d}' (and no thousands separator)"
        return (
            f"not {what} with decimal '{d}' and thousands '{t}' "
            f"(a value holding '{t}' groups its integer digits in threes: 1{t}234{t}567{d}5)"
        )
    if kind == "datetime":
        return (
            "not an ISO date (YYYY-MM-DD, optionally with THH:MM:SS and a fraction); "
            "declare a cast with a format in the source mapping"
        )
    if kind == "zoned":
        return "not an ISO time (YYYY-MM-DD, optionally with THH:MM:SS, a fraction and an offset)"
    return {"int": "not an integer the column's dtype holds", "float": "not a number", "bool": "not a boolean"}.get(
        kind, f"cannot be read as {kind}"
    )


def same_type(source: pa.DataType, dtype: Any) -> bool:
    """Whether a column of Arrow type ``source`` already holds values of ``dtype``, with nothing
    to convert: the Arrow type pandas stores ``dtype`` as (any text for a text dtype; anything
    for ``object`` or no dtype). This is what ``coerce: false`` asks of a file's column."""
    if pa.types.is_dictionary(source) and not isinstance(dtype, pd.CategoricalDtype):
        source = source.value_type  # how Parquet stores repeated values, not another type
    kind = target_kind(dtype)
    if kind in ("any", "other"):
        if isinstance(dtype, pd.CategoricalDtype):
            return pa.types.is_dictionary(source)
        return True
    if kind == "string":
        return pa.types.is_string(source) or pa.types.is_large_string(source) or pa.types.is_string_view(source)
    if kind == "bool":
        return pa.types.is_boolean(source)
    if kind == "int":
        return source == _integer_type(dtype)
    if kind == "float":
        return source == pa.from_numpy_dtype(np.dtype(getattr(dtype, "numpy_dtype", dtype)))
    if kind == "datetime":
        return source == pa.timestamp(_time_unit(dtype))
    if kind == "zoned":
        return pa.types.is_timestamp(source) and source.unit == _time_unit(dtype) and source.tz == str(dtype.tz)
    if kind == "timedelta":
        return source == pa.duration(_time_unit(dtype))
    return False


# Units of time, coarsest first.
_UNITS = ("s", "ms", "us", "ns")


def wider(dtype: Any) -> Any | None:
    """A dtype of ``dtype``'s kind that holds more than it, for text and numbers: a cell that
    fails towards ``dtype`` but not towards this one is of the right kind, only outside what
    ``dtype`` holds (see `describe_unheld`). None where there is none."""
    kind = target_kind(dtype)
    if kind == "datetime":
        return np.dtype("datetime64[us]")  # text is read in microseconds, years 1000 to 9999
    if kind == "zoned":
        return pd.DatetimeTZDtype("us", dtype.tz)
    if kind == "float" and _float_width(dtype) < 8:
        return np.dtype("float64")
    return None


def unheld_times(arr: pa.Array, dtype: Any) -> np.ndarray | None:
    """Which cells of ``arr``, timestamps, dates or durations, ``dtype`` cannot hold (outside its
    range, as `times.held` judges); None when ``arr`` holds no times of ``dtype``'s kind."""
    kind = target_kind(dtype)
    source = arr.type
    if kind == "timedelta" and pa.types.is_duration(source):
        to = pa.duration(_time_unit(dtype))
    elif kind in ("datetime", "zoned") and (pa.types.is_timestamp(source) or pa.types.is_date(source)):
        to = pa.timestamp(_time_unit(dtype), tz=getattr(source, "tz", None))
    else:
        return None
    unheld = pc.and_(pc.is_valid(arr), pc.is_null(times.held(arr, to, margin=_moved(kind, source))))
    return unheld.to_numpy(zero_copy_only=False)


def _time_unit(dtype: Any) -> str:
    """The unit of a datetime, zoned or timedelta dtype, as Arrow has it (ns for any other)."""
    unit = dtype.unit if isinstance(dtype, pd.DatetimeTZDtype) else np.datetime_data(np.dtype(dtype))[0]
    return unit if unit in _UNITS else "ns"


def _moved(kind: str, source: pa.DataType) -> bool:
    """Whether times of ``source`` are moved to UTC on their way to a ``kind`` column: local
    times going to a zone (see `times.zoned`)."""
    return kind == "zoned" and getattr(source, "tz", None) is None


def _float_width(dtype: Any) -> int:
    return np.dtype(getattr(dtype, "numpy_dtype", dtype)).itemsize


def describe_unheld(dtype: Any, source: pa.DataType) -> str:
    """How a value ``dtype`` cannot hold is explained, with what to do about it."""
    kind = target_kind(dtype)
    if kind == "float":
        largest = np.finfo(np.dtype(getattr(dtype, "numpy_dtype", dtype))).max
        return (
            f"outside the range {dtype} holds (±{largest:.7g}); correct the value, or declare the column as 'float64'"
        )
    unit = _time_unit(dtype)
    if kind == "timedelta":
        return f"outside the range {dtype} holds (±{times.longest(unit):,} days)"
    held = " to ".join(times.span(unit, margin=_moved(kind, source)))
    source_unit = getattr(source, "unit", None)
    if source_unit in _UNITS and _UNITS.index(source_unit) > _UNITS.index(unit):
        return f"outside the range {dtype} holds ({held}) or finer than its unit ({unit}); correct the value"
    if kind == "zoned" and unit == "ns":
        # pandera keeps the unit of a zoned dtype (a naive one is always nanoseconds).
        instead = f"declare the column as '{pd.DatetimeTZDtype('us', dtype.tz)}'"
        return f"outside the range {dtype} holds ({held}); correct the value, or {instead}"
    return (
        f"outside the range {dtype} holds ({held}); correct the value "
        "(a placeholder for 'no date', such as 9999-12-31, is better left empty, in a nullable column)"
    )


def one_cell(value: Any) -> pa.Array:
    """``value`` (from YAML: a mapping's default) as a one-cell column to `parse`; an integer past
    int64 is a uint64, which Arrow would otherwise refuse to hold."""
    if isinstance(value, int) and not isinstance(value, bool) and 2**63 <= value < 2**64:
        return pa.array([value], type=pa.uint64())
    return pa.array([value])


def parse(arr: pa.Array, cast: Cast | None, dtype: Any) -> tuple[pa.Array, np.ndarray]:
    """Parse ``arr`` towards ``dtype``; return the parsed array and the mask of failed cells."""
    kind = target_kind(dtype)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if kind in ("datetime", "zoned") and reads_digits(arr.type, cast):
        arr = arr.cast(pa.string())
    if kind == "datetime":
        out = times.datetimes(arr, cast, np.datetime_data(np.dtype(dtype))[0])
    elif kind == "int":
        out = _integers(arr, cast, _integer_type(dtype))
    elif kind == "float":
        out = _narrowed(_number(arr, cast, integer=False), dtype)
    elif kind == "bool":
        out = _bool(arr, cast)
    elif kind == "string":
        out = arr if pa.types.is_string(arr.type) else safe_cast(arr, pa.string())
    elif kind == "timedelta" and pa.types.is_duration(arr.type):
        out = times.held(arr, pa.duration(_time_unit(dtype)))
    elif kind == "zoned" and (pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type)):
        out = times.zoned(arr, dtype)
    elif kind == "zoned" and pa.types.is_string(arr.type):
        out = times.zoned_text(arr, cast, dtype)
    elif kind in ("zoned", "timedelta") and (_is_number(arr.type) or pa.types.is_boolean(arr.type)):
        # Epoch seconds, Excel serials, hours: a number names no time without its unit and
        # origin, and pandas would read it as nanoseconds (since 1970).
        unit = _time_unit(dtype)
        out = pa.nulls(len(arr), type=pa.timestamp(unit, tz=str(dtype.tz)) if kind == "zoned" else pa.duration(unit))
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
        return as_pandas(arr), np.zeros(len(arr), dtype=bool)
    np_dtype = dtype if isinstance(dtype, np.dtype) else None
    if np_dtype is not None and kind in ("int", "bool"):
        filled = arr.fill_null(False if kind == "bool" else 0) if nulls.any() else arr
        return filled.to_numpy(zero_copy_only=False).astype(np_dtype), nulls
    if np_dtype is not None and kind == "float":
        return arr.cast(pa.float64()).to_numpy(zero_copy_only=False).astype(np_dtype), np.zeros(len(arr), dtype=bool)
    if kind in ("int", "bool") and hasattr(dtype, "__from_arrow__"):
        # A nullable pandas dtype (Int64, boolean) built straight from Arrow: through
        # float64, as `to_pandas` goes when there are nulls, integers past 2**53 change.
        with contextlib.suppress(TypeError, ValueError, pa.ArrowException):
            return pd.Series(dtype.__from_arrow__(arr)), np.zeros(len(arr), dtype=bool)
    values = as_pandas(arr)
    # On failure pandera's dtype check says what is wrong with the column. OverflowError: an
    # object column of dates Python cannot hold (after 9999), which `as_pandas` kept in Arrow.
    with contextlib.suppress(TypeError, ValueError, OverflowError):
        values = values.astype(dtype)
    return values, np.zeros(len(arr), dtype=bool)


def as_pandas(arr: pa.Array) -> pd.Series:
    """``arr.to_pandas()``, or the same values still in Arrow when Python cannot hold them.

    Dates become Python `date` objects, which stop at the years 1 and 9999; a date32 column can
    hold years far beyond (-5877641). pandas keeps such a column Arrow-backed instead.
    """
    try:
        return arr.to_pandas()
    except (ValueError, OverflowError, pa.ArrowException):
        return arr.to_pandas(types_mapper=pd.ArrowDtype)


def _integer_type(dtype: Any) -> pa.DataType:
    """The Arrow integer type of a numpy or nullable pandas integer dtype."""
    try:
        return pa.from_numpy_dtype(np.dtype(getattr(dtype, "numpy_dtype", dtype)))
    except (TypeError, pa.ArrowNotImplementedError):
        return pa.int64()


def _narrowed(floats: pa.Array, dtype: Any) -> pa.Array:
    """float64 values as a narrower float dtype (float32, float16) holds them: a finite value it
    cannot hold is null, alone; numpy's astype would make it an infinity (and warn)."""
    width = _float_width(dtype)
    if width >= 8:
        return floats
    narrow = floats.cast(pa.float32() if width == 4 else pa.float16(), safe=False)
    overflow = pc.and_(pc.is_inf(narrow), pc.is_finite(floats))
    return where(pc.invert(overflow), floats) if pc.any(overflow).as_py() else floats


def _integers(arr: pa.Array, cast: Cast | None, to: pa.DataType) -> pa.Array:
    """Integers as ``to`` from numbers or text; a cell that is no integer ``to`` holds is null,
    alone (numpy's astype would wrap it around: 300 in an int8 column read as 44)."""
    if pa.types.is_decimal(arr.type):
        return fit_cast(arr, to)  # exactly: through a float, 2**53 + 1 became 2**53
    if not pa.types.is_string(arr.type):
        return fit_cast(_number(arr, cast, integer=True), to)
    text = _number_text(arr, cast)
    out = fit_cast(_int64_text(text), to)
    if to == pa.uint64():
        # 2**63 .. 2**64-1: text past int64 that uint64 holds.
        out = pc.coalesce(out, _uint64_text(where(pc.is_null(out), text)))
    if cast is not None and cast.type == "number":
        # '1e3' and '5.0' are whole numbers too. Only text that is no plain integer goes through
        # a float, which holds integers exactly only up to 2**53.
        floats = _float_text(where(pc.is_null(out), text))
        out = pc.coalesce(out, fit_cast(_number(floats, None, integer=True), to))
    return out


def _number(arr: pa.Array, cast: Cast | None, *, integer: bool) -> pa.Array:
    """Numbers from numbers or text; integers come back in their own type (see _integers)."""
    to = pa.int64() if integer else pa.float64()
    if pa.types.is_integer(arr.type):
        # Rounded past 2**53, as the same number read from text is: a safe cast refused the
        # whole column for one such integer.
        return arr if integer else arr.cast(to, safe=False)
    if pa.types.is_floating(arr.type) or pa.types.is_decimal(arr.type):
        floats = safe_cast(arr, pa.float64())
        if not integer:
            return floats
        whole = pc.and_(pc.equal(pc.floor(floats), floats), pc.less(pc.abs(floats), 2.0**62))
        return where(whole, floats).cast(pa.int64())
    if pa.types.is_boolean(arr.type):
        return arr.cast(to)
    if not pa.types.is_string(arr.type):
        return pa.nulls(len(arr), type=to)
    if integer:
        return _integers(arr, cast, to)
    return _float_text(_number_text(arr, cast))


def _number_text(arr: pa.Array, cast: Cast | None) -> pa.Array:
    """Number text with the cast's separators taken out, '.' for its decimal point."""
    text = arr
    if cast is not None and "." not in (cast.decimal, cast.thousands):
        # With decimal ',' a '.' is no decimal point: German '1.234' is 1234 with its thousands
        # unmarked, and reading it as 1.234 (as replacing ',' alone did) was 1000 times off, silently.
        text = where(pc.invert(pc.match_substring(text, ".")), text)
    if cast is not None and cast.thousands:
        # Separators are only dropped where they group digits in threes: dropping them anywhere
        # would read "1..0" as 10 and ".5" as 5, wrong numbers instead of cast_failed.
        grouped = pc.match_substring_regex(text, _grouped(cast))
        plain = pc.invert(pc.match_substring(text, cast.thousands))
        text = where(pc.or_(plain, grouped), text)
        text = pc.replace_substring(text, cast.thousands, "")
    if cast is not None and cast.decimal != ".":
        text = pc.replace_substring(text, cast.decimal, ".")
    return text


def _float_text(text: pa.Array) -> pa.Array:
    return where(pc.match_substring_regex(text, _FLOAT), text).cast(pa.float64())


def _int64_text(text: pa.Array) -> pa.Array:
    ok = pc.and_(pc.match_substring_regex(text, _INT), _fits_int64(text))
    return _without_plus(where(ok, text)).cast(pa.int64())


def _uint64_text(text: pa.Array) -> pa.Array:
    digits = pc.utf8_ltrim(text, characters="+")
    fits = pc.or_(pc.less(pc.utf8_length(digits), 20), pc.less_equal(digits, _UINT64_DIGITS))
    ok = pc.and_(pc.match_substring_regex(text, _UINT), fits)
    return _without_plus(where(ok, text)).cast(pa.uint64())


def _without_plus(text: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(text, r"^\+", "")  # Arrow reads "-5" but not "+5"


def _grouped(cast: Cast) -> str:
    """A number whose integer part is grouped in threes by ``cast.thousands``, as an RE2 pattern."""

    def char(c: str) -> str:
        return f"\\x{{{ord(c):x}}}"  # RE2 hex escape: safe for any separator ('.', ' ', "'")

    return rf"^[+-]?\d{{1,3}}({char(cast.thousands or '')}\d{{3}})+({char(cast.decimal)}\d*)?([eE][+-]?\d+)?$"


def _fits_int64(text: pa.Array) -> pa.Array:
    """Whether integer text of up to 19 digits fits int64: Arrow's cast fails the whole column
    on one that does not."""
    digits = pc.utf8_ltrim(text, characters="+-")
    limit = pc.if_else(pc.starts_with(text, "-"), _INT64_DIGITS[1], _INT64_DIGITS[0])
    short = pc.less(pc.utf8_length(digits), 19)
    return pc.or_(short, pc.less_equal(digits, limit))


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
