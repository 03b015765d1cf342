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

# "inf" and "nan" are numbers too: a float column holds them, and Arrow writes them so in CSV.
_FLOAT = r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|(?i:inf|infinity|nan))$"
_INT = r"^[+-]?\d{1,19}$"
# The 19-digit integers int64 holds, as text: digits of one length compare as numbers do.
_INT64_DIGITS = ("9223372036854775807", "9223372036854775808")  # largest, and largest negative
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
        return "zoned"
    if isinstance(dtype, np.dtype) and dtype.kind == "O":
        # object holds any Python value (lists, dicts, bytes, Decimals): there is nothing to
        # convert it to, and pandas calling it a "string" dtype would turn a list into its repr.
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
    if kind == "zoned":
        return "a local time the schema's time zone skips or repeats (a clock change)"
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
    elif kind == "int":
        out = _fit_integers(_number(arr, cast, integer=True), _integer_type(dtype))
    elif kind == "float":
        out = _number(arr, cast, integer=False)
    elif kind == "bool":
        out = _bool(arr, cast)
    elif kind == "string":
        out = arr if pa.types.is_string(arr.type) else _safe_cast(arr, pa.string())
    elif kind == "zoned" and (pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type)):
        out = _zoned(arr, dtype)
    elif kind == "zoned" and pa.types.is_string(arr.type) and cast is not None and cast.format:
        # The mapping's format, never pandas' guess (which read 01.04.2024 as January 4th).
        out = _zoned(_parsed_times(arr, cast.format, unit=dtype.unit), dtype)
    else:
        # (Text for a zoned dtype: pandas reads it below, local times in the zone, as written.)
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
    # On failure pandera's dtype check says what is wrong with the column.
    with contextlib.suppress(TypeError, ValueError):
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
    formats = (cast.format,) if cast is not None and cast.format else _ISO_FORMATS
    return _parsed_times(arr, *formats, unit=target.unit).cast(target)


def _parsed_times(arr: pa.Array, *formats: str, unit: str) -> pa.Array:
    """Text read with the first of ``formats`` that fits each cell; a year ``unit`` cannot hold
    is null. The result is zoned (UTC) when a format has an offset (%z), naive otherwise."""
    text = _clean_text(arr)
    out = _strict_strptime(text, formats[0])
    for fmt in formats[1:]:
        out = pc.coalesce(out, _strict_strptime(text, fmt))
    low, high = _YEARS.get(unit, _DEFAULT_YEARS)
    year = pc.year(out)
    in_range = pc.and_(pc.greater_equal(year, low), pc.less_equal(year, high))
    return pc.if_else(in_range, out, pa.scalar(None, out.type))


def _zoned(arr: pa.Array, dtype: pd.DatetimeTZDtype) -> pa.Array:
    """Timestamps or dates in ``dtype``'s zone: zoned ones converted (the same instants), naive
    ones and dates read as local times there, as text is. A local time the zone skips or has
    twice (clocks going forward or back) is null: it names no single instant."""
    zone = str(dtype.tz)
    target = pa.timestamp(dtype.unit, tz=zone)
    try:
        if pa.types.is_timestamp(arr.type) and arr.type.tz is not None:
            return arr.cast(target)
        naive = arr.cast(pa.timestamp(dtype.unit))
        first = pc.assume_timezone(naive, timezone=zone, ambiguous="earliest", nonexistent="earliest")
        last = pc.assume_timezone(naive, timezone=zone, ambiguous="latest", nonexistent="latest")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(arr), type=target)  # a zone Arrow does not know, or out of range
    return pc.if_else(pc.equal(first, last), first, pa.scalar(None, first.type)).cast(target)


