"""Uniqueness across batches: key and unique-column checks that a per-batch validator cannot do.

Each batch contributes a 64-bit hash per row of its key values and the row numbers; duplicates are
found once, at the end, by sorting the hashes (16 bytes per row, so 5M rows cost 80 MB). The hash
only needs to be stable within one run, so pandas' row hash is fine here. A 64-bit collision
between two different keys in 5M rows has odds of about one in a million.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from datakeep.validate.apply import Canonical
from datakeep.validate.collect import Collector
from datakeep.validate.report import Sample


class UniqueTracker:
    """Finds rows whose values in ``columns`` repeat anywhere in the file."""

    def __init__(self, columns: tuple[str, ...], *, kind: str, source_columns: str | None) -> None:
        self.columns = columns
        self.kind = kind
        self.source_columns = source_columns
        self._hashes: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._values: list[pd.DataFrame] = []

    def add(self, batch: Canonical) -> None:
        frame = batch.frame
        valid = np.ones(len(frame), dtype=bool)
        for column in self.columns:
            valid &= ~batch.judged[column] & frame[column].notna().to_numpy()
        part = frame.loc[valid, list(self.columns)] if not valid.all() else frame[list(self.columns)]
        self._hashes.append(pd.util.hash_pandas_object(part, index=False).to_numpy())
        self._rows.append(part.index.to_numpy(dtype=np.int64))
        self._values.append(part)

    def finish(self, collector: Collector) -> None:
        if not self._hashes:
            return
        hashes = np.concatenate(self._hashes)
        if pd.Index(hashes).is_unique:  # the usual answer, from a hash table: no need to sort
            return
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        same = ordered[1:] == ordered[:-1]
        if not same.any():
            return
        in_dup = np.zeros(len(ordered), dtype=bool)
        in_dup[1:] |= same
        in_dup[:-1] |= same
        positions = order[in_dup]
        rows = np.concatenate(self._rows)
        dup_rows = rows[positions]
        dup_hashes = hashes[positions]
        groups, first, counts = np.unique(dup_hashes, return_index=True, return_counts=True)
        top = np.lexsort((dup_rows[first], -counts))[: collector.max_values]
        values = pd.concat(self._values)
        shown = [(self._value(values, int(positions[first[g]])), int(counts[g])) for g in top]
        by_row = np.argsort(dup_rows, kind="stable")[: collector.max_samples]
        samples = [Sample(row=int(dup_rows[i]), key=self._key(values, int(positions[i]))) for i in by_row]
        cols = ", ".join(self.columns)
        detail = (
            "key value appears more than once" if self.kind == "duplicate_key" else f"values of ({cols}) must be unique"
        )
        collector.add_counted(
            self.kind,
            column=cols,
            source_column=self.source_columns,
            check="field_uniqueness" if self.kind == "duplicate_value" else None,
            detail=detail,
            rows=np.sort(dup_rows),
            values=shown,
            distinct=len(groups),
            samples=samples,
        )

    def _value(self, values: pd.DataFrame, position: int) -> Any:
        row = [_plain(v) for v in values.iloc[position].tolist()]
        return row[0] if len(row) == 1 else tuple(row)

    def _key(self, values: pd.DataFrame, position: int) -> dict[str, Any]:
        return {c: _plain(v) for c, v in zip(self.columns, values.iloc[position].tolist(), strict=True)}


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
