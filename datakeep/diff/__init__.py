"""`datakeep diff`: what changed between two versions — schema, rows by key, cells, drift.

>>> result = datakeep.Repo.open(".").diff("v1", "v2")
>>> result.dataset("flights").rows.modified

Metadata first: equal snapshot ids answer at once, shared chunks are never read, and only rows
whose hashes differ are read in full. See ``docs/diff.md``.
"""

from __future__ import annotations

from datakeep.diff.engine import DiffOptions, diff, diff_files
from datakeep.diff.result import ColumnDiff, DatasetDiff, DiffResult, RowCounts, SchemaDiff

__all__ = ["ColumnDiff", "DatasetDiff", "DiffOptions", "DiffResult", "RowCounts", "SchemaDiff", "diff", "diff_files"]
