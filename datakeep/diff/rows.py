"""Row diff: match rows by key (or by content), count added/removed/modified, cells per column.

Three phases, each reading as little as it can:

1. Chunks whose logical id both versions hold are equal rows: counted, never read.
2. For the other chunks only (key code, row hash, position) are gathered — from a snapshot's
   cached row index when it has one, else from the row-hash sidecars plus a projection of the key
   columns — and joined with numpy (direct addressing for dense integer keys, else sort +
   searchsorted). Matched keys with equal row hashes are unchanged.
3. Only rows whose hashes differ are read in full, once for all passes, chunk by chunk, and
   compared per column with the same per-cell hashes that define snapshot identity (NaN == NaN,
   -0.0 != 0.0, null != NaN). A retyped column is compared after an exact cast
   (`sources.comparison_casts`); its row hashes in phase 2 are built from the same cell hashes,
   so a row's hash differs exactly when one of its cells does.

Memory is bounded: without cached indexes phase 2 holds 24 bytes per non-shared row, and when
that would pass ``PARTITION_ROWS`` rows the join runs in partitions of the key-hash space, one
pass each (with both indexes in memory already, one pass).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from datakeep import kernels
from datakeep.arrow_numpy import arrow_array, is_integer_like
from datakeep.diff import matching
from datakeep.diff.errors import DuplicateKeyError, KeyColumnMissingError, KeyTypeChangedError
from datakeep.diff.matching import key_codes, same_layout
from datakeep.diff.result import KeyProblem, RowCounts, Sample
from datakeep.diff.schema import ColumnPlan
from datakeep.diff.sources import HashSpec, Side, cell_hashes, comparison_casts
from datakeep.diff.tolerance import Numbers, gather, numbers, within
from datakeep.pyvalues import as_python
from datakeep.rowhash import mix
from datakeep.serialize import jsonable

#: Rows per side held in one join pass (24 bytes each: key code, row hash, position). A side
#: without a cached index is read and hashed once per pass, so passes cost whole re-reads.
PARTITION_ROWS = 16_000_000
_ROW_BITS = 32
_ROW_MASK = np.int64((1 << _ROW_BITS) - 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class RowOptions:
    dataset: str
    key: tuple[str, ...]  # names in the new version; () matches whole rows as multisets
    plan: Sequence[ColumnPlan]
    renamed: bool = False
    detail: bool = True  # read differing rows: per-column counts and samples
    tolerance: Mapping[str, float] = field(default_factory=dict)
    sample: int = 5
    allow_duplicates: bool = False
    workers: int = 2
    partition_rows: int = PARTITION_ROWS


@dataclass(slots=True)
class RowOutcome:
    counts: RowCounts
    cells: dict[str, int] | None
    samples: list[Sample]
    key_problems: list[KeyProblem]
    chunks: dict[str, int]


class _UnitPositions:
    """``(unit << 32 | row in unit)`` of every row of whole units, computed only for the rows
    asked for: a 5M-row side would otherwise hold 40 MB of positions to read a few thousand."""

    def __init__(self, units: np.ndarray, lengths: np.ndarray) -> None:
        self._units = units
        self._ends = np.cumsum(lengths)
        self._starts = self._ends - lengths
        self._total = int(self._ends[-1]) if len(lengths) else 0

    def __len__(self) -> int:
        return self._total

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        which = np.searchsorted(self._ends, rows, side="right")
        return (self._units[which] << _ROW_BITS) | (rows - self._starts[which])


@dataclass(slots=True)
class _Gathered:
    codes: np.ndarray
    hashes: np.ndarray
    positions: np.ndarray | _UnitPositions
    nulls: np.ndarray
    order: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sorted_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))

    def sort(self) -> None:
        """Sort once: the duplicate check and the join both use it."""
        self.order, self.sorted_codes = matching.sort(self.codes)


def compare_rows(old: Side, new: Side, options: RowOptions) -> RowOutcome:
    """Match the rows of two versions and count what changed (see the module docstring)."""
    plan = list(options.plan)
    by_new = {p.new: p for p in plan}
    key_new = tuple(options.key)
    key_types: list[pa.DataType | None] = []
    for column in key_new:
        if column not in {c["name"] for c in new.columns}:
            raise KeyColumnMissingError(options.dataset, column, "new")
        if column not in by_new:
            raise KeyColumnMissingError(options.dataset, column, "old")
        p = by_new[column]
        common = common_key_type(old.schema.field(p.old).type, new.schema.field(p.new).type) if p.retyped else None
        if p.retyped and common is None:
            raise KeyTypeChangedError(options.dataset, column, p.old_type, p.new_type)
        key_types.append(common)
    key_old = tuple(by_new[c].old for c in key_new)
    # Keys of another integer width (int32 from one engine, int64 from another) are matched as
    # the values they are, both sides cast to one type first.
    key_cast = tuple(key_types) if any(t is not None for t in key_types) else None
    # Same columns on both sides: a chunk both hold is the same rows there. Stored whole-row hashes
    # compare directly only when every file also has those columns itself (a folder whose files
    # differ has their union, and its rows are hashed over the union's columns instead).
    shared_layout = not options.renamed and same_layout(old.columns, new.columns)
    direct = shared_layout and old.uniform and new.uniform
    spec_old: HashSpec | None = None
    spec_new: HashSpec | None = None
    if not direct:
        # Stored row hashes cover every column; with a changed schema, hash the common ones alike,
        # each cast as the cells will be compared, so a row's hash differs when one of its cells does.
        casts = _casts(old, new, plan)
        spec_old = [(p.old, casts[p.new][0]) for p in plan]
        spec_new = [(p.new, casts[p.new][1]) for p in plan]
    # Rows whose hashes differ may still be equal within a tolerance, so --stat reads them too:
    # otherwise it would count them modified, and a gate would answer differently without --stat.
    read_pairs = options.detail or (bool(key_new) and any(p.new in options.tolerance for p in plan))
    old_units, new_units, shared_rows = _unshared(old, new, shared_layout)
    rows_old = sum(old.units[i].rows for i in old_units)
    rows_new = sum(new.units[i].rows for i in new_units)
    parts = max(1, math.ceil(max(rows_old, rows_new) / options.partition_rows))
    if old.can_index(key_old, spec_old) and new.can_index(key_new, spec_new):
        parts = 1  # both row indexes are in memory already: passes would only copy them again
    counts = Counter(unchanged=shared_rows)
    cells: Counter[str] = Counter()
    samples: list[Sample] = []
    problems: list[KeyProblem] = []
    pending = _Pending(options.sample)
    with ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="datakeep-diff") as pool:
        for part in range(parts):
            a = _gather(pool, old, old_units, key_old, spec_old, part, parts, key_cast)
            b = _gather(pool, new, new_units, key_new, spec_new, part, parts, key_cast)
            if not key_new:
                ia, ib = matching.match_multiset([a.hashes], [b.hashes])
                counts["unchanged"] += len(ia)
                counts["removed"] += len(a.hashes) - len(ia)
                counts["added"] += len(b.hashes) - len(ib)
                if part == 0 and options.sample:
                    samples += _edge_samples(old, new, a, b, ia, ib, key_old, key_new, options.sample)
                continue
            dense = None if a.nulls.any() or b.nulls.any() else matching.match_dense(a.codes, b.codes)
            if dense is not None:
                ia, ib = dense  # unique, non-null integer keys: nothing to report, no sort needed
                same = _equal_at(a.hashes, ia, b.hashes, ib)
            else:
                a.sort()
                b.sort()
                part_problems = _key_problems(old, key_old, a, "from") + _key_problems(new, key_new, b, "to")
                problems = _merge_problems(problems, part_problems)
                ia, ib, same = _match_keys(a, b, multiset=bool(part_problems))
            counts["unchanged"] += int(same.sum())
            pa_idx, pb_idx = ia[~same], ib[~same]
            removed = matching.unmatched(len(a.codes), ia)
            added = matching.unmatched(len(b.codes), ib)
            counts["removed"] += len(removed)
            counts["added"] += len(added)
            if read_pairs:
                pending.add(a.positions[pa_idx], b.positions[pb_idx], b.codes[pb_idx])
            else:
                counts["modified"] += len(pa_idx)
            if options.detail:
                pending.add_edges(a.positions[removed], b.positions[added])
        pairs = pending.pairs()
        if pairs is not None:
            # Once for all passes: each pass would otherwise decode every changed chunk again.
            pos_old, pos_new, codes = pairs
            result = _compare_pairs(pool, old, new, plan, pos_old, pos_new, codes, key_new, options)
            counts["modified"] += result.modified
            counts["unchanged"] += result.unchanged
            # A key-hash collision (different keys, same code) is a removal plus an addition.
            counts["removed"] += result.collisions
            counts["added"] += result.collisions
            cells.update(result.cells)
            samples += result.samples
        if options.sample and options.detail and key_new:
            removed_sample, added_sample = pending.edges()
            samples += _key_samples(old, key_old, key_new, removed_sample, "removed", options.sample)
            samples += _key_samples(new, key_new, key_new, added_sample, "added", options.sample)
    if problems and not options.allow_duplicates:
        raise DuplicateKeyError(options.dataset, key_new, problems)
    row_counts = RowCounts(
        old=old.rows,
        new=new.rows,
        added=counts["added"],
        removed=counts["removed"],
        modified=counts["modified"] if key_new else None,
        unchanged=counts["unchanged"],
    )
    detail_cells = None
    if key_new and options.detail:
        detail_cells = {p.new: int(cells.get(p.new, 0)) for p in plan if p.new not in key_new}
    chunk_info = {
        "from_total": len(old.units),
        "to_total": len(new.units),
        "from_read": len(old_units),
        "to_read": len(new_units),
        "shared_rows": shared_rows,
        "passes": parts,
    }
    return RowOutcome(counts=row_counts, cells=detail_cells, samples=samples, key_problems=problems, chunks=chunk_info)


def _casts(
    old: Side, new: Side, plan: Sequence[ColumnPlan]
) -> dict[str, tuple[pa.DataType | None, pa.DataType | None]]:
    """Per column (new name): the types its old and new cells are cast to before comparing."""
    return {
        p.new: comparison_casts(old.schema.field(p.old).type, new.schema.field(p.new).type)
        if p.retyped
        else (None, None)
        for p in plan
    }


def _unshared(old: Side, new: Side, comparable: bool) -> tuple[list[int], list[int], int]:
    """Unit indices to read on each side, and the rows held by chunks both sides share (only when
    the sides have the same columns: ``comparable``)."""
    if not comparable:
        return list(range(len(old.units))), list(range(len(new.units))), 0
    ids_old = Counter(u.id for u in old.units if u.id is not None)
    ids_new = Counter(u.id for u in new.units if u.id is not None)
    budget = ids_old & ids_new  # a chunk repeated k times on both sides is shared k times

    def pick(side: Side) -> tuple[list[int], int]:
        left = Counter(budget)
        keep, skipped = [], 0
        for index, unit in enumerate(side.units):
            if unit.id is not None and left[unit.id] > 0:
                left[unit.id] -= 1
                skipped += unit.rows
            else:
                keep.append(index)
        return keep, skipped

    keep_old, shared = pick(old)
    keep_new, _ = pick(new)
    return keep_old, keep_new, shared


def common_key_type(old: pa.DataType, new: pa.DataType) -> pa.DataType | None:
    """The type both versions of a retyped key column are matched in, or None when no type
    holds both exactly: integers of any width (not uint64 beside a signed type, whose values
    past 2**63 one side could not hold)."""
    if not (pa.types.is_integer(old) and pa.types.is_integer(new)):
        return None
    unsigned = (pa.types.is_unsigned_integer(old), pa.types.is_unsigned_integer(new))
    if all(unsigned):
        return pa.uint64()
    if pa.uint64() in (old, new):
        return None
    return pa.int64()


def _keys_as(keys: pa.Table, types: tuple[pa.DataType | None, ...] | None) -> pa.Table:
    if types is None:
        return keys
    return pa.table(
        [column if t is None else kernels.cast(column, t) for column, t in zip(keys.columns, types, strict=True)],
        names=keys.column_names,
    )


def _gather(
    pool: ThreadPoolExecutor,
    side: Side,
    units: list[int],
    key: tuple[str, ...],
    spec: HashSpec | None,
    part: int,
    parts: int,
    key_types: tuple[pa.DataType | None, ...] | None = None,
) -> _Gathered:
    def one(index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        keys, hashes = side.hashes(index, key, spec)
        if key:
            codes, nulls = key_codes(_keys_as(keys, key_types))
        else:
            codes, nulls = hashes, np.zeros(len(hashes), dtype=bool)
        if parts > 1:
            positions = (np.int64(index) << _ROW_BITS) | np.arange(len(hashes), dtype=np.int64)
            keep = (mix(codes.copy()) % np.uint64(parts)) == np.uint64(part)
            return codes[keep], hashes[keep], positions[keep], nulls[keep]
        return codes, hashes, np.zeros(0, dtype=np.int64), nulls

    whole = side.indexed(units, key, spec)
    if whole is not None:
        keys, hashes = whole
        codes, nulls = key_codes(_keys_as(keys, key_types)) if key else (hashes, np.zeros(len(hashes), dtype=bool))
        chosen = np.asarray(units, dtype=np.int64)
        positions = _UnitPositions(chosen, np.array([side.units[i].rows for i in units], dtype=np.int64))
        if parts > 1:
            keep = (mix(codes.copy()) % np.uint64(parts)) == np.uint64(part)
            return _Gathered(codes[keep], hashes[keep], positions[np.flatnonzero(keep)], nulls[keep])
        return _Gathered(codes, hashes, positions, nulls)
    pieces = list(pool.map(one, units))
    if not pieces:
        empty_u = np.zeros(0, dtype=np.uint64)
        return _Gathered(empty_u, empty_u, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool))
    codes, hashes, nulls = (np.concatenate([p[i] for p in pieces]) for i in (0, 1, 3))
    if parts == 1:  # every row of every unit, in order: positions need not be held
        lengths = np.array([len(p[1]) for p in pieces], dtype=np.int64)
        return _Gathered(codes, hashes, _UnitPositions(np.asarray(units, dtype=np.int64), lengths), nulls)
    return _Gathered(codes, hashes, np.concatenate([p[2] for p in pieces]), nulls)


def _key_problems(side: Side, key: tuple[str, ...], g: _Gathered, label: str) -> list[KeyProblem]:
    null_count = int(g.nulls.sum()) if g.nulls.any() else 0
    if not null_count and not matching.has_duplicates(g.sorted_codes):
        return []  # the common case: one sort (shared with the join) proves the key unique
    dup_values, dup_rows = matching.duplicates(g.codes[~g.nulls])
    if not len(dup_values) and not null_count:
        return []
    if len(dup_rows):
        dup_rows = np.flatnonzero(~g.nulls)[dup_rows]
    example_rows = np.concatenate([dup_rows[:5], np.flatnonzero(g.nulls)[:2]])
    examples = [{k: jsonable(v) for k, v in e.items()} for e in _read_keys(side, key, g.positions[example_rows])]
    return [
        KeyProblem(
            side=label,
            duplicate_keys=len(dup_values),
            duplicate_rows=len(dup_rows),
            null_keys=null_count,
            examples=tuple(dict(e) for e in dict.fromkeys(tuple(e.items()) for e in examples)),
        )
    ]


def _merge_problems(old: list[KeyProblem], new: list[KeyProblem]) -> list[KeyProblem]:
    by_side = {p.side: p for p in old}
    for p in new:
        q = by_side.get(p.side)
        by_side[p.side] = (
            p
            if q is None
            else KeyProblem(
                side=p.side,
                duplicate_keys=q.duplicate_keys + p.duplicate_keys,
                duplicate_rows=q.duplicate_rows + p.duplicate_rows,
                null_keys=q.null_keys + p.null_keys,
                examples=q.examples,
            )
        )
    return [by_side[s] for s in ("from", "to") if s in by_side]


def _equal_at(x: np.ndarray, ix: np.ndarray, y: np.ndarray, iy: np.ndarray, block: int = 1 << 20) -> np.ndarray:
    """``x[ix] == y[iy]``, a block at a time: the gathered hashes are 16 bytes a pair otherwise."""
    out = np.empty(len(ix), dtype=bool)
    for start in range(0, len(ix), block):
        end = start + block
        np.equal(x[ix[start:end]], y[iy[start:end]], out=out[start:end])
    return out


def _match_keys(a: _Gathered, b: _Gathered, *, multiset: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Matched pairs (ia, ib) and whether each pair's row hashes are equal."""
    if not multiset:
        ia, ib = matching.match_sorted(a.order, a.sorted_codes, b.order, b.sorted_codes)
        return ia, ib, _equal_at(a.hashes, ia, b.hashes, ib)
    # Duplicated keys, matched as multisets: equal rows first, then what is left key by key.
    ea, eb = matching.match_multiset([a.codes, a.hashes], [b.codes, b.hashes])
    rest_a = matching.unmatched(len(a.codes), ea)
    rest_b = matching.unmatched(len(b.codes), eb)
    ma, mb = matching.match_multiset([a.codes[rest_a]], [b.codes[rest_b]])
    ia = np.concatenate([ea, rest_a[ma]])
    ib = np.concatenate([eb, rest_b[mb]])
    same = np.concatenate([np.ones(len(ea), dtype=bool), np.zeros(len(ma), dtype=bool)])
    return ia, ib, same


