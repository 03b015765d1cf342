"""Merging per-batch findings into one `Problem` per (kind, column, check).

Counts are exact; offending values are counted exactly until a problem has more than
`VALUE_CAP` distinct values, after which only the most frequent are kept (a 1M-row file of
malformed dates must not hold a million strings to say "they are all different"). The number
of distinct values is then the most ever counted at once: a lower bound, never below the cap.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from datakeep.validate.pyvalues import as_python, jsonable
from datakeep.validate.report import KINDS, Problem, Sample, ValueCount

VALUE_CAP = 10_000
VALUE_KEEP = 1_000

# rows (global row numbers) -> key values of those rows, for samples
KeyLookup = Callable[[np.ndarray], list[dict[str, Any] | None]]


@dataclass
class _Entry:
    kind: str
    column: str | None
    source_column: str | None
    check: str | None
    detail: str
    rows: int = 0
    counts: dict[Any, int] = field(default_factory=dict)
    exact: bool = True
    distinct: int | None = None  # set when counted elsewhere (duplicate keys)
    seen: int = 0  # most distinct values counted at once, before some were dropped
    samples: list[Sample] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Counted:
    """The distinct values of one batch's offending cells and their counts, most frequent kept."""

    values: list[Any]
    counts: list[int]
    truncated: bool  # more than VALUE_CAP distinct values: only the VALUE_KEEP most frequent
    distinct: int  # how many distinct values there were, kept or not


def count_values(values: pa.Array) -> Counted:
    """Count distinct raw values (a hash count in Arrow, which runs without the GIL)."""
    try:
        counted = pc.value_counts(values)
    except pa.ArrowNotImplementedError:
        # Arrow cannot hash lists, structs, maps or extension types: count their JSON text.
        counted = pc.value_counts(_as_text(values))
    distinct = len(counted)
    truncated = distinct > VALUE_CAP
    if truncated:
        numbers = counted.field("counts")
        if pc.max(numbers).as_py() == 1:  # all distinct: a stable sort would keep this order
            counted = counted.slice(0, VALUE_KEEP)
        else:
            top = pc.array_sort_indices(numbers, order="descending")
            counted = counted.take(top[:VALUE_KEEP])
    return Counted(as_python(counted.field("values")), counted.field("counts").to_pylist(), truncated, distinct)


