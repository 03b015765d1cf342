"""The plan for one file: which raw column feeds which canonical column, decided once from the
header, before any row is read. Missing and unexpected columns are found here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from datakeep.schemas import ColumnMap, EntitySchema, SourceMapping
from datakeep.validate.collect import Collector


@dataclass(frozen=True, slots=True)
class Step:
    """How one canonical column is produced from the raw batch."""

    column: str  # canonical
    raw: str | None  # raw column, or None when the column comes from a default alone
    spec: ColumnMap | None
    default: Any
    dtype: Any  # the pandas dtype pandera expects, or None
    nullable: bool


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    passthrough: tuple[str, ...]  # raw columns kept as they are (non-strict entities)
    key: tuple[str, ...]
    unique_sets: tuple[tuple[str, ...], ...]  # key first, then unique columns, then schema unique
    schema: Any  # pandera schema for one batch: present columns only, uniqueness off

    def source_of(self, column: str) -> str | None:
        for step in self.steps:
            if step.column == column:
                return step.raw
        return None


def make_plan(entity: EntitySchema, mapping: SourceMapping, raw_columns: list[str], collector: Collector) -> Plan:
    """Match the raw header against the entity and record structural problems."""
    schema = entity.schema
    canonical = set(schema.columns)
    present = set(raw_columns)
    dropped = set(mapping.drop)
    for raw in mapping.required:
        if raw not in present:
            target = mapping.target_of(raw)
            collector.structural(
                "missing_column",
                column=target if target in canonical else None,
                source_column=raw,
                detail=f"required raw column '{raw}' is missing",
            )

    explicit = {col.target for col in mapping.columns if col.source in present}
    feeds: dict[str, str] = {}
    passthrough: list[str] = []
    for raw in raw_columns:
        if raw in dropped:
            continue
        spec = mapping.column(raw)
        target = spec.target if spec else raw
        # A raw column named like a canonical column that another raw column is renamed onto
        # would feed it twice; the explicit mapping wins.
        if target in canonical and (spec is not None or target not in explicit):
            feeds[target] = raw
        elif entity.strict:
            collector.structural(
                "unexpected_column",
                column=None,
                source_column=raw,
                detail=f"not a column of entity '{entity.name}', and the mapping neither renames nor drops it",
            )
        else:
            passthrough.append(raw)

    steps: list[Step] = []
    absent: list[str] = []
    for name, column in schema.columns.items():
        dtype = column.dtype.type if column.dtype is not None else None
        has_default = name in mapping.defaults
        default = mapping.defaults.get(name)
        if name in feeds:
            raw = feeds[name]
            steps.append(Step(name, raw, mapping.column(raw), default, dtype, column.nullable))
        elif has_default:
            steps.append(Step(name, None, None, default, dtype, column.nullable))
        else:
            absent.append(name)
            if column.required:
                expected = mapping.source_of(name) or name
                collector.structural(
                    "missing_column",
                    column=name,
                    source_column=expected,
                    detail=f"no raw column provides '{name}' (expected '{expected}')",
                )

    unique_sets: list[tuple[str, ...]] = []
    produced = {step.column for step in steps}
    key = entity.key if all(k in produced for k in entity.key) else ()
    if key:
        unique_sets.append(key)
    for name, column in schema.columns.items():
        if column.unique and name in produced and (name,) != key:
            unique_sets.append((name,))
    if schema.unique:
        cols = (schema.unique,) if isinstance(schema.unique, str) else tuple(schema.unique)
        if all(c in produced for c in cols) and cols != key:
            unique_sets.append(cols)

    return Plan(
        steps=tuple(steps),
        passthrough=tuple(passthrough),
        key=key,
        unique_sets=tuple(unique_sets),
        schema=_batch_schema(schema, absent, steps),
    )


def _batch_schema(schema: Any, absent: list[str], steps: list[Step]) -> Any:
    """The entity's pandera schema as one batch is checked against it.

    Structure was judged from the header, uniqueness is tracked across batches, types were
    converted vectorised and nulls are found while mapping (`apply`), so pandera is asked only
    for dtypes and checks. It never coerces, whose element-wise failure path is slow, and never
    builds a failure case per null cell that is then thrown away. A check the mapping already
    guarantees (an ``isin`` every value-map target passes) is not run.
    """
    batch = copy.deepcopy(schema).remove_columns(absent) if absent else copy.deepcopy(schema)
    updates: dict[str, dict[str, Any]] = {
        name: {"unique": False, "coerce": False, "nullable": True} for name in batch.columns
    }
    for step in steps:
        checks = batch.columns[step.column].checks
        kept = [check for check in checks if not _guaranteed(check, step)]
        if len(kept) < len(checks):
            updates[step.column]["checks"] = kept
    batch = batch.update_columns(updates)
    batch.strict = False
    batch.unique = None
    batch.coerce = False
    batch.ordered = False
    return batch


def _guaranteed(check: Any, step: Step) -> bool:
    """Whether ``check`` passes on every value the step's value map can produce.

    Only for a text column fed by a value map alone (no cast, no scale, no default), whose
    unmapped values are reported or nulled, never kept: each cell is then one of the map's
    targets or null, and an ``isin`` that allows every target and ignores nulls cannot fail.
    """
    from datakeep.validate.coerce import target_kind

    spec = step.spec
    if spec is None or spec.values is None or spec.unmapped not in ("error", "null"):
        return False
    if spec.cast is not None or spec.scale is not None or step.default is not None:
        return False
    if target_kind(step.dtype) != "string" or getattr(check, "name", None) != "isin":
        return False
    if not check.ignore_na or check.groupby is not None or check.element_wise:
        return False
    allowed = (check.statistics or {}).get("allowed_values")
    if allowed is None:
        return False
    targets = [value for value in spec.values.values() if value is not None]
    return all(isinstance(value, str) and value in allowed for value in targets)
