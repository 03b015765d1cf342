"""Small Arrow helpers for cells being parsed: casts that give nulls instead of failing, a
selection by mask, and text that counts only when it has no surrounding spaces."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def safe_cast(arr: pa.Array, to: pa.DataType) -> pa.Array:
    try:
        return arr.cast(to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(arr), type=to)


def fit_cast(arr: pa.Array, to: pa.DataType) -> pa.Array:
    """``arr`` as ``to``, cell by cell: a cell ``to`` cannot hold exactly is null, alone.

    Arrow's safe cast refuses the whole array for one such cell (one date in the year 9999 going
    to nanoseconds failed every row), and its unsafe cast wraps or truncates it silently; so the
    unsafe cast is kept where it casts back to the value it came from. Integers of the other
    sign share their bits with it, which the round trip cannot see: the signs are compared too.
    """
    try:
        return arr.cast(to)
    except pa.ArrowNotImplementedError:
        return pa.nulls(len(arr), type=to)
    except pa.ArrowInvalid:
        pass  # some cell does not fit: find which
    out = arr.cast(to, safe=False)
    fits = pc.equal(out.cast(arr.type, safe=False), arr)
    if pa.types.is_signed_integer(arr.type) and pa.types.is_unsigned_integer(to):
        fits = pc.and_(fits, pc.greater_equal(arr, 0))
    elif pa.types.is_unsigned_integer(arr.type) and pa.types.is_signed_integer(to):
        fits = pc.and_(fits, pc.greater_equal(out, 0))
    return where(fits, out)


def clean_text(arr: pa.Array) -> pa.Array:
    """Text with surrounding spaces is not a clean value; make it fail rather than guess."""
    trimmed = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(trimmed, arr), arr, pa.scalar(None, pa.string()))


def where(mask: pa.Array, values: pa.Array) -> pa.Array:
    """``values`` where ``mask`` is true, null elsewhere."""
    return pc.if_else(mask, values, pa.scalar(None, values.type))