class _Pending:
    """What the join passes leave for later: matched pairs whose row hashes differ (positions on
    each side and the key code), and the first removed and added rows to show as samples.
    Samples are chosen the same way however many passes the join took."""

    def __init__(self, sample: int) -> None:
        self.sample = sample
        self._old: list[np.ndarray] = []
        self._new: list[np.ndarray] = []
        self._codes: list[np.ndarray] = []
        self._removed: list[np.ndarray] = []
        self._added: list[np.ndarray] = []

    def add(self, positions_old: np.ndarray, positions_new: np.ndarray, codes: np.ndarray) -> None:
        if len(positions_old):
            self._old.append(positions_old)
            self._new.append(positions_new)
            self._codes.append(codes)

    def add_edges(self, removed: np.ndarray, added: np.ndarray) -> None:
        if self.sample:
            self._removed.append(np.sort(removed)[: self.sample])
            self._added.append(np.sort(added)[: self.sample])

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        if not self._old:
            return None
        return np.concatenate(self._old), np.concatenate(self._new), np.concatenate(self._codes)

    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        def first(parts: list[np.ndarray]) -> np.ndarray:
            return np.sort(np.concatenate(parts))[: self.sample] if parts else np.zeros(0, dtype=np.int64)

        return first(self._removed), first(self._added)


