"""Failed cells told apart: why each failed, where "not a number" or "not a date" would blame the
wrong thing and send users to correct a cast that was right.

Each function takes the cells that failed to convert and returns those it explains, with a
reason code (the problem's ``check``) and a detail saying what to do; the rest keep the cast's
own description (`coerce.describe`).

A stray separator ('1.234' with decimal ',') is not malformed so much as ambiguous: 1234 in a
German export that leaves some thousands unmarked, 1.234 in an English one. The cast decides;
the detail says which declaration would read it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datakeep.schemas import Cast
from datakeep.validate import times
from datakeep.validate.coerce import parse, reads_digits
from datakeep.validate.plan import Step
from datakeep.validate.pyvalues import as_python
from datakeep.validate.scaling import scaled

#: The characters a number's text uses to mark decimals or group thousands, one way or the other.
_MARKS = ".,"


def stray_marks(cast: Cast | None) -> str:
    """The marks the cast gives no meaning: '.' with decimal ',', ',' with the default '.'."""
    decimal = cast.decimal if cast is not None else "."
    thousands = cast.thousands if cast is not None else None
    return "".join(c for c in _MARKS if c not in (decimal, thousands))


def with_stray_mark(cells: pa.Array, cast: Cast | None) -> np.ndarray:
    """Which text ``cells`` are digits and separators only, holding a mark `stray_marks` names."""
    stray = stray_marks(cast)
    if not stray:
        return np.zeros(len(cells), dtype=bool)
    marks = _escaped(_MARKS + (cast.decimal + (cast.thousands or "") if cast is not None else ""))
    shaped = pc.match_substring_regex(cells, rf"^[+-]?[\d{marks}]*\d[\d{marks}]*$")
    holds = pc.match_substring_regex(cells, f"[{_escaped(stray)}]")
    return pc.and_(shaped, holds).fill_null(False).to_numpy(zero_copy_only=False)


def _escaped(chars: str) -> str:
    """``chars`` as RE2 hex escapes, safe inside a character class whatever the separator."""
    return "".join(f"\\x{{{ord(c):x}}}" for c in chars)


def describe_stray(cast: Cast | None) -> str:
    """Why a value holding a stray mark failed, and the declaration that would read it."""
    decimal = cast.decimal if cast is not None else "."
    thousands = cast.thousands if cast is not None else None
    stray = stray_marks(cast)
    marks = " or ".join(f"'{c}'" for c in stray)
    declared = f"'{thousands}'" if thousands else "none declared"
    what = f"{marks} is neither the decimal mark ('{decimal}') nor the thousands separator ({declared})"
    if cast is None:
        mark = stray[0]
        todo = (
            f"declare a cast in the source mapping: {{type: number, thousands: '{mark}'}} if it groups "
            f"thousands, {{type: number, decimal: '{mark}'}} if it is the decimal mark"
        )
    elif decimal == "." or len(stray) > 1:
        mark = stray[0]
        todo = f"set thousands: '{mark}' in the cast if it groups thousands, or decimal: '{mark}' if it is the "
        todo += "decimal mark"
    else:
        todo = f"set thousands: '{stray}' in the cast if it groups thousands in this source (1{stray}234{decimal}5)"
    return f"{what}, so the value is not read as a number; {todo}"


def time_text_problems(arr: pa.Array, failed: np.ndarray, step: Step, kind: str) -> list[tuple[np.ndarray, str, str]]:
    """Of the ``failed`` cells of text going to a time column, those that read as times with the
    column's formats and fail for another reason, each told apart: a year outside 1000..9999 (a
    placeholder such as 0001-01-01), and in a zoned column a local time its zone skips or repeats.
    Blaming the format for them sent users to correct a format that was right."""
    if not failed.any() or kind not in ("datetime", "zoned"):
        return []
    if step.spec is not None and step.spec.values is not None:
        return []  # a value map's targets are what was parsed, not these cells
    clock_change = (
        "clock_change",
        f"a local time that {getattr(step.dtype, 'tz', '')} skips or repeats at a clock change, so it names "
        "no single instant; write such times with their offset (+01:00) or in UTC",
    )
    naive_times = pa.types.is_date(arr.type) or (pa.types.is_timestamp(arr.type) and arr.type.tz is None)
    if kind == "zoned" and naive_times:
        return [(failed.copy(), *clock_change)]  # what apply's `_unheld` left: no range problem
    cast = step.spec.cast if step.spec is not None else None
    digits = reads_digits(arr.type, cast)  # integers read as text, as `coerce.parse` reads them
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or digits):
        return []
    formats = times.text_formats(cast, zoned=kind == "zoned")
    at = np.flatnonzero(failed)
    cells = arr.take(pa.array(at, type=pa.int64()))
    if not pa.types.is_string(cells.type):
        cells = cells.cast(pa.string())
    problems: list[tuple[np.ndarray, str, str]] = []
    far = times.outside_years(cells, formats)
    if far.any():
        mask = np.zeros(len(failed), dtype=bool)
        mask[at[far]] = True
        detail = (
            "a year outside 1000..9999, which dates written as text are read in; correct the value "
            "(a placeholder for 'no date', such as 0001-01-01, is better left empty, in a nullable column)"
        )
        problems.append((mask, "range", detail))
    if kind == "zoned":
        skipped = times.local_times(cells, formats) & ~far
        if skipped.any():
            mask = np.zeros(len(failed), dtype=bool)
            mask[at[skipped]] = True
            problems.append((mask, *clock_change))
    return problems


def stray_separators(arr: pa.Array, failed: np.ndarray, step: Step, kind: str) -> np.ndarray:
    """Of the ``failed`` cells of text going to a number column, those that failed over a '.' or
    ',' the cast gives no meaning ('1.234' with decimal ','): told apart, with the declaration
    that would read them, rather than "not a number"."""
    out = np.zeros(len(failed), dtype=bool)
    if not failed.any() or kind not in ("int", "float") or not pa.types.is_string(arr.type):
        return out
    if step.spec is not None and step.spec.values is not None:
        return out  # a value map's targets are what was parsed, not these cells
    at = np.flatnonzero(failed)
    out[at[with_stray_mark(arr.take(pa.array(at, type=pa.int64())), step.spec.cast if step.spec else None)]] = True
    return out


def scale_problems(arr: pa.Array, failed: np.ndarray, step: Step, kind: str) -> list[tuple[np.ndarray, str, str]]:
    """Of the ``failed`` cells going to an integer column through a ``scale``, those that read as
    numbers and fail only once scaled: not whole (0,005 × 100 is 0.5 cents), or past what the
    dtype holds. Blaming the number's text for them sent users to a cast that was right."""
    spec = step.spec
    if not failed.any() or kind != "int" or spec is None or spec.scale is None or spec.values is not None:
        return []
    at = np.flatnonzero(failed)
    cells = arr.take(pa.array(at, type=pa.int64()))
    numbers, unread = parse(cells, spec.cast, np.dtype("float64"))
    product = scaled(numbers, spec.scale).to_numpy(zero_copy_only=False)
    read = ~unread & ~np.isnan(product)
    whole = read & (np.floor(product) == product)
    problems: list[tuple[np.ndarray, str, str]] = []
    factor = f"{spec.scale:g}"
    part = read & ~whole
    if part.any():
        first = int(np.flatnonzero(part)[0])
        example = f"{as_python(cells.slice(first, 1))[0]!r} × {factor} = {product[first]:.15g}"
        detail = (
            f"not a whole number once scaled (e.g. {example}), which the {step.dtype} column "
            f"'{step.column}' needs; correct the value, or the scale"
        )
        problems.append((_spread(at, part, len(failed)), "scale", detail))
    if whole.any():
        detail = f"outside the range {step.dtype} holds once scaled × {factor}; correct the value, or the scale"
        problems.append((_spread(at, whole, len(failed)), "range", detail))
    return problems


def _spread(at: np.ndarray, picked: np.ndarray, n: int) -> np.ndarray:
    """A mask of ``n`` cells, set at the positions ``at`` where ``picked`` is."""
    out = np.zeros(n, dtype=bool)
    out[at[picked]] = True
    return out
