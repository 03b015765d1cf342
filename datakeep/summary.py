"""The change summary stored in each commit against its parent, so `log --stat` reads no data."""

from __future__ import annotations

from typing import Any

from datakeep import rowcache
from datakeep.records.manifest import Manifest
from datakeep.repo import Repository
from datakeep.rowcache import RowIndex


def schema_changes(old: Manifest | None, new: Manifest) -> dict[str, Any]:
    old_cols = {c["name"]: c for c in old.columns} if old else {}
    new_cols = {c["name"]: c for c in new.columns}
    return {
        "added": [n for n in new_cols if n not in old_cols],
        "removed": [n for n in old_cols if n not in new_cols],
        "type_changed": [
            {"column": n, "from": old_cols[n]["type"], "to": c["type"]}
            for n, c in new_cols.items()
            if n in old_cols and old_cols[n]["type"] != c["type"]
        ],
    }


def change_summary(
    repo: Repository,
    old: Manifest | None,
    new: Manifest,
    *,
    old_rows: RowIndex | None = None,
    new_rows: RowIndex | None = None,
) -> dict[str, Any]:
    """Rows and schema against the parent snapshot, from metadata: the row indexes the commit
    holds in memory, else the row-hash sidecars and key columns. Row counts are left out for a
    snapshot too big for a row index (``rowcache.MAX_ROWS``)."""
    old_chunks = {c.id for c in old.chunks} if old else set()
    new_chunks = [c for c in new.chunks if c.id not in old_chunks]
    summary: dict[str, Any] = {
        "rows_from": old.rows if old else 0,
        "rows_to": new.rows,
        "chunks_new": len(new_chunks),
        "chunks_total": len(new.chunks),
        "schema": schema_changes(old, new),
    }
    if old is None:
        summary["new"] = True  # `log --stat` says so, rather than list every column as added
    if old is not None and max(old.rows, new.rows) > rowcache.MAX_ROWS:
        # Too big for row indexes: counting added, removed and modified rows would read every
        # key and row hash of both versions again, a pass as long as the commit and with memory
        # that grows with the dataset. `datakeep diff` counts them when asked.
        return summary
    from datakeep.diff.summary import row_changes

    try:
        changes = row_changes(repo, old, new, old_rows=old_rows, new_rows=new_rows)
    except rowcache.DamagedIndexError:  # the parent's cached index: counted from the store instead
        changes = row_changes(repo, old, new, old_rows=None, new_rows=new_rows)
    summary.update(changes)
    return summary
