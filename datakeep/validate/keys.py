"""Uniqueness across batches: key and unique-column checks that a per-batch validator cannot do.

Each batch contributes a 64-bit hash per row of its key values and the row numbers; duplicates are
found once, at the end, by sorting the hashes (16 bytes per row, so 5M rows cost 80 MB). The hash
only needs to be stable within one run, so pandas' row hash is fine here. A 64-bit collision
between two different keys in 5M rows has odds of about one in a million.

Samples name their rows by raw key values, as every other problem's do ('05' where the canonical
key is 5): `RawKeys` keeps each batch's raw key columns, which are known to be needed only at
the end.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from datakeep.validate.apply import Canonical, key_columns, key_values
from datakeep.validate.collect import Collector, KeyLookup
from datakeep.validate.plan import Plan
from datakeep.validate.pyvalues import as_python, jsonable
from datakeep.validate.report import Sample


class RawKeys:
    """The raw key columns of every batch of a file, to look rows up by number at its end."""

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._starts: list[int] = []
        self._columns: list[dict[str, pa.Array | None]] = []

    def add(self, batch: Canonical) -> None:
        self._starts.append(batch.start)
        self._columns.append(key_columns(self._plan, batch.raw))

    def lookup(self, rows: np.ndarray) -> list[dict[str, Any] | None]:
        """The raw key values of global ``rows`` (a few samples: one look-up each)."""
        out: list[dict[str, Any] | None] = []
        for row in rows:
            i = bisect_right(self._starts, int(row)) - 1
            out.extend(key_values(self._columns[i], np.array([int(row) - self._starts[i]], dtype=np.int64)))
        return out


class UniqueTracker:
    """Finds rows whose values in ``columns`` repeat anywhere in the file."""

    def __init__(self, columns: tuple[str, ...], *, kind: str, source_columns: str | None, report: str = "all") -> None:
        self.columns = columns
        self.kind = kind
        self.source_columns = source_columns
        self.report = report  # pandera's report_duplicates: all, exclude_first or exclude_last
        self._hashes: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._values: list[pd.DataFrame] = []

    def add(self, batch: Canonical) -> None:
        frame = batch.frame
        valid = np.ones(len(frame), dtype=bool)
        for column in self.columns:
            valid &= ~batch.judged[column] & frame[column].notna().to_numpy()
        part = frame.loc[valid, list(self.columns)] if not valid.all() else frame[list(self.columns)]
        self._hashes.append(_row_hashes(part))
        self._rows.append(part.index.to_numpy(dtype=np.int64))
        self._values.append(part)

    def finish(self, collector: Collector, keys: KeyLookup | None) -> None:
        """Record the duplicates; ``keys`` gives the raw key values of the sample rows."""
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
        if self.report != "all":
            # A stable sort keeps each group's rows in file order: its first and last occurrence
            # are the ends of its run, left out as pandas' duplicated(keep=...) leaves them.
            spared = first if self.report == "exclude_first" else first + counts - 1
            kept = np.ones(len(positions), dtype=bool)
            kept[spared] = False
            positions, dup_rows = positions[kept], dup_rows[kept]
            counts = counts - 1  # every group keeps a run of at least one row, in its order
            first = np.concatenate(([0], np.cumsum(counts)[:-1]))
        top = np.lexsort((dup_rows[first], -counts))[: collector.max_values]
        values = pd.concat(self._values)
        shown = [(self._value(values, int(positions[first[g]])), int(counts[g])) for g in top]
        dup_rows = np.sort(dup_rows)
        sample_rows = dup_rows[: collector.max_samples]
        sample_keys = keys(sample_rows) if keys is not None else [None] * len(sample_rows)
        samples = [Sample(row=int(r), key=k) for r, k in zip(sample_rows, sample_keys, strict=True)]
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
            rows=dup_rows,
            values=shown,
            distinct=len(groups),
            samples=samples,
        )

    def _value(self, values: pd.DataFrame, position: int) -> Any:
        row = [_cell(values[column], position) for column in self.columns]
        return row[0] if len(row) == 1 else tuple(row)


def _cell(column: pd.Series, position: int) -> Any:
    """One canonical value as JSON carries it. A column pandas keeps in Arrow (dates Python
    cannot hold, see `coerce.as_pandas`) is converted as raw values are, never by pandas."""
    one = column.iloc[position : position + 1]
    if isinstance(one.dtype, pd.ArrowDtype):
        return jsonable(as_python(pa.array(one))[0])
    value = one.tolist()[0]
    if hasattr(value, "item"):
        value = value.item()
    return jsonable(value)


def _row_hashes(part: pd.DataFrame) -> np.ndarray:
    """pandas' hash of each row of ``part``. pandas 3.1 hashes a column it keeps in Arrow (an
    ``object`` column of dates, say) through Python objects, and a date past the year 9999 has
    none: such columns are then hashed as the values a report shows (`pyvalues.as_python`),
    which are equal exactly where the values are."""
    try:
        return pd.util.hash_pandas_object(part, index=False).to_numpy()
    except (OverflowError, ValueError):
        shown = {
            name: pd.Series(as_python(pa.array(column)), index=column.index, dtype=object)
            if isinstance(column.dtype, pd.ArrowDtype)
            else column
            for name, column in part.items()
        }
        return pd.util.hash_pandas_object(pd.DataFrame(shown, index=part.index), index=False).to_numpy()