@dataclass(slots=True)
class _PairResult:
    modified: int
    unchanged: int
    collisions: int
    cells: dict[str, int]
    samples: list[Sample]


def _compare_pairs(
    pool: ThreadPoolExecutor,
    old: Side,
    new: Side,
    plan: list[ColumnPlan],
    pos_old: np.ndarray,
    pos_new: np.ndarray,
    codes: np.ndarray,
    key: tuple[str, ...],
    options: RowOptions,
) -> _PairResult:
    """Read the rows of candidate pairs in full and compare them cell by cell."""
    tolerance = {c: t for c, t in options.tolerance.items() if c in {p.new for p in plan}}
    compared = plan
    if len(key) == 1 and is_integer_like(new.schema.field(key[0]).type):
        # The key codes are the key values themselves: paired rows have equal keys, no
        # collision to check, so the key column need not be read.
        compared = [p for p in plan if p.new not in key]
    casts = _casts(old, new, compared)
    old_cols = [(p.old, casts[p.new][0]) for p in compared]
    new_cols = [(p.new, casts[p.new][1]) for p in compared]
    ha, fa = _gather_cells(
        pool, old, pos_old, old_cols, {by.old: tolerance[by.new] for by in plan if by.new in tolerance}
    )
    hb, fb = _gather_cells(pool, new, pos_new, new_cols, {c: tolerance[c] for c in tolerance})
    n = len(pos_old)
    collision = np.zeros(n, dtype=bool)
    for p in compared:
        if p.new in key:
            collision |= ha[p.old] != hb[p.new]
    changed_any = np.zeros(n, dtype=bool)
    cells: dict[str, int] = {}
    masks: dict[str, np.ndarray] = {}
    for p in compared:
        if p.new in key:
            continue
        ne = ha[p.old] != hb[p.new]
        if p.new in tolerance:
            ne &= ~within(fa[p.old], fb[p.new], tolerance[p.new])
        ne &= ~collision
        masks[p.new] = ne
        cells[p.new] = int(ne.sum())
        changed_any |= ne
    modified = int(changed_any.sum())
    samples: list[Sample] = []
    if options.sample and modified:
        # The first modified rows in key-code order, as one pass of the join would list them.
        changed = np.flatnonzero(changed_any)
        picked = changed[np.argsort(codes[changed], kind="stable")[: options.sample]]
        samples = _modified_samples(old, new, plan, key, pos_old[picked], pos_new[picked], picked, masks)
    n_coll = int(collision.sum())
    return _PairResult(
        modified=modified, unchanged=n - modified - n_coll, collisions=n_coll, cells=cells, samples=samples
    )


