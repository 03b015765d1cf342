"""Number text that failed over a separator the cast does not declare: '1.234' with decimal ','.

Such a value is not malformed so much as ambiguous: '1.234' is 1234 in a German export that
leaves some thousands unmarked, and 1.234 in an English one. The cast decides; this module only
finds those cells and says which declaration would read them, instead of "not a number".
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datakeep.schemas import Cast

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
