"""The plan for one file: which raw column feeds which canonical column, decided once from the
header, before any row is read. Missing and unexpected columns are found here.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from datakeep.schemas import ColumnMap, EntitySchema, SourceMapping
from datakeep.validate.collect import Collector

#: pandera's report_duplicates that reports every row of a repeated value.
ALL = "all"


@dataclass(frozen=True, slots=True)
class Step:
    """How one canonical column is produced from the raw batch."""

    column: str  # canonical
    raw: str | None  # raw column, or None when the column comes from a default alone
    spec: ColumnMap | None
    default: Any
    dtype: Any  # the pandas dtype pandera expects, or None
    nullable: bool
    convert: bool = True  # False: coerce is false, and values must already have the dtype


@dataclass(frozen=True, slots=True)
class Plan:
    steps: tuple[Step, ...]
    passthrough: tuple[str, ...]  # raw columns kept as they are (non-strict entities)
    key: tuple[str, ...]
    unique_sets: tuple[tuple[str, ...], ...]  # key first, then unique columns, then schema unique
    schema: Any  # pandera schema for one batch: present columns only, uniqueness off
    report_duplicates: tuple[str, ...]  # pandera's setting for each of `unique_sets`, in order

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
            if target in feeds:
                # Two names the mapping renames onto one column (a column renamed between
                # exports): a file holds one of them; both would be two values for each cell.
                collector.structural(
                    "unexpected_column",
                    column=target,
                    source_column=raw,
                    detail=f"'{feeds[target]}' and '{raw}' both map onto '{target}'; a file may hold only one "
                    f"of them ('{feeds[target]}' was validated)",
                )
                continue
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
    if schema.ordered:
        _check_order(schema, raw_columns, feeds, collector)

    steps: list[Step] = []
    absent: list[str] = []
    for name, column in schema.columns.items():
        dtype = column.dtype.type if column.dtype is not None else None
        # The source's default is the more particular one; the column's is pandera's `default`.
        has_default = name in mapping.defaults
        default = mapping.defaults[name] if has_default else _default(column)
        convert = name not in entity.uncoerced
        if name in feeds:
            raw = feeds[name]
            steps.append(Step(name, raw, mapping.column(raw), default, dtype, column.nullable, convert))
        elif has_default:
            steps.append(Step(name, None, None, default, dtype, column.nullable, convert))
        elif column.required and schema.add_missing_columns and (default is not None or column.nullable):
            # pandera adds a missing column filled with its default, or with nulls if nullable.
            steps.append(Step(name, None, None, default, dtype, column.nullable, convert))
        else:
            absent.append(name)
            if column.required:
                names = mapping.sources_of(name) or (name,)
                expected = names[0]
                quoted = " or ".join(f"'{n}'" for n in names)  # as the other details quote names
                detail = f"no raw column provides '{name}' (expected {quoted})"
                if schema.add_missing_columns:
                    detail += ", and add_missing_columns cannot add it: it has no default and is not nullable"
                collector.structural("missing_column", column=name, source_column=expected, detail=detail)

    unique_sets: list[tuple[str, ...]] = []
    shown: list[str] = []
    produced = {step.column for step in steps}
    key = entity.key if all(k in produced for k in entity.key) else ()
    declared: dict[tuple[str, ...], str] = {}
    for name, column in schema.columns.items():
        if column.unique and name in produced:
            declared[(name,)] = column.report_duplicates
    if schema.unique:
        cols = (schema.unique,) if isinstance(schema.unique, str) else tuple(schema.unique)
        if all(c in produced for c in cols):
            declared.setdefault(cols, schema.report_duplicates)
    if key:
        # The key is datakeep's: all its repeats are reported, unless it is declared unique too.
        unique_sets.append(key)
        shown.append(declared.pop(key, ALL))
    for cols, setting in declared.items():
        unique_sets.append(cols)
        shown.append(setting)

    return Plan(
        steps=tuple(steps),
        passthrough=tuple(passthrough),
        key=key,
        unique_sets=tuple(unique_sets),
        schema=_batch_schema(schema, absent, steps),
        report_duplicates=tuple(shown),
    )


def _default(column: Any) -> Any:
    """A column's `default`, or None; pandera takes a null default for none (``pd.isna``)."""
    default = column.default
    return None if default is None or default != default else default


def _check_order(schema: Any, raw_columns: list[str], feeds: dict[str, str], collector: Collector) -> None:
    """``ordered: true``: the canonical columns a file provides come in the schema's order.

    As pandera judges it: each column is compared with the one the schema expects at its place
    (so two swapped columns are both out of order); columns the schema lacks have no place.
    """
    fed = {raw: target for target, raw in feeds.items()}
    in_file = [fed[raw] for raw in raw_columns if raw in fed]
    expected = [name for name in schema.columns if name in feeds]
    wanted = iter(expected)
    for name in in_file:
        if next(wanted, None) != name:
            collector.structural(
                "check_failed",
                column=name,
                source_column=feeds[name],
                check="column_ordered",
                detail=f"out of order: the schema's order is {', '.join(expected)}",
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
    # Defaults were filled while mapping, and only where the raw cell was null: pandera would
    # fill the cells a failed cast left null too (and change the frame `map` writes).
    updates: dict[str, dict[str, Any]] = {
        name: {"unique": False, "coerce": False, "nullable": True, "default": None} for name in batch.columns
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
    batch.unique_column_names = False  # judged from the header (`engine`)
    batch.add_missing_columns = False  # added while mapping
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
