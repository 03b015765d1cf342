"""`datakeep diff`: what changed between two versions — schema, rows by key, cells, drift.

>>> result = datakeep.Repo.open(".").diff("v1", "v2")
>>> result.dataset("flights").rows.modified

Metadata first: equal snapshot ids answer at once, shared chunks are never read, and only rows
whose hashes differ are read in full. See ``docs/diff.md``.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names are resolved on first use: every commit imports ``datakeep.diff.summary``, and the engine
# and result modules it does not need would add their import time to each one.
_HOMES = {
    "DiffOptions": "engine",
    "diff": "engine",
    "diff_files": "engine",
    "ColumnDiff": "result",
    "DatasetDiff": "result",
    "DiffResult": "result",
    "RowCounts": "result",
    "SchemaDiff": "result",
}

__all__ = ["ColumnDiff", "DatasetDiff", "DiffOptions", "DiffResult", "RowCounts", "SchemaDiff", "diff", "diff_files"]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'datakeep.diff' has no attribute {name!r}")
    return getattr(importlib.import_module(f"datakeep.diff.{home}"), name)
