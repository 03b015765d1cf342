"""Rows added/removed/modified against the parent snapshot, stored in each commit for `log --stat`.

This runs inside every `datakeep commit`, so it does only the metadata part of a diff: shared
chunks are skipped, and the rest is a join of (key, row hash) read from the row-hash sidecars
and a projection of the key columns. No full row is read; duplicate keys are matched as
multisets rather than refused (a commit must not fail because of a summary).
"""

from __future__ import annotations

from typing import Any

from datakeep.diff.errors import DiffError
from datakeep.diff.rows import RowOptions, compare_rows
from datakeep.diff.schema import column_plan
from datakeep.diff.sources import SnapshotSide
from datakeep.errors import DatasetError
from datakeep.records.manifest import Manifest
from datakeep.repo import Repository
from datakeep.rowcache import RowIndex


def row_changes(
    repo: Repository,
    old: Manifest | None,
    new: Manifest,
    *,
    old_rows: RowIndex | None = None,
    new_rows: RowIndex | None = None,
) -> dict[str, Any]:
    """``{"rows": {"added", "removed", "modified"}}``; ``modified`` is left out without a key."""
    if old is None:
        return {"rows": {"added": new.rows, "removed": 0, "modified": 0}}
    if old.id == new.id:
        return {"rows": {"added": 0, "removed": 0, "modified": 0}}
    try:
        # A parent written before folder columns were unified may type a column two ways in two
        # files (DatasetError): the commit still happens, with schema changes only.
        old_side = SnapshotSide(repo.store, old, "parent", rows=old_rows)
        new_side = SnapshotSide(repo.store, new, "new", rows=new_rows)
    except DatasetError:
        return {}
    plan = column_plan(old_side.columns, new_side.columns)
    key = new.key if all(k in {p.new for p in plan} for k in new.key) else ()
    try:
        outcome = compare_rows(
            old_side,
            new_side,
            RowOptions(dataset=new.name, key=key, plan=plan, detail=False, sample=0, allow_duplicates=True),
        )
    except DiffError:
        # e.g. the key column changed type: the commit still happens, with schema changes only.
        return {}
    rows: dict[str, Any] = {"added": outcome.counts.added, "removed": outcome.counts.removed}
    if outcome.counts.modified is not None:
        rows["modified"] = outcome.counts.modified
    return {"rows": rows}