def _strict_strptime(text: pa.Array, fmt: str) -> pa.Array:
    """strptime that refuses impossible dates: Arrow rolls 2024-02-30 over to 2024-03-01.

    A parsed value must print back as the text it came from; leading zeros are forgiven, so
    '1/2/2020' still reads with '%d/%m/%Y' as Python's strptime would read it.

    Printing with Arrow's strftime costs about 1 s per million rows, so for formats made of
    zero-padded numeric fields (``%Y %m %d %H %M``) the text is first compared with the same
    fields printed from the parsed parts; only cells that comparison cannot settle (other
    formats, unpadded text, impossible dates, years outside 1000..9999) go through strftime.
    """
    if "%z" in fmt:
        return _strptime_with_offsets(text, fmt)
    parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
    valid = parsed.is_valid()
    if not pc.any(valid).as_py():
        return parsed
    sure = _printed_back(parsed, text, fmt)
    unsure = pc.and_not(valid, sure) if sure is not None else valid
    if not pc.any(unsure).as_py():
        return pc.if_else(sure, parsed, pa.scalar(None, parsed.type))
    rest = np.flatnonzero(unsure.to_numpy(zero_copy_only=False))
    positions = pa.array(rest, type=pa.int64())
    sub_text, sub_parsed = text.take(positions), parsed.take(positions)
    printed = pc.strftime(_for_printing(sub_parsed, fmt), format=fmt)
    same = pc.fill_null(pc.equal(printed, sub_text), False)
    if not pc.all(same).as_py():
        unpadded = pc.equal(_unpad(printed), _unpad(sub_text))
        same = pc.or_(same, pc.fill_null(unpadded, False))
    keep = sure.to_numpy(zero_copy_only=False) if sure is not None else np.zeros(len(text), dtype=bool)
    keep[rest[same.to_numpy(zero_copy_only=False)]] = True
    return pc.if_else(pa.array(keep), parsed, pa.scalar(None, parsed.type))


def _strptime_with_offsets(text: pa.Array, fmt: str) -> pa.Array:
    """A format with an offset (%z), read by Python's strptime once per distinct text.

    Arrow's parse is in UTC and cannot be printed back in the text's own offset, which the check
    against rolled-over dates needs: every '+02:00' time failed it. Python's strptime refuses
    2024-02-30 itself, and reads 'Z' and '+02:00' as well as '+0200'.
    """
    import datetime as dt

    distinct = pc.unique(text)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    micros: list[int | None] = []
    for value in distinct.to_pylist():
        try:
            moment = dt.datetime.strptime(value, fmt) if value is not None else None
        except ValueError:
            moment = None
        micros.append(None if moment is None else (moment - epoch) // dt.timedelta(microseconds=1))
    parsed = pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    return parsed.take(pc.index_in(text, value_set=distinct))


def _for_printing(parsed: pa.Array, fmt: str) -> pa.Array:
    """Arrow prints %S with the unit's fraction ('05.000000'); at second resolution it prints
    '05', as the text being checked has it."""
    if "%S" in fmt or "%T" in fmt:
        return pc.cast(parsed, pa.timestamp("s", tz=parsed.type.tz), safe=False)
    return parsed


# strftime directives that print a zero-padded number: field of the parsed value, and width
_NUMERIC_FIELDS = {"Y": ("year", 4), "m": ("month", 2), "d": ("day", 2), "H": ("hour", 2), "M": ("minute", 2)}


def _numeric_layout(fmt: str) -> list[tuple[int, bytes | tuple[str, int]]] | None:
    """Byte offsets of the literal text and of the fields in what ``fmt`` prints, if all fixed."""
    layout: list[tuple[int, bytes | tuple[str, int]]] = []
    at = i = 0
    while i < len(fmt):
        if fmt[i] != "%":
            literal = fmt[i].encode()
        elif fmt[i + 1 : i + 2] == "%":
            literal = b"%"
        elif fmt[i + 1 : i + 2] in _NUMERIC_FIELDS:
            field = _NUMERIC_FIELDS[fmt[i + 1]]
            layout.append((at, field))
            at += field[1]
            i += 2
            continue
        else:
            return None  # %S prints fractions of a second, %b is a name, ...
        layout.append((at, literal))
        at += len(literal)
        i += 1 if fmt[i] != "%" else 2
    return layout if any(isinstance(part, tuple) for _, part in layout) else None


def _printed_back(parsed: pa.Array, text: pa.Array, fmt: str) -> pa.Array | None:
    """Cells where ``parsed`` printed with ``fmt`` is certainly ``text``; None for other formats.

    For a format of zero-padded numbers and literal text, what strftime prints has a fixed
    length and fixed places, so the text's bytes are compared there with the parsed fields,
    in numpy, without printing anything. A cell is certain only when its year has four digits,
    where every strftime prints ``%Y`` the same way; the caller settles every other cell.
    """
    layout = _numeric_layout(fmt)
    if layout is None or not pa.types.is_string(text.type) or text.buffers()[2] is None:
        return None
    last_at, last = layout[-1]
    length = last_at + (last[1] if isinstance(last, tuple) else len(last))
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset : text.offset + len(text) + 1]
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)
    sizes = np.diff(offsets)
    sure = (sizes == length) & parsed.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(sure)
    if (sizes == length).all():  # every cell has the printed length: the bytes are a matrix already
        cells = data[offsets[0] : offsets[-1]].reshape(len(text), length)[rows]
    else:
        cells = data[offsets[rows][:, None] + np.arange(length, dtype=np.int32)]
    digits = cells - np.uint8(ord("0"))  # wraps around below '0', so a digit is exactly <= 9
    ok = np.ones(len(rows), dtype=bool)
    picked = parsed.take(pa.array(rows, type=pa.int64()))
    for at, part in layout:
        if isinstance(part, bytes):
            for i, byte in enumerate(part):
                ok &= cells[:, at + i] == byte
            continue
        name, width = part
        number = np.zeros(len(rows), dtype=np.int64)
        for i in range(at, at + width):
            ok &= digits[:, i] <= 9
            number = number * 10 + digits[:, i]
        value = getattr(pc, name)(picked).to_numpy(zero_copy_only=False)
        ok &= number == value
        if name == "year":
            ok &= (value >= 1000) & (value <= 9999)
    sure[rows] = ok
    return pa.array(sure)


