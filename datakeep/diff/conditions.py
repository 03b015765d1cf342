"""The `--fail-on` condition language: a tiny grammar, parsed by one regular expression, no eval.

    condition := METRIC [OP NUMBER ["%"]]
    OP        := ">" | ">=" | "<" | "<=" | "==" | "!="

Metrics (per dataset; a condition fails the diff when it holds for any dataset):

    rows.added  rows.removed  rows.modified  rows.unchanged   counts, or % of the old row count
    schema.added  schema.removed  schema.type_changed
    schema.nullability_changed  schema.renamed  schema.reordered   number of columns (reordered: 0/1)
    drift.COLUMN   (drift.* = the largest)                          PSI score of a column
    cells.COLUMN   (cells.* = the largest)                          changed cells, or % of matched rows

A bare METRIC means "> 0", except a bare drift metric, which means "flagged" (PSI ≥ 0.1).
A COLUMN with spaces, quotes or < > = ! in it is written in quotes: cells."unit price (€)".
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from datakeep.diff.errors import ConditionError
from datakeep.diff.result import DatasetDiff

_PATTERN = re.compile(
    # A column name with spaces or operator characters is quoted: cells."unit price (€)".
    r"^\s*(?P<group>[A-Za-z_][\w\-]*)\.(?:\"(?P<double>[^\"]+)\"|'(?P<single>[^']+)'|(?P<bare>[^\s<>=!\"']+))\s*"
    r"(?:(?P<op>>=|<=|==|!=|>|<)\s*(?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<percent>%)?)?\s*$"
)
#: Same as `drift.MODERATE` (kept here so parsing a condition does not import numpy).
MODERATE = 0.1
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
}
_ROWS = ("added", "removed", "modified", "unchanged")
_SCHEMA = ("added", "removed", "type_changed", "nullability_changed", "renamed", "reordered")


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    text: str
    group: str  # rows | schema | drift | cells
    name: str  # the field or column after the dot
    op: str
    threshold: float
    percent: bool


def parse(text: str) -> Condition:
    """Parse one condition, or raise ConditionError saying what is wrong with it."""
    match = _PATTERN.match(text)
    if not match:
        raise ConditionError(
            text,
            "expected METRIC [OP NUMBER[%]]",
            "write METRIC [OP NUMBER[%]], e.g. 'rows.removed > 1%', 'drift.amount > 0.2'; quote a column "
            """name with spaces or < > = ! in it: 'cells."unit price (€)" > 0'""",
        )
    group = match.group("group")
    name = match.group("double") or match.group("single") or match.group("bare")
    if group not in ("rows", "schema", "drift", "cells"):
        raise ConditionError(text, f"unknown metric group '{group}' (use rows, schema, drift or cells)")
    if group == "rows" and name not in _ROWS:
        raise ConditionError(text, f"unknown rows metric '{name}' (use {', '.join(_ROWS)})")
    if group == "schema" and name not in _SCHEMA:
        raise ConditionError(text, f"unknown schema metric '{name}' (use {', '.join(_SCHEMA)})")
    percent = bool(match.group("percent"))
    if percent and group in ("schema", "drift"):
        raise ConditionError(text, f"{group} metrics are not percentages")
    if match.group("op") is None:
        bare_threshold = MODERATE if group == "drift" else 0.0
        op = ">=" if group == "drift" else ">"
        return Condition(text=text, group=group, name=name, op=op, threshold=bare_threshold, percent=False)
    return Condition(
        text=text,
        group=group,
        name=name,
        op=match.group("op"),
        threshold=float(match.group("number")),
        percent=percent,
    )


def _value(condition: Condition, d: DatasetDiff) -> tuple[float | None, str]:
    """The metric's value for one dataset (None when it does not apply) and how to say it."""
    if condition.group == "rows":
        count = getattr(d.rows, condition.name)
        if count is None:
            return None, "unknown (rows matched without a key)"
        if condition.percent:
            share = _share(count, d.rows.old)
            return share, f"{share:.4g}% ({count:,} of {d.rows.old:,})"
        return float(count), f"{count:,}"
    if condition.group == "schema":
        value = getattr(d.schema, condition.name)
        number = float(value) if isinstance(value, bool) else float(len(value))
        return number, f"{number:g}"
    columns = [c for c in d.columns if condition.name in ("*", c.name)]
    if condition.group == "drift":
        scores = [(c.drift, c.name) for c in columns if c.drift is not None]
        if not scores:
            return None, ""
        score, column = max(scores)
        return score, f"{score:.3g} ({column})"
    counted = [(c.modified, c.name) for c in columns if c.modified is not None]
    if not counted:
        return None, ""
    cells, column = max(counted)
    if condition.percent:
        matched = (d.rows.modified or 0) + d.rows.unchanged
        share = _share(cells, matched)
        return share, f"{share:.4g}% ({cells:,} of {matched:,}, {column})"
    return float(cells), f"{cells:,} ({column})"


