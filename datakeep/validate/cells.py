"""Small Arrow helpers for cells being parsed: a cast that gives nulls instead of failing, a
selection by mask, and text that counts only when it has no surrounding spaces."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc


def safe_cast(arr: pa.Array, to: pa.DataType) -> pa.Array:
    try:
        return arr.cast(to)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.nulls(len(arr), type=to)


def clean_text(arr: pa.Array) -> pa.Array:
    """Text with surrounding spaces is not a clean value; make it fail rather than guess."""
    trimmed = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(trimmed, arr), arr, pa.scalar(None, pa.string()))


def where(mask: pa.Array, values: pa.Array) -> pa.Array:
    """``values`` where ``mask`` is true, null elsewhere."""
    return pc.if_else(mask, values, pa.scalar(None, values.type))