class Collector:
    """Accumulates problems over the batches of one file."""

    def __init__(self, *, max_samples: int = 5, max_values: int = 10) -> None:
        self.max_samples = max_samples
        self.max_values = max_values
        self._entries: dict[tuple[str, str | None, str | None, str | None], _Entry] = {}
        self._failing: list[np.ndarray] = []

    def structural(
        self, kind: str, *, column: str | None, source_column: str | None, detail: str, check: str | None = None
    ) -> None:
        """A problem with the file's shape (no rows, no values)."""
        self._entry(kind, column, source_column, check, detail)

    def add(
        self,
        kind: str,
        *,
        column: str | None,
        source_column: str | None,
        check: str | None,
        detail: str,
        rows: np.ndarray,
        values: pa.Array | Counted | None,
        keys: KeyLookup | None,
    ) -> None:
        """Record offending cells: ``rows`` are sorted global row numbers, ``values`` their raw values."""
        if len(rows) == 0:
            return
        entry = self._entry(kind, column, source_column, check, detail)
        entry.rows += len(rows)
        self._failing.append(np.asarray(rows, dtype=np.int64))
        if values is not None:
            self._count_values(entry, values)
        need = self.max_samples - len(entry.samples)
        if need > 0:
            picked = np.asarray(rows[:need], dtype=np.int64)
            picked_keys = keys(picked) if keys is not None else [None] * len(picked)
            entry.samples.extend(Sample(row=int(r), key=k) for r, k in zip(picked, picked_keys, strict=True))

    def add_counted(
        self,
        kind: str,
        *,
        column: str | None,
        source_column: str | None,
        check: str | None,
        detail: str,
        rows: np.ndarray,
        values: list[tuple[Any, int]],
        distinct: int,
        samples: list[Sample],
    ) -> None:
        """Record a problem whose values were already counted (duplicate keys)."""
        entry = self._entry(kind, column, source_column, check, detail)
        entry.rows += len(rows)
        self._failing.append(np.asarray(rows, dtype=np.int64))
        for value, count in values:
            entry.counts[value] = entry.counts.get(value, 0) + count
        entry.distinct = distinct
        entry.samples.extend(samples[: self.max_samples])

    def _entry(self, kind: str, column: str | None, source: str | None, check: str | None, detail: str) -> _Entry:
        key = (kind, column, source, check)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(kind, column, source, check, detail)
        return entry

    def _count_values(self, entry: _Entry, values: pa.Array | Counted) -> None:
        counted = values if isinstance(values, Counted) else count_values(values)
        if counted.truncated:
            entry.exact = False
            entry.seen = max(entry.seen, counted.distinct)
        counts = entry.counts
        for value, number in zip(counted.values, counted.counts, strict=True):
            value = jsonable(value)
            counts[value] = counts.get(value, 0) + number
        if len(counts) > VALUE_CAP:
            entry.exact = False
            entry.seen = max(entry.seen, len(counts))
            kept = sorted(counts.items(), key=lambda kv: -kv[1])[:VALUE_KEEP]
            entry.counts = dict(kept)

    @property
    def failing_rows(self) -> int:
        if not self._failing:
            return 0
        # A bitmap, not np.unique: counting distinct rows must stay linear in the row count.
        rows = np.concatenate(self._failing)
        seen = np.zeros(int(rows.max()) + 1, dtype=bool)
        seen[rows] = True
        return int(np.count_nonzero(seen))

    def problems(self) -> tuple[Problem, ...]:
        order = {kind: i for i, kind in enumerate(KINDS)}
        out = []
        for entry in self._entries.values():
            ranked = sorted(entry.counts.items(), key=lambda kv: (-kv[1], _sort_key(kv[0])))
            out.append(
                Problem(
                    kind=entry.kind,
                    column=entry.column,
                    source_column=entry.source_column,
                    check=entry.check,
                    detail=entry.detail,
                    rows=entry.rows,
                    values=tuple(ValueCount(value=v, count=c) for v, c in ranked[: self.max_values]),
                    distinct_values=self._distinct(entry),
                    values_exact=entry.exact,
                    samples=tuple(sorted(entry.samples, key=lambda s: s.row)[: self.max_samples]),
                )
            )
        out.sort(key=lambda p: (order.get(p.kind, len(order)), p.column or "", p.check or ""))
        return tuple(out)

    @staticmethod
    def _distinct(entry: _Entry) -> int:
        return entry.distinct if entry.distinct is not None else max(len(entry.counts), entry.seen)


class Pending:
    """One batch's findings, held back so they reach the `Collector` in file order.

    Batches are mapped on a worker thread a batch ahead of the checks (`engine.run`); the
    mapping's findings wait here until the main thread reaches their batch, so the collector
    sees exactly the calls, in exactly the order, that a single thread would make.
    """

    def __init__(self) -> None:
        self._calls: list[tuple[str, dict[str, Any]]] = []

    def add(self, kind: str, **fields: Any) -> None:
        """Hold a `Collector.add` call; its values are counted now, on the worker thread."""
        if fields.get("values") is not None and len(fields["rows"]):
            fields["values"] = count_values(fields["values"])
        self._calls.append((kind, fields))

    def flush(self, collector: Collector) -> None:
        """Make the held calls on ``collector``, in the order they were made here."""
        for kind, fields in self._calls:
            collector.add(kind, **fields)
        self._calls.clear()


def _as_text(values: pa.Array) -> pa.Array:
    """Each value as canonical JSON text (nulls stay null), one Python call per value."""
    texts = [
        None if value is None else json.dumps(value, sort_keys=True, ensure_ascii=False, default=jsonable)
        for value in as_python(values)
    ]
    return pa.array(texts, type=pa.string())


def _sort_key(value: Any) -> tuple[int, str]:
    return (0, "") if value is None else (1, str(value))