def _share(count: int, total: int) -> float:
    if total == 0:
        return math.inf if count else 0.0
    return 100.0 * count / total


def evaluate(
    conditions: Sequence[Condition], datasets: Iterable[DatasetDiff], *, cells_counted: bool = True
) -> list[str]:
    """One sentence per (condition, dataset) that holds; raise on a column no dataset has, and on
    a metric this comparison does not measure (``cells_counted`` False: a ``--stat`` diff), which
    would otherwise never hold: a gate that cannot trip is worse than none."""
    datasets = list(datasets)
    failures: list[str] = []
    for condition in conditions:
        if condition.group in ("drift", "cells") and condition.name != "*":
            known = {c.name for d in datasets for c in d.columns}
            if datasets and condition.name not in known:
                raise ConditionError(condition.text, f"no compared dataset has a column '{condition.name}'")
        for d in datasets:
            _refuse_unmeasured(condition, d, cells_counted)
            value, said = _value(condition, d)
            if value is not None and _OPS[condition.op](value, condition.threshold):
                failures.append(f"{condition.text}: holds for {d.name} ({condition.group}.{condition.name} = {said})")
    return failures


def _refuse_unmeasured(condition: Condition, d: DatasetDiff, cells_counted: bool) -> None:
    """Raise when ``condition`` asks for what the comparison of ``d`` does not count."""
    if d.old is None or d.new is None or d.matched_by == "id":
        return  # added, removed or identical: nothing is left unmeasured
    keyless = d.matched_by == "row"
    if condition.group == "rows" and condition.name == "modified" and keyless:
        raise ConditionError(
            condition.text,
            f"rows.modified is not counted for {d.name}: without a key, rows are matched by their whole "
            "content, so a changed row counts as one removed and one added",
            "give --key, or gate on rows.added / rows.removed",
        )
    if condition.group == "cells" and keyless:
        raise ConditionError(
            condition.text,
            f"cells are not counted for {d.name}: without a key no row is matched to its old version",
            "give --key",
        )
    if condition.group == "cells" and not cells_counted:
        refuse_before_diff(condition, stat=True)
    if condition.group == "drift" and condition.name != "*":
        column = next((c for c in d.columns if c.name == condition.name), None)
        if column is not None and column.drift is None and column.drift_reason is not None:
            # A gate on a column whose drift is not measured could never trip: a source that
            # stopped sending a column's values would pass it.
            raise ConditionError(
                condition.text,
                f"drift of {condition.name} is not measured for {d.name}: {column.drift_reason}",
                f"gate on cells.{_quoted(condition.name)} (with --key) or on rows.*, or drop this condition",
            )


def refuse_before_diff(condition: Condition, *, stat: bool) -> None:
    """Raise for a gate that the options alone show cannot be measured (cells under ``stat``)."""
    if condition.group == "cells" and stat:
        raise ConditionError(
            condition.text,
            "cells are not counted with --stat (it compares stored row hashes, not cells)",
            "drop --stat for this gate",
        )


def _quoted(name: str) -> str:
    """A column name as a condition writes it: in quotes when it holds what ends a bare name."""
    return name if re.fullmatch(r"[^\s<>=!\"']+", name) else f'"{name}"'