def _by_unit(positions: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Group positions by unit: (unit, indices into ``positions``, rows within the unit)."""
    order = np.argsort(positions, kind="stable")
    ordered = positions[order]
    units = ordered >> _ROW_BITS
    cuts = np.flatnonzero(np.diff(units)) + 1
    out = []
    for idx in np.split(np.arange(len(ordered)), cuts):
        if len(idx):
            out.append((int(units[idx[0]]), order[idx], (ordered[idx] & _ROW_MASK)))
    return out


def _gather_cells(
    pool: ThreadPoolExecutor,
    side: Side,
    positions: np.ndarray,
    columns: list[tuple[str, pa.DataType | None]],
    tolerant: Mapping[str, float],
) -> tuple[dict[str, np.ndarray], dict[str, Numbers]]:
    """Per-cell hashes (and the numbers of ``tolerant`` columns) of rows at ``positions``."""
    n = len(positions)
    hashes = {name: np.zeros(n, dtype=np.uint64) for name, _ in columns}
    parts: dict[str, list[tuple[np.ndarray, Numbers]]] = {name: [] for name in tolerant}
    names = [name for name, _ in columns]

    def one(group: tuple[int, np.ndarray, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, Any]]:
        unit, where, rows = group
        table = side.take(unit, names, rows)
        h = {name: cell_hashes(table.column(name), target) for name, target in columns}
        f = {name: numbers(table.column(name)) for name in tolerant}
        return where, h, f

    for where, h, f in pool.map(one, _by_unit(positions)):
        for name, values_h in h.items():
            hashes[name][where] = values_h
        for name, cells in f.items():
            parts[name].append((where, cells))
    # The decoded chunks are gone: hand their pages back before the other side decodes its own.
    pa.default_memory_pool().release_unused()
    return hashes, {name: gather(found, n) for name, found in parts.items()}


def _read_keys(side: Side, key: tuple[str, ...], positions: np.ndarray) -> list[dict[str, Any]]:
    """The cells of ``key`` (any columns) at ``positions``, in their order, as samples hold them."""
    out: list[tuple[int, dict[str, Any]]] = []
    for unit, where, rows in _by_unit(positions):
        table = kernels.take(side.read(unit, list(key)), arrow_array(rows))
        # Column by column through `as_python`: a date past the year 9999 or a duration at the
        # int64 limits is valid Arrow that `to_pylist` refuses, and one such cell in a sampled
        # row made the whole diff fail. Such cells come back as ISO-like text (or ticks and unit).
        cells = {name: as_python(table.column(name).combine_chunks()) for name in key}
        for n, i in enumerate(where):
            out.append((int(i), {name: _sample_cell(cells[name][n]) for name in key}))
    return [row for _, row in sorted(out, key=lambda item: item[0])]


def _sample_cell(value: Any) -> Any:
    """A cell as a sample holds it: JSON-friendly (dates as ISO text), except that a float stays
    a float, NaN and infinities too, so a report can tell NaN from the text 'nan'
    (`Sample.to_dict` writes what JSON cannot carry)."""
    return value if isinstance(value, float) else jsonable(value)


def _key_samples(
    side: Side,
    key_side: tuple[str, ...],
    key_new: tuple[str, ...],
    positions: np.ndarray,
    kind: str,
    limit: int,
) -> list[Sample]:
    if not len(positions):
        return []
    picked = np.sort(positions)[:limit]
    rows = _read_keys(side, key_side, picked)
    return [Sample(kind=kind, key=dict(zip(key_new, r.values(), strict=True))) for r in rows]


def _edge_samples(
    old: Side,
    new: Side,
    a: _Gathered,
    b: _Gathered,
    ia: np.ndarray,
    ib: np.ndarray,
    key_old: tuple[str, ...],
    key_new: tuple[str, ...],
    limit: int,
) -> list[Sample]:
    """Without a key, a sample of whole removed and added rows (their first few columns)."""
    out: list[Sample] = []
    for side, g, matched, kind in ((old, a, ia, "removed"), (new, b, ib, "added")):
        rest = np.sort(g.positions[matching.unmatched(len(g.positions), matched)])[:limit]
        names = tuple(c["name"] for c in side.columns[:6])
        for row in _read_keys(side, names, rest):
            out.append(Sample(kind=kind, key=row))
    return out


def _modified_samples(
    old: Side,
    new: Side,
    plan: list[ColumnPlan],
    key: tuple[str, ...],
    pos_old: np.ndarray,
    pos_new: np.ndarray,
    picked: np.ndarray,
    masks: Mapping[str, np.ndarray],
) -> list[Sample]:
    rows_old = _read_keys(old, tuple(p.old for p in plan), pos_old)
    rows_new = _read_keys(new, tuple(p.new for p in plan), pos_new)
    rename = {p.new: p.old for p in plan}
    out = []
    for i, before, after in zip(picked, rows_old, rows_new, strict=True):
        changes = tuple((column, before[rename[column]], after[column]) for column, mask in masks.items() if mask[i])
        out.append(Sample(kind="modified", key={k: after[k] for k in key}, changes=changes))
    return out
