"""Text read as dates and times: the mapping's strptime format applied in Arrow, checked by
printing each value back (Arrow's strptime alone accepts 2024-02-30), with the directives
Arrow lacks (%f, %z, %Z, names in any letter case) handled apart; zoned columns, where a local
time the zone skips or repeats names no instant and fails."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from datakeep.schemas import Cast
from datakeep.validate.cells import clean_text, fit_cast, where

# ISO text, with or without a fraction of a second; the fractions only for the cells the plain
# formats left, as they are read apart (see _strptime_with_fraction).
_ISO_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S.%f",
)
# Text in a zoned column is often written with its offset ('Z', '+01:00'), which keeps its
# instant. Local times are read first, in Arrow; offsets only for the cells left, as they are
# read in Python (see _strptime_with_offsets).
_ZONED_ISO_OFFSET = tuple(f"{fmt}%z" for fmt in _ISO_FORMATS[1:])
# The zone names %Z reads: the two that mean the same on every machine (see _strptime_in_utc).
_UTC_NAMES = ("UTC", "GMT")
# Directives that read names, which Python's strptime reads in any letter case ('JAN', 'pm').
_NAMED = frozenset("aAbBhpc")
# The directives read as Python's strptime reads them, in every format: by Arrow (checked by
# printing back), and by Python where Python reads the format (%z; the fraction's place for %f).
_DIRECTIVES = "YmdHMSfzZybBaApIjUWwucxX%"
# C's strptime directives, which Arrow reads but Python's strptime does not know, so only in a
# format without %f or %z; each with what to write instead.
_C_DIRECTIVES = {
    "F": "%Y-%m-%d for %F",
    "T": "%H:%M:%S for %T",
    "D": "%m/%d/%y for %D",
    "R": "%H:%M for %R",
    "r": "%I:%M:%S %p for %r",
    "h": "%b for %h",
    "C": "%Y for %C%y",
}
_READ_BY_PYTHON = frozenset("fz")
# The years text is read in: four digits, as every strftime prints %Y (see _printed_back).
_YEARS = (1000, 9999)
# datetime64 and timedelta64 hold int64's range but its smallest value, which is numpy's NaT.
_LOWEST, _HIGHEST = -(2**63) + 1, 2**63 - 1
_PER_DAY = {"s": 86_400, "ms": 86_400 * 10**3, "us": 86_400 * 10**6, "ns": 86_400 * 10**9}


# strftime directives that print a zero-padded number: field of the parsed value, and width
_NUMERIC_FIELDS = {
    "Y": ("year", 4),
    "m": ("month", 2),
    "d": ("day", 2),
    "H": ("hour", 2),
    "M": ("minute", 2),
    "S": ("second", 2),  # 60 is read as the next minute's 00: it fails the comparison, as it should
}


def datetimes(arr: pa.Array, cast: Cast | None, unit: str) -> pa.Array:
    target = pa.timestamp(unit if unit in ("s", "ms", "us", "ns") else "ns")
    if pa.types.is_timestamp(arr.type) or pa.types.is_date(arr.type):
        return held(arr, target)
    if not pa.types.is_string(arr.type):
        return pa.nulls(len(arr), type=target)
    return held(_parsed_times(arr, *text_formats(cast, zoned=False)), target)


def held(arr: pa.Array, to: pa.DataType, *, margin: bool = False) -> pa.Array:
    """Timestamps, dates or durations as ``to`` (a timestamp or duration type); a cell outside the
    range numpy's datetime64/timedelta64 of its unit holds, or finer than its unit, is null alone.

    ``margin`` keeps a day clear of the range's ends: a local time there would leave the range
    when moved to UTC, and Arrow's time zone conversion wraps around instead of failing.
    """
    out = fit_cast(arr, to)
    low, high = _limits(to.unit, margin=margin)
    ticks = out.view(pa.int64())
    inside = pc.and_(pc.greater_equal(ticks, low), pc.less_equal(ticks, high))
    return out if pc.all(inside).as_py() is not False else where(inside, out)


def _limits(unit: str, *, margin: bool) -> tuple[int, int]:
    day = _PER_DAY[unit] if margin else 0
    return _LOWEST + day, _HIGHEST - day


def span(unit: str, *, margin: bool = False) -> tuple[str, str]:
    """The first and last day `held` keeps for ``unit`` (``margin`` as there), as ISO dates."""
    first, last = np.datetime_as_string(np.array(_limits(unit, margin=margin), dtype=f"datetime64[{unit}]"), unit="D")
    return str(first), str(last)


def longest(unit: str) -> int:
    """The most whole days a timedelta64 of ``unit`` holds, either way."""
    return _HIGHEST // _PER_DAY[unit]


def _parsed_times(arr: pa.Array, *formats: str) -> pa.Array:
    """Text read with the first of ``formats`` that fits each cell, in microseconds; a year
    outside 1000..9999 is null. The result is zoned (UTC) when the formats have an offset or a
    zone name (%z, %Z), naive otherwise."""
    out = _read_any_year(arr, *formats)
    return where(_in_years(out), out)


def _in_years(parsed: pa.Array) -> pa.Array:
    low, high = _YEARS
    year = pc.year(parsed)
    return pc.and_(pc.greater_equal(year, low), pc.less_equal(year, high))


def _read_any_year(arr: pa.Array, *formats: str) -> pa.Array:
    """`_parsed_times` before years outside 1000..9999 are taken out."""
    text = clean_text(arr)
    out = _strict_strptime(text, formats[0])
    for fmt in formats[1:]:
        unread = pc.and_(pc.is_valid(text), pc.is_null(out))
        if not pc.any(unread).as_py():
            break
        # Only the cells no earlier format read: parsing and printing back the others is wasted.
        out = pc.coalesce(out, _strict_strptime(where(unread, text), fmt))
    return out


def text_formats(cast: Cast | None, *, zoned: bool) -> tuple[str, ...]:
    """The formats text going to a naive (or ``zoned``) datetime column is read with."""
    if cast is not None and cast.format:
        return (cast.format,)
    return (*_ISO_FORMATS, *_ZONED_ISO_OFFSET) if zoned else _ISO_FORMATS


def outside_years(text: pa.Array, formats: tuple[str, ...]) -> np.ndarray:
    """Which cells of ``text`` read with ``formats`` but hold a year outside 1000..9999, the years
    text is read in (placeholders such as 0001-01-01): a value out of range, not malformed."""
    parsed = _read_any_year(text, *formats)
    far = pc.fill_null(pc.invert(_in_years(parsed)), False)  # an unread cell is null here
    return far.to_numpy(zero_copy_only=False)


def local_times(text: pa.Array, formats: tuple[str, ...]) -> np.ndarray:
    """Which cells of ``text`` read as local times (no offset) with ``formats``: where such a
    cell fails in a zoned column, the zone skips or repeats that time."""
    local = tuple(fmt for fmt in formats if not {"z", "Z"} & directives(fmt))
    if not local:
        return np.zeros(len(text), dtype=bool)
    return _parsed_times(text, *local).is_valid().to_numpy(zero_copy_only=False)


def zoned_text(arr: pa.Array, cast: Cast | None, dtype: pd.DatetimeTZDtype) -> pa.Array:
    """Text as times in ``dtype``'s zone: read with the mapping's format when it has one, never
    pandas' guess (which read 01.04.2024 as January 4th), else as ISO. Local times are in the zone
    (one it skips or repeats is null, as for naive timestamps); text with an offset keeps its
    instant."""
    if cast is not None and cast.format:
        return zoned(_parsed_times(arr, cast.format), dtype)
    local = _parsed_times(arr, *_ISO_FORMATS)
    out = zoned(local, dtype)
    unread = pc.and_(pc.is_valid(arr), pc.is_null(local))
    if not pc.any(unread).as_py():
        return out
    offsets = _parsed_times(where(unread, arr), *_ZONED_ISO_OFFSET)
    return pc.coalesce(out, zoned(offsets, dtype))


def zoned(arr: pa.Array, dtype: pd.DatetimeTZDtype) -> pa.Array:
    """Timestamps or dates in ``dtype``'s zone: zoned ones converted (the same instants), naive
    ones and dates read as local times there, as text is. A local time the zone skips or has
    twice (clocks going forward or back) is null: it names no single instant; so is a time the
    dtype cannot hold (see `held`)."""
    zone = str(dtype.tz)
    target = pa.timestamp(dtype.unit, tz=zone)
    if pa.types.is_timestamp(arr.type) and arr.type.tz is not None:
        return held(arr, target)  # the same instants: nothing moves
    naive = held(arr, pa.timestamp(dtype.unit), margin=True)
    try:
        first = pc.assume_timezone(naive, timezone=zone, ambiguous="earliest", nonexistent="earliest")
        last = pc.assume_timezone(naive, timezone=zone, ambiguous="latest", nonexistent="latest")
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(arr), type=target)  # a zone Arrow does not know
    return where(pc.equal(first, last), first).cast(target)


def format_problem(fmt: str) -> tuple[str, str] | None:
    """What keeps the cast format ``fmt`` from being read, and what to write instead; None when
    it is read as documented. A directive not read here would fail every cell as cast_failed,
    blaming the data for the mapping, so a mapping with one is refused when it loads.

    Python's strptime knows %G and %V (ISO weeks) too, but Arrow reads no date from them, and
    %e (a space-padded day) is C's alone and not read by Arrow either.
    """
    tokens = _tokens(fmt)
    if tokens and tokens[-1] == "%":  # a lone '%' is the only one-character token that is one
        return f"{fmt!r} ends in a lone '%'", "write %% for a literal %"
    used = [token[1] for token in tokens if len(token) == 2]
    by_python = not _READ_BY_PYTHON.isdisjoint(used)
    for letter in used:
        if letter in _DIRECTIVES or (letter in _C_DIRECTIVES and not by_python):
            continue
        if letter in _C_DIRECTIVES:
            return (
                f"'%{letter}' in {fmt!r} cannot be used with %f or %z, "
                "which are read as Python's strptime reads them, and it does not know it",
                f"write {_C_DIRECTIVES[letter]}",
            )
        iso = "; ISO weeks are not read: write %Y with %W or %U and a weekday (%a, %w, %u)" if letter in "GV" else ""
        return f"'%{letter}' in {fmt!r} is not a strptime directive datakeep reads", _DIRECTIVES_HINT + iso
    if "z" in used:
        import _strptime

        try:
            _strptime.TimeRE().compile(fmt)  # what _strptime_with_offsets reads with
        except re.error:
            return (
                f"{fmt!r} reads a field twice, which Python's strptime, reading a format with %z, cannot",
                "name each field once",
            )
    return None


_DIRECTIVES_HINT = (
    f"directives read: {' '.join('%' + letter for letter in _DIRECTIVES)}, "
    f"and {' '.join('%' + letter for letter in _C_DIRECTIVES)} in a format without %f or %z"
)


def _strict_strptime(text: pa.Array, fmt: str) -> pa.Array:
    """``text`` read with ``fmt`` as Python's strptime reads it, refusing impossible dates.

    Arrow reads most formats (see _checked_strptime); what it reads otherwise than Python goes
    another way: an offset (%z) to Python itself, fractions of a second (%f) and a zone name (%Z)
    are taken out of the text first, and names and letters in another case are read again.
    """
    used = directives(fmt)
    if "z" in used:
        return _strptime_with_offsets(text, fmt)
    if "f" in used:
        return _strptime_with_fraction(text, fmt)
    if "Z" in used:
        return _strptime_in_utc(text, fmt)
    parsed = _checked_strptime(text, fmt)
    return _in_any_case(text, fmt, parsed) if _has_letters(fmt) else parsed


def _checked_strptime(text: pa.Array, fmt: str) -> pa.Array:
    """Arrow's strptime, refusing impossible dates: Arrow rolls 2024-02-30 over to 2024-03-01.

    A parsed value must print back as the text it came from; leading zeros are forgiven, so
    '1/2/2020' still reads with '%d/%m/%Y' as Python's strptime would read it, and so is the
    case of letters ('JAN' prints back as 'Jan').

    Printing with Arrow's strftime costs about 1 s per million rows, so for formats made of
    zero-padded numeric fields (``%Y %m %d %H %M %S``) the text is first compared with the same
    fields printed from the parsed parts; only cells that comparison cannot settle (other
    formats, unpadded text, impossible dates, years outside 1000..9999) go through strftime.
    """
    parsed = pc.strptime(text, format=fmt, unit="us", error_is_null=True)
    valid = parsed.is_valid()
    if not pc.any(valid).as_py():
        return parsed
    sure = _printed_back(parsed, text, fmt)
    unsure = pc.and_not(valid, sure) if sure is not None else valid
    if not pc.any(unsure).as_py():
        return where(sure, parsed)
    rest = np.flatnonzero(unsure.to_numpy(zero_copy_only=False))
    positions = pa.array(rest, type=pa.int64())
    sub_text, sub_parsed = text.take(positions), parsed.take(positions)
    printed = pc.strftime(_for_printing(sub_parsed, fmt), format=fmt)
    same = pc.fill_null(pc.equal(printed, sub_text), False)
    if not pc.all(same).as_py():
        any_case = _has_letters(fmt)
        loosely_same = pc.equal(_loose(printed, any_case=any_case), _loose(sub_text, any_case=any_case))
        same = pc.or_(same, pc.fill_null(loosely_same, False))
    keep = sure.to_numpy(zero_copy_only=False) if sure is not None else np.zeros(len(text), dtype=bool)
    keep[rest[same.to_numpy(zero_copy_only=False)]] = True
    return where(pa.array(keep), parsed)


def _in_any_case(text: pa.Array, fmt: str, parsed: pa.Array) -> pa.Array:
    """Python's strptime matches names and letters in any case ('JAN', 'pm', a 't' for 'T').

    Arrow reads names so, but matches literal letters exactly: the cells it did not read are read
    again with text and literal letters in lower case, so text written as the format has it costs
    nothing more.
    """
    unread = pc.and_(pc.is_valid(text), pc.is_null(parsed))
    if not pc.any(unread).as_py():
        return parsed
    lowered = pc.utf8_lower(where(unread, text))
    return pc.coalesce(parsed, _checked_strptime(lowered, _lower_literals(fmt)))


def _strptime_with_fraction(text: pa.Array, fmt: str) -> pa.Array:
    """A format with fractions of a second (%f), which Arrow cannot read.

    The digits are cut out of each text where Python's own pattern for ``fmt`` finds them, the
    rest is read with the rest of the format, and the fraction added back: 1 to 6 digits, as
    Python reads them ('5' is half a second). Text that does not match the pattern is null.
    """
    head, tail = _split_at(fmt, "f")
    pattern = _fraction_pattern(head, tail)
    if pattern is None:
        # A directive Python's strptime does not know: it reads nothing with this format either.
        return pa.nulls(len(text), type=pa.timestamp("us"))
    before, digits, after = pc.extract_regex(text, pattern=pattern).flatten()
    whole = _strict_strptime(pc.binary_join_element_wise(before, after, ""), head + tail)
    micros = pc.cast(pc.utf8_rpad(digits, width=6, padding="0"), pa.int64())
    return pc.add(whole, pc.cast(micros, pa.duration("us")))


def _fraction_pattern(head: str, tail: str) -> str | None:
    """An RE2 pattern matching what Python's strptime reads with ``head + '%f' + tail``, in three
    named groups; None when Python does not know a directive in them."""
    import _strptime  # the stdlib's strptime: its patterns are what "as Python reads" means

    try:
        python = _strptime.TimeRE()
        before, after = python.pattern(head), python.pattern(tail)
    except (KeyError, IndexError, ValueError):
        return None
    # Arrow returns every named group, and Python names one per directive: keep only ours.
    before, after = (re.sub(r"\(\?P<\w+>", "(?:", part) for part in (before, after))
    return f"(?i)^(?P<head>{before})(?P<fraction>[0-9]{{1,6}})(?P<tail>{after})$"


def _strptime_in_utc(text: pa.Array, fmt: str) -> pa.Array:
    """A format with a zone name (%Z): the name must be UTC or GMT, in any case; times are UTC.

    Arrow's %Z reads any word, or none, and ignores it. Python's reads UTC, GMT and the names of
    the machine's own zone (CET on a machine in Berlin), then drops the name; reading those too
    would make a file pass on one machine and fail on another, and mean a different instant.
    """
    utc, gmt = (_replace_directive(fmt, "Z", name) for name in _UTC_NAMES)
    out = _strict_strptime(text, utc)
    out = pc.coalesce(out, _strict_strptime(where(pc.is_null(out), text), gmt))
    return pc.assume_timezone(out, timezone="UTC")


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
        except (ValueError, re.error):  # re.error: a directive twice, which Python cannot read
            moment = None
        micros.append(None if moment is None else (moment - epoch) // dt.timedelta(microseconds=1))
    parsed = pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    return parsed.take(pc.index_in(text, value_set=distinct))


def _tokens(fmt: str) -> list[str]:
    """``fmt`` in pieces: directives ('%d', '%%') and single literal characters."""
    tokens: list[str] = []
    at = 0
    while at < len(fmt):
        size = 2 if fmt[at] == "%" and at + 1 < len(fmt) else 1
        tokens.append(fmt[at : at + size])
        at += size
    return tokens


def directives(fmt: str) -> set[str]:
    """The letters of the directives in ``fmt``: '%%Y' has none."""
    return {token[1] for token in _tokens(fmt) if len(token) == 2}


def _has_letters(fmt: str) -> bool:
    """Whether ``fmt`` reads names or literal letters, which Python matches in any case."""
    return any(token[1] in _NAMED if len(token) == 2 else token.isalpha() for token in _tokens(fmt))


def _lower_literals(fmt: str) -> str:
    return "".join(token if len(token) == 2 else token.lower() for token in _tokens(fmt))


def _replace_directive(fmt: str, letter: str, text: str) -> str:
    return "".join(text if token == f"%{letter}" else token for token in _tokens(fmt))


def _split_at(fmt: str, letter: str) -> tuple[str, str]:
    """The format before and after the first directive ``letter``."""
    tokens = _tokens(fmt)
    at = tokens.index(f"%{letter}")
    return "".join(tokens[:at]), "".join(tokens[at + 1 :])


def _for_printing(parsed: pa.Array, fmt: str) -> pa.Array:
    """Arrow prints %S with the unit's fraction ('05.000000'); at second resolution it prints
    '05', as the text being checked has it."""
    if "%S" in fmt or "%T" in fmt:
        return pc.cast(parsed, pa.timestamp("s", tz=parsed.type.tz), safe=False)
    return parsed


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
            return None  # a name (%b), a directive not in _NUMERIC_FIELDS, ...
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


def _loose(text: pa.Array, *, any_case: bool) -> pa.Array:
    """Text as compared when leading zeros are forgiven, and letter case too where ``any_case``."""
    unpadded = _unpad(text)
    return pc.utf8_lower(unpadded) if any_case else unpadded


def _unpad(text: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(text, r"(^|[^0-9])0+([0-9])", r"\1\2")
