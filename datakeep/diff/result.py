"""The diff result: plain frozen values with one stable JSON form.

Text, HTML and JSON are all renderings of `DiffResult`; nothing in here reads data.
The JSON form is documented in ``docs/diff.md`` and ``docs/diff.schema.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from datakeep.errors import DatasetError

FORMAT = "datakeep.diff"
VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class TypeChange:
    column: str
    old: str
    new: str

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "from": self.old, "to": self.new}


@dataclass(frozen=True, slots=True, kw_only=True)
class Rename:
    old: str
    new: str
    how: str  # "explicit" (--rename or a source mapping) or "candidate" (same values)

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.old, "to": self.new, "how": self.how}


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaDiff:
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    type_changed: tuple[TypeChange, ...] = ()
    nullability_changed: tuple[TypeChange, ...] = ()
    renamed: tuple[Rename, ...] = ()
    reordered: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.added
            or self.removed
            or self.type_changed
            or self.nullability_changed
            or any(r.how == "explicit" for r in self.renamed)
            or self.reordered
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": list(self.added),
            "removed": list(self.removed),
            "type_changed": [t.to_dict() for t in self.type_changed],
            "nullability_changed": [t.to_dict() for t in self.nullability_changed],
            "renamed": [r.to_dict() for r in self.renamed],
            "reordered": self.reordered,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RowCounts:
    """Row counts. ``modified`` is None when rows were matched by content (no key to tell)."""

    old: int
    new: int
    added: int = 0
    removed: int = 0
    modified: int | None = 0
    unchanged: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "from": self.old,
            "to": self.new,
            "added": self.added,
            "removed": self.removed,
            "modified": self.modified,
            "unchanged": self.unchanged,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ColumnDiff:
    """One column: cells changed among matched rows, drift score, and both versions' statistics."""

    name: str
    type: str
    modified: int | None = None
    drift: float | None = None
    drift_level: str | None = None  # "none" | "moderate" | "major"
    tolerance: float | None = None
    stats_from: dict[str, Any] = field(default_factory=dict)
    stats_to: dict[str, Any] = field(default_factory=dict)
    #: Binned shares of rows in each version ({"labels", "from", "to"}), as drift was scored.
    distribution: dict[str, list[Any]] | None = None
    #: Why ``drift`` is None for a column that is scored (too many distinct values to bin).
    drift_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "modified": self.modified,
            "drift": self.drift,
            "drift_level": self.drift_level,
            "tolerance": self.tolerance,
            "stats": {"from": self.stats_from, "to": self.stats_to},
            "distribution": self.distribution,
            "drift_reason": self.drift_reason,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """One changed row: its key and, for a modified row, each changed cell old → new."""

    kind: str  # "modified" | "added" | "removed"
    #: Cells are JSON-friendly values (dates and times as ISO text), except floats, which stay
    #: floats: NaN and ±inf included, so that a report tells NaN from the text 'nan'.
    key: dict[str, Any]
    changes: tuple[tuple[str, Any, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": {k: _json_cell(v) for k, v in self.key.items()},
            "changes": [_change(c, a, b) for c, a, b in self.changes],
        }


def _non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _json_cell(value: Any) -> Any:
    """A cell as JSON carries it: a float NaN or ±inf, which JSON has no number for, as the text
    'nan', 'inf' or '-inf' (as before), which a change marks in ``non_finite``."""
    return str(value) if _non_finite(value) else value


def _change(column: str, old: Any, new: Any) -> dict[str, Any]:
    change = {"column": column, "from": _json_cell(old), "to": _json_cell(new)}
    # Added only when needed, so that every other change keeps its three fields: a consumer can
    # tell a float NaN ('nan' here) from the text 'nan' without looking up the column's type.
    sides = [side for side, value in (("from", old), ("to", new)) if _non_finite(value)]
    if sides:
        change["non_finite"] = sides
    return change


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyProblem:
    """Duplicate or null keys on one side: counted, with examples, never silently merged."""

    side: str  # "from" | "to"
    duplicate_keys: int  # distinct key values that occur more than once
    duplicate_rows: int  # rows carrying such a key
    null_keys: int
    examples: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side,
            "duplicate_keys": self.duplicate_keys,
            "duplicate_rows": self.duplicate_rows,
            "null_keys": self.null_keys,
            "examples": list(self.examples),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DatasetDiff:
    name: str
    old: str | None  # snapshot id (or file path) of the "from" side; None if absent there
    new: str | None
    #: "identical" (same snapshot id), "unchanged" (ids differ, yet no row or schema difference
    #: under this comparison: row order, tolerance), "changed", "added" or "removed".
    status: str
    key: tuple[str, ...] = ()
    matched_by: str = "key"  # "key" | "row" (whole-row content) | "id" (identical snapshot ids)
    schema: SchemaDiff = field(default_factory=SchemaDiff)
    rows: RowCounts = field(default_factory=lambda: RowCounts(old=0, new=0))
    columns: tuple[ColumnDiff, ...] = ()
    samples: tuple[Sample, ...] = ()
    key_problems: tuple[KeyProblem, ...] = ()
    chunks: dict[str, int] = field(default_factory=dict)  # read / shared counts: proof of work skipped
    notes: tuple[str, ...] = ()

    @property
    def identical(self) -> bool:
        return self.status == "identical"

    @property
    def changed(self) -> bool:
        return self.status in ("changed", "added", "removed")

    def column(self, name: str) -> ColumnDiff | None:
        return next((c for c in self.columns if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "from": self.old,
            "to": self.new,
            "status": self.status,
            "identical": self.identical,
            "key": list(self.key),
            "matched_by": self.matched_by,
            "schema": self.schema.to_dict(),
            "rows": self.rows.to_dict(),
            "columns": {c.name: c.to_dict() for c in self.columns},
            "samples": [s.to_dict() for s in self.samples],
            "key_problems": [k.to_dict() for k in self.key_problems],
            "chunks": dict(self.chunks),
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffResult:
    """What changed between two versions: one entry per dataset compared."""

    old: str  # what the "from" side is ("v1", "HEAD", "a.parquet", ...)
    new: str
    datasets: tuple[DatasetDiff, ...]
    failures: tuple[str, ...] = ()  # --fail-on conditions that held, as sentences

    @property
    def changed(self) -> bool:
        return any(d.changed for d in self.datasets)

    def dataset(self, name: str) -> DatasetDiff:
        """The comparison of dataset ``name``; DatasetError naming those compared when it is not one."""
        for d in self.datasets:
            if d.name == name:
                return d
        compared = ", ".join(repr(d.name) for d in self.datasets) or "none"
        raise DatasetError(
            f"this diff compared no dataset '{name}' (it compared: {compared})",
            "use one of those names; `result.datasets` lists every comparison",
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "from": self.old,
            "to": self.new,
            "changed": self.changed,
            "datasets": [d.to_dict() for d in self.datasets],
            "failures": list(self.failures),
        }

    def _repr_html_(self) -> str:
        # Notebooks display the same page `--html` writes.
        from datakeep.render.diff_html import render_html

        return render_html(self, fragment=True)

    def __str__(self) -> str:
        # print(repo.diff(...)) shows the report `datakeep diff` prints; repr() stays the fields.
        from datakeep.render.diff_text import render_text

        return render_text(self)