def _unpad(text: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(text, r"(^|[^0-9])0+([0-9])", r"\1\2")


def _integer_type(dtype: Any) -> pa.DataType:
    """The Arrow integer type of a numpy or nullable pandas integer dtype."""
    try:
        return pa.from_numpy_dtype(np.dtype(getattr(dtype, "numpy_dtype", dtype)))
    except (TypeError, pa.ArrowNotImplementedError):
        return pa.int64()


def _fit_integers(arr: pa.Array, to: pa.DataType) -> pa.Array:
    """Integers as ``to``; a value ``to`` cannot hold fails alone, never the whole column.

    numpy's astype would wrap it around instead (300 in an int8 column reads as 44).
    """
    if arr.type == to or not pa.types.is_integer(arr.type):
        return arr
    out = arr.cast(to, safe=False)
    fits = pc.equal(out.cast(arr.type, safe=False), arr)
    # A negative value and a large unsigned one share their bits: the round trip cannot see it.
    if pa.types.is_signed_integer(arr.type) and pa.types.is_unsigned_integer(to):
        fits = pc.and_(fits, pc.greater_equal(arr, 0))
    elif pa.types.is_unsigned_integer(arr.type) and pa.types.is_signed_integer(to):
        fits = pc.and_(fits, pc.greater_equal(out, 0))
    return pc.if_else(fits, out, pa.scalar(None, to))


def _number(arr: pa.Array, cast: Cast | None, *, integer: bool) -> pa.Array:
    """Numbers from numbers or text; integers come back in their own type (see _fit_integers)."""
    to = pa.int64() if integer else pa.float64()
    if pa.types.is_integer(arr.type):
        return arr if integer else _safe_cast(arr, to)
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
        # Separators are only dropped where they group digits in threes: dropping them anywhere
        # would read "1..0" as 10 and ".5" as 5, wrong numbers instead of cast_failed.
        grouped = pc.match_substring_regex(text, _grouped(cast))
        plain = pc.invert(pc.match_substring(text, cast.thousands))
        text = pc.if_else(pc.or_(plain, grouped), text, pa.scalar(None, pa.string()))
        text = pc.replace_substring(text, cast.thousands, "")
    if cast is not None and cast.decimal != ".":
        text = pc.replace_substring(text, cast.decimal, ".")
    pattern = _INT if integer and (cast is None or cast.type != "number") else _FLOAT
    ok = pc.match_substring_regex(text, pattern)
    if pattern == _INT:
        ok = pc.and_(ok, _fits_int64(text))
    text = pc.if_else(ok, text, pa.scalar(None, pa.string()))
    if integer and pattern == _FLOAT:
        return _number(text.cast(pa.float64()), None, integer=True)
    if integer:
        text = pc.replace_substring_regex(text, r"^\+", "")  # Arrow reads "-5" but not "+5"
    return text.cast(to)


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
