"""Applying a source mapping to one raw batch: value maps, casts, units, defaults, renames.

Every cell judged here (no mapping, failed cast, null key, a null a numpy column cannot hold) is
recorded against its raw column and raw value, and marked so pandera's findings on the same cell
are not reported twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from datakeep.schemas import ColumnMap
from datakeep.validate.coerce import (
    as_pandas,
    describe,
    describe_unheld,
    one_cell,
    parse,
    target_kind,
    to_pandas,
    unheld_times,
    wider,
)
from datakeep.validate.collect import Collector, KeyLookup, Pending
from datakeep.validate.explain import describe_stray, scale_problems, stray_separators, time_text_problems
from datakeep.validate.plan import Plan, Step
from datakeep.validate.pyvalues import as_python, jsonable
from datakeep.validate.scaling import scaled


@dataclass
class Canonical:
    """One batch after mapping: the canonical frame, its raw source, and the judged cells."""

    frame: pd.DataFrame  # indexed by global row number
    raw: pa.RecordBatch
    start: int
    judged: dict[str, np.ndarray]  # canonical column -> cells already reported
    keys: KeyLookup | None
    sources: dict[str, str]  # canonical column -> raw column

    def raw_values(self, column: str, rows: np.ndarray) -> pa.Array:
        """Raw values of the cells behind canonical ``column`` at global ``rows``."""
        positions = pa.array(rows - self.start, type=pa.int64())
        source = self.raw.schema.get_field_index(self.sources.get(column, ""))
        if source >= 0:
            return self.raw.column(source).take(positions)
        return pa.array(self.frame[column].to_numpy()[rows - self.start], from_pandas=True)


def apply_batch(plan: Plan, batch: pa.RecordBatch, start: int, collector: Collector | Pending) -> Canonical:
    """Map one raw batch onto the canonical columns."""
    n = batch.num_rows
    rows = np.arange(start, start + n, dtype=np.int64)
    keys = _key_lookup(plan, batch, start)
    columns: dict[str, Any] = {}
    judged: dict[str, np.ndarray] = {}
    for step in plan.steps:
        values, judged[step.column] = _column(step, plan, batch, rows, collector, keys)
        columns[step.column] = values
    for raw in plan.passthrough:
        columns[raw] = as_pandas(batch.column(raw))
    frame = pd.DataFrame(columns)
    frame.index = pd.RangeIndex(start, start + n)
    sources = {s.column: s.raw for s in plan.steps if s.raw is not None}
    return Canonical(frame=frame, raw=batch, start=start, judged=judged, keys=keys, sources=sources)


def _column(
    step: Step,
    plan: Plan,
    batch: pa.RecordBatch,
    rows: np.ndarray,
    collector: Collector | Pending,
    keys: KeyLookup | None,
) -> tuple[Any, np.ndarray]:
    n = len(rows)
    judged = np.zeros(n, dtype=bool)
    spec = step.spec
    where = {"column": step.column, "source_column": step.raw}
    if step.raw is None:
        raw = pa.nulls(n, type=pa.string())
        arr = raw
    else:
        raw = batch.column(step.raw)
        if pa.types.is_dictionary(raw.type):
            raw = raw.dictionary_decode()
        arr = raw
    kind = target_kind(step.dtype)
    parsed, unmapped, failed = _converted(arr, step, kind)

    def report(problem: str, mask: np.ndarray, check: str | None, detail: str) -> None:
        # Each cell is reported once, under the first problem that explains it.
        nonlocal judged
        collector.add(problem, **where, check=check, detail=detail, rows=rows[mask], values=raw.filter(mask), keys=keys)
        judged |= mask

    if unmapped is not None and spec is not None and spec.unmapped == "error" and unmapped.any():
        report("unmapped_value", unmapped, None, "no mapping")
    cast = spec.cast if spec is not None else None
    failed &= ~judged
    if failed.any():
        # A value of the right kind that the dtype cannot hold (9999-12-31 in datetime64[ns]) is
        # not malformed: it is told apart, with its own reason code and what to do about it.
        unheld = _unheld(arr, failed, step, kind)
        if unheld.any():
            report("cast_failed", unheld, "range", describe_unheld(step.dtype, arr.type))
        failed &= ~unheld
    for mask, check, detail in time_text_problems(arr, failed, step, kind):
        report("cast_failed", mask, check, detail)
        failed &= ~mask
    stray = stray_separators(arr, failed, step, kind)
    if stray.any():
        report("cast_failed", stray, "separator", describe_stray(cast))
        failed &= ~stray
    for mask, check, detail in scale_problems(arr, failed, step, kind):
        report("cast_failed", mask, check, detail)
        failed &= ~mask
    if failed.any():
        # What is left of a scaled column did not read as a number at all (see explain.scale_problems).
        read_as = "float" if kind == "int" and spec is not None and spec.scale is not None else kind
        report("cast_failed", failed, cast.type if cast is not None else kind, describe(cast, read_as, arr.type))
    if step.default is not None:
        default, _ = parse(one_cell(step.default), None, step.dtype)
        if len(default) and default[0].is_valid:
            raw_null = pc.is_null(raw, nan_is_null=True)  # NaN is null to pandera too (pd.isna)
            parsed = pc.if_else(raw_null, default[0].cast(parsed.type), parsed)
    if step.column in plan.key:
        null_key = parsed.is_null().to_numpy(zero_copy_only=False) & ~judged
        if null_key.any():
            report("null_key", null_key, None, "key column is null")
    values, filled = to_pandas(parsed, step.dtype)
    if not step.nullable:
        # Nulls are found here, not by pandera: it would build a failure case for every cell
        # already reported above (a failed cast is null), only for it to be dropped, and a numpy
        # int or bool column cannot hold a null at all. pd.isna is pandera's own test (NaN in a
        # float column is null), so the cells reported are the ones pandera would report.
        unseen = (filled | np.asarray(pd.isna(values), dtype=bool)) & ~judged
        if unseen.any():
            collector.add(
                "check_failed",
                **where,
                check="not_nullable",
                detail="null, but the column is not nullable",
                rows=rows[unseen],
                values=raw.filter(unseen),
                keys=keys,
            )
    return values, judged | filled


def _unheld(arr: pa.Array, failed: np.ndarray, step: Step, kind: str) -> np.ndarray:
    """Of the ``failed`` cells, those of the right kind that the dtype cannot hold. Typed times
    are judged by their range; other cells are converted again towards a `wider` dtype, where
    what converts is only out of range. Only the failed cells are looked at again."""
    out = np.zeros(len(failed), dtype=bool)
    if kind not in ("datetime", "zoned", "timedelta") and wider(step.dtype) is None:
        return out  # integers, booleans, text: nothing holds more
    at = np.flatnonzero(failed)
    cells = arr.take(pa.array(at, type=pa.int64()))
    value_map = step.spec is not None and step.spec.values is not None
    unheld = None if value_map else unheld_times(cells, step.dtype)  # a value map's targets are no times
    if unheld is None:
        wide = wider(step.dtype)
        if wide is None or wide == step.dtype:
            return out
        _, _, still = _converted(cells, replace(step, dtype=wide), kind)
        unheld = ~still
    out[at[unheld]] = True
    return out


# Rows looked at to guess whether a text column repeats enough to be worth converting once per value.
_PROBE = 16_384


def _converted(arr: pa.Array, step: Step, kind: str) -> tuple[pa.Array, np.ndarray | None, np.ndarray]:
    """Value-map, parse and scale ``arr``: the converted column, unmapped cells, failed cells.

    Every step is a function of the cell's value alone, so a text column whose values repeat
    (codes, dates: a few thousand distinct values in a million rows) is converted once per
    distinct value and the results are spread back by position, with the same outcome.
    """
    spec = step.spec
    busy = (spec is not None and spec.values is not None) or kind not in ("string", "any", "other", "timedelta")
    if busy and pa.types.is_string(arr.type) and len(arr) > _PROBE and _repeats(arr.slice(0, _PROBE)):
        encoded = pc.dictionary_encode(arr)
        if len(encoded.dictionary):
            parsed, unmapped, failed = _convert(encoded.dictionary, step, kind)
            positions = encoded.indices
            valid = positions.is_valid().to_numpy(zero_copy_only=False)
            at = positions.fill_null(0).to_numpy(zero_copy_only=False)
            spread = unmapped[at] & valid if unmapped is not None else None
            return parsed.take(positions), spread, failed[at] & valid
    return _convert(arr, step, kind)


def _repeats(sample: pa.Array) -> bool:
    present = len(sample) - sample.null_count
    return present > 0 and pc.count_distinct(sample).as_py() < 0.75 * present


def _convert(arr: pa.Array, step: Step, kind: str) -> tuple[pa.Array, np.ndarray | None, np.ndarray]:
    spec = step.spec
    unmapped = None
    if spec is not None and spec.values is not None:
        arr, unmapped = _value_map(arr, spec)
    cast = spec.cast if spec is not None else None
    scale = spec.scale if spec is not None else None
    # Scale in floating point, then let the integer parse reject fractional results.
    parse_dtype = np.dtype("float64") if scale is not None else step.dtype
    parsed, failed = parse(arr, cast, parse_dtype)
    if scale is not None:
        parsed = scaled(parsed, scale)
        if kind in ("int", "float"):  # not whole, or past what a float32 holds
            parsed, not_held = parse(parsed, None, step.dtype)
            failed |= not_held
    return parsed, unmapped, failed


def _value_map(arr: pa.Array, spec: ColumnMap) -> tuple[pa.Array, np.ndarray]:
    """Translate coded values; return the mapped array and the mask of unmapped cells."""
    assert spec.values is not None
    raw_keys = list(spec.values)
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        keys = pa.array([str(k) for k in raw_keys], type=arr.type)
        source = arr
    else:
        try:
            keys = pa.array(raw_keys).cast(arr.type)
            source = arr
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            keys = pa.array([str(k) for k in raw_keys], type=pa.string())
            source = arr.cast(pa.string())
    targets = target_array(list(spec.values.values()))
    if spec.ignore_case and (pa.types.is_string(keys.type) or pa.types.is_large_string(keys.type)):
        # Keys first, so a key written in another case than its raw cells still matches; keys
        # that fold alike map to one value (refused otherwise when the mapping loads).
        index = pc.index_in(pc.utf8_lower(source), value_set=pc.utf8_lower(keys))
    else:
        index = pc.index_in(source, value_set=keys)
    mapped = targets.take(index)
    unmapped = pc.and_(pc.is_valid(source), pc.is_null(index)).to_numpy(zero_copy_only=False)
    if spec.unmapped == "keep" and unmapped.any():
        kept = source if source.type == mapped.type else _as_text(source)
        mapped = mapped if mapped.type == kept.type else _as_text(mapped)
        mapped = pc.if_else(pa.array(unmapped), kept, mapped)
    return mapped, unmapped


def target_array(values: list[Any]) -> pa.Array:
    """A value map's targets as one column, the cast's input: text when YAML gave mixed types."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _as_text(arr: pa.Array) -> pa.Array:
    return arr.cast(pa.string())


def _key_lookup(plan: Plan, batch: pa.RecordBatch, start: int) -> KeyLookup | None:
    """Samples name rows by their raw key values, which is how people find them in the source."""
    if not plan.key:
        return None
    columns = key_columns(plan, batch)

    def lookup(rows: np.ndarray) -> list[dict[str, Any] | None]:
        return list(key_values(columns, np.asarray(rows, dtype=np.int64) - start))

    return lookup


def key_columns(plan: Plan, batch: pa.RecordBatch) -> dict[str, pa.Array | None]:
    """The raw column behind each key column of ``plan`` (None for one a default fills)."""
    sources = {step.column: step.raw for step in plan.steps}
    return {column: batch.column(sources[column]) if sources.get(column) else None for column in plan.key}


def key_values(columns: dict[str, pa.Array | None], positions: np.ndarray) -> list[dict[str, Any]]:
    """The raw key values at ``positions`` of ``columns``, as JSON carries them."""
    at = pa.array(positions, type=pa.int64())
    picked = {
        name: [None] * len(positions) if column is None else as_python(column.take(at))
        for name, column in columns.items()
    }
    return [{name: jsonable(values[i]) for name, values in picked.items()} for i in range(len(positions))]
