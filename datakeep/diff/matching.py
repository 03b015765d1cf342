"""Joins of small uint64 columns with numpy: sort, searchsorted and occurrence ranks.

These are the whole "join" of a diff: rows are matched on (key code, row hash) without ever
building a hash table of full rows.
"""

from __future__ import annotations

import numpy as np


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


def occurrence_rank(*columns: np.ndarray) -> np.ndarray:
    """For each row, how many earlier rows hold the same tuple of values (0, 1, 2, ...)."""
    n = len(columns[0])
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    order = np.lexsort(columns[::-1])
    boundary = np.ones(n, dtype=bool)
    for column in columns:
        s = column[order]
        boundary[1:] &= s[1:] == s[:-1]
    boundary = ~boundary  # True where a new group starts
    boundary[0] = True
    group_start = np.maximum.accumulate(np.where(boundary, np.arange(n), 0))
    rank = np.empty(n, dtype=np.uint64)
    rank[order] = (np.arange(n) - group_start).astype(np.uint64)
    return rank


def match_multiset(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Match rows whose tuples of values are equal, pairing the k-th occurrence with the k-th."""
    rank_a = occurrence_rank(*a)
    rank_b = occurrence_rank(*b)
    fields = [(f"f{i}", np.uint64) for i in range(len(a) + 1)]
    sa = np.empty(len(rank_a), dtype=fields)
    sb = np.empty(len(rank_b), dtype=fields)
    for i, (ca, cb) in enumerate(zip([*a, rank_a], [*b, rank_b], strict=True)):
        sa[f"f{i}"] = ca
        sb[f"f{i}"] = cb
    _, ia, ib = np.intersect1d(sa, sb, assume_unique=True, return_indices=True)
    return ia.astype(np.int64), ib.astype(np.int64)


def unmatched(n: int, matched: np.ndarray) -> np.ndarray:
    """Indices in range(n) that are not in ``matched``."""
    keep = np.ones(n, dtype=bool)
    keep[matched] = False
    return np.flatnonzero(keep)


#: A dense join's table may be this many times larger than both sides together.
DENSE_SLACK = 4


def match_dense(codes_a: np.ndarray, codes_b: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Match unique integer keys that fill a narrow range (ids counted up from somewhere) by
    direct addressing: one scatter and one gather, no sort. Pairs come in key order, as
    ``match_sorted`` gives them. None when the keys are not dense enough, or not unique."""
    if len(codes_a) == 0 or len(codes_b) == 0:
        return None
    a, b = codes_a.view(np.int64), codes_b.view(np.int64)
    low = min(int(a.min()), int(b.min()))
    span = max(int(a.max()), int(b.max())) - low + 1
    if span > DENSE_SLACK * (len(a) + len(b)) + 1024:
        return None
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
