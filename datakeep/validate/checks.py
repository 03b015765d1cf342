"""Running pandera on one canonical batch and turning its failure cases into problems."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from datakeep.validate.apply import Canonical
from datakeep.validate.collect import Collector
from datakeep.validate.plan import Plan


def prepare(plan: Plan) -> None:
    """Load pandera's pandas backends (a fifth of a second of imports) before the first batch.

    Called while the worker thread reads and maps that batch, so the two overlap.
    """
    plan.schema.register_default_backends(pd.DataFrame)


def run_pandera(plan: Plan, batch: Canonical, collector: Collector) -> None:
    """Validate lazily (every failure, not the first) and record what is not yet reported."""
    import pandera.errors

    try:
        plan.schema.validate(batch.frame, lazy=True, inplace=True)
    except pandera.errors.SchemaErrors as exc:
        _record(plan, batch, exc.failure_cases, collector)


def _record(plan: Plan, batch: Canonical, cases: pd.DataFrame, collector: Collector) -> None:
    cases = cases.assign(
        column=cases["column"].astype(object).where(cases["column"].notna(), None),
        check=cases["check"].astype(str),
    )
    for (column, check), group in cases.groupby(["column", "check"], dropna=False, sort=False):
        column = None if column is None or column != column else str(column)
        code = _reason(plan, column, group["check_number"].iloc[0], str(check))
        detail = "null, but the column is not nullable" if code == "not_nullable" else f"fails {check}"
        index = pd.to_numeric(group["index"], errors="coerce").dropna()
        if index.empty:
            # Column-level findings (a wrong dtype) carry no rows.
            collector.structural("check_failed", column=column, source_column=None, detail=detail)
            continue
        hit = np.zeros(len(batch.frame), dtype=bool)
        hit[index.to_numpy(dtype=np.int64) - batch.start] = True
        if column is not None and column in batch.judged:
            hit &= ~batch.judged[column]
        rows = np.flatnonzero(hit) + batch.start
        if len(rows) == 0:
            continue
        collector.add(
            "check_failed",
            column=column,
            source_column=plan.source_of(column) if column is not None else None,
            check=code,
            detail=detail,
            rows=rows,
            values=batch.raw_values(column, rows) if column is not None else None,
            keys=batch.keys,
        )


def _reason(plan: Plan, column: str | None, number: Any, check: str) -> str:
    """pandera's reason code: the check's name (``isin``), not its rendered arguments."""
    try:
        index = int(number)
    except (TypeError, ValueError):
        return check.split("(", 1)[0]
    checks = plan.schema.columns[column].checks if column is not None else plan.schema.checks
    if 0 <= index < len(checks) and getattr(checks[index], "name", None):
        return str(checks[index].name)
    return check.split("(", 1)[0]
