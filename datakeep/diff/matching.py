"""Joins of small uint64 columns with numpy: sort, searchsorted and occurrence ranks, and the
key codes they join on.

These are the whole "join" of a diff: rows are matched on (key code, row hash) without ever
building a hash table of full rows. Every commit's change summary uses this module; it imports
none of the diff's result types (their dataclasses cost a commit 9 ms to create).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from datakeep import kernels, native
from datakeep.arrow_numpy import integer_view, is_integer_like, valid_mask

#: The code every null key gets.
_NULL_KEY = np.uint64(0x8000000000000000)


def sort(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, codes[order]). Stable: keys usually arrive nearly sorted, where timsort is linear."""
    order = np.argsort(codes, kind="stable")
    return order, codes[order]


def match_sorted(
    order_a: np.ndarray, sorted_a: np.ndarray, order_b: np.ndarray, sorted_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """`match_unique` on arrays already sorted by `sort`: searching sorted needles stays in cache."""
    if len(sorted_a) == 0 or len(sorted_b) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    where = np.searchsorted(sorted_a, sorted_b)
    where[where == len(sorted_a)] = 0
    hit = sorted_a[where] == sorted_b
    return order_a[where[hit]].astype(np.int64), order_b[hit].astype(np.int64)


def has_duplicates(sorted_codes: np.ndarray) -> bool:
    return bool(len(sorted_codes) > 1 and (sorted_codes[1:] == sorted_codes[:-1]).any())


def duplicates(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct duplicated codes, index of every row carrying one of them)."""
    if len(codes) < 2:
        empty = np.zeros(0, dtype=np.int64)
        return codes[:0], empty
    order = np.argsort(codes, kind="stable")
    s = codes[order]
    same = s[1:] == s[:-1]
    if not same.any():
        return codes[:0], np.zeros(0, dtype=np.int64)
    dup_values = np.unique(s[1:][same])
    rows = np.flatnonzero(np.isin(codes, dup_values))
    return dup_values, rows


def match_multiset(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Match rows whose tuples of values are equal, pairing the k-th occurrence (in row order)
    with the k-th; pairs come in order of (tuple, k).

    Sorted as integers: an intersection of (values..., k) records sorted numpy's structured
    arrays, which compare field by field in Python-level code (22 s for 5M rows against 2 s).
    """
    if len(a) == 1:
        return _match_occurrences(a[0], b[0])
    return _match_occurrences(*_tuple_ids(a, b))


def _tuple_ids(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One integer per row naming its tuple of values, the same on both sides."""
    rows_a = len(a[0])
    columns = [np.concatenate([x, y]) for x, y in zip(a, b, strict=True)]
    order = np.lexsort(columns[::-1])
    starts = np.zeros(len(order), dtype=bool)
    starts[:1] = True
    for column in columns:
        ordered = column[order]
        starts[1:] |= ordered[1:] != ordered[:-1]
    ids = np.empty(len(order), dtype=np.int64)
    ids[order] = np.cumsum(starts) - 1
    return ids[:rows_a], ids[rows_a:]


def _match_occurrences(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The k-th row of a value in ``b`` finds the k-th of that value in ``a``: stable sorts keep
    each value's rows in row order, so it sits ``k`` places after the value's first row there."""
    if len(a) == 0 or len(b) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    order_a = np.argsort(a, kind="stable")
    order_b = np.argsort(b, kind="stable")
    sorted_a, sorted_b = a[order_a], b[order_b]
    n = len(sorted_b)
    starts = np.ones(n, dtype=bool)
    starts[1:] = sorted_b[1:] != sorted_b[:-1]
    rank = np.arange(n) - np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    # Needles in sorted order: the binary searches walk memory forwards.
    candidate = np.searchsorted(sorted_a, sorted_b, "left") + rank
    found = candidate < len(sorted_a)
    found[found] = sorted_a[candidate[found]] == sorted_b[found]
    return order_a[candidate[found]].astype(np.int64), order_b[found].astype(np.int64)


def unmatched(n: int, matched: np.ndarray) -> np.ndarray:
    """Indices in range(n) that are not in ``matched``."""
    keep = np.ones(n, dtype=bool)
    keep[matched] = False
    return np.flatnonzero(keep)


#: A dense join's table may be this many times larger than both sides together.
DENSE_SLACK = 4


def dense_range(codes_a: np.ndarray, codes_b: np.ndarray) -> tuple[int, int] | None:
    """(least key, keys in the range) of two sides of integer key codes (as int64), when they fill
    a range narrow enough to address directly; None otherwise, or when a side is empty."""
    if len(codes_a) == 0 or len(codes_b) == 0:
        return None
    a, b = codes_a.view(np.int64), codes_b.view(np.int64)
    low = min(int(a.min()), int(b.min()))
    span = max(int(a.max()), int(b.max())) - low + 1
    return None if span > DENSE_SLACK * (len(a) + len(b)) + 1024 else (low, span)


def match_dense(codes_a: np.ndarray, codes_b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Match unique integer keys that fill a narrow range (ids counted up from somewhere) by
    direct addressing: one scatter and one gather, no sort. Pairs come in key order, as
    ``match_sorted`` gives them. None when the keys are not dense enough, or not unique."""
    found = dense_range(codes_a, codes_b)
    if found is None:
        return None
    low, span = found
    a, b = codes_a.view(np.int64), codes_b.view(np.int64)
    if native.AVAILABLE and native.fits_dense(span, len(a), len(b)):
        return native.dense_join(a, b, low, span)
    # Row numbers fit 32 bits in all but giant joins: half the memory of the two tables.
    index_type = np.int32 if max(len(a), len(b)) < 2**31 - 1 else np.int64
    slots: list[np.ndarray] = []
    for codes in (a, b):
        slot: np.ndarray = np.full(span, -1, dtype=index_type)
        slot[codes - low] = np.arange(len(codes), dtype=index_type)
        if np.count_nonzero(slot >= 0) != len(codes):
            return None  # a duplicated key: the caller's multiset path handles it
        slots.append(slot)
    both = slots[0] >= 0
    both &= slots[1] >= 0
    if low < 0:
        # Codes compare as unsigned elsewhere, where negative keys sort after the others.
        where = np.flatnonzero(both)
        where = np.concatenate([where[where >= -low], where[where < -low]])
        return slots[0][where], slots[1][where]
    return slots[0][both], slots[1][both]


def same_layout(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> bool:
    """True when stored row hashes of the two versions are directly comparable."""
    return [(c["name"], c["type"]) for c in old] == [(c["name"], c["type"]) for c in new]


def key_codes(keys: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """One uint64 per row naming its key: the value itself for one integer-like column (exact),
    else a 64-bit hash of the key columns. Null keys get one reserved code."""
    n = keys.num_rows
    nulls = np.zeros(n, dtype=bool)
    for column in keys.columns:
        if column.null_count:
            nulls |= ~valid_mask(column)
    if keys.num_columns == 1 and is_integer_like(keys.schema.field(0).type):
        codes = _integer_codes(keys.column(0))
    else:
        from datakeep.rowhash import row_hashes

        codes = row_hashes(keys)
    if nulls.any():
        codes = codes.copy()  # may be a read-only view of Arrow memory
        codes[nulls] = _NULL_KEY
    return codes, nulls


def _integer_codes(column: pa.ChunkedArray) -> np.ndarray:
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    t = array.type
    if not pa.types.is_integer(t):
        array = array.view(pa.int32() if t.bit_width == 32 else pa.int64())
    if array.null_count:
        array = kernels.fill_null(array, 0)
    # A view, not a copy: for 64-bit keys the codes are the key column's own memory.
    return integer_view(array).view(np.uint64) if t.bit_width == 64 else integer_view(array).astype(np.uint64)
