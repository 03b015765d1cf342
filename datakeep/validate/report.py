"""The validation report: a value with a stable, versioned JSON form (docs/validation.md)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

REPORT_FORMAT = "datakeep.validation"
REPORT_VERSION = 1

# Report order: problems with the file's shape first, then cells, then keys.
KINDS = (
    "missing_column",
    "unexpected_column",
    "unmapped_value",
    "cast_failed",
    "null_key",
    "duplicate_key",
    "duplicate_value",
    "check_failed",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ValueCount:
    """One distinct offending raw value and how many rows carry it."""

    value: Any
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    """A row that shows the problem: its 0-based row number in the file and its key values."""

    row: int
    key: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Problem:
    """One kind of problem on one column (merged over every batch of the file).

    ``column`` is the canonical column, ``source_column`` the raw column it comes from;
    ``check`` is pandera's reason code (the check name) where pandera found the problem.
    ``values`` are raw values as they appear in the source. When ``values_exact`` is false there
    were too many distinct values to count exactly, and ``values``/``distinct_values`` are lower
    bounds.
    """

    kind: str
    column: str | None
    source_column: str | None
    check: str | None
    detail: str
    rows: int
    values: tuple[ValueCount, ...] = ()
    distinct_values: int = 0
    values_exact: bool = True
    samples: tuple[Sample, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "column": self.column,
            "source_column": self.source_column,
            "check": self.check,
            "detail": self.detail,
            "rows": self.rows,
            "values": [{"value": v.value, "count": v.count} for v in self.values],
            "distinct_values": self.distinct_values,
            "values_exact": self.values_exact,
            "samples": [{"row": s.row, "key": dict(s.key) if s.key is not None else None} for s in self.samples],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Problem:
        return cls(
            kind=data["kind"],
            column=data["column"],
            source_column=data["source_column"],
            check=data["check"],
            detail=data["detail"],
            rows=data["rows"],
            values=tuple(ValueCount(value=v["value"], count=v["count"]) for v in data["values"]),
            distinct_values=data["distinct_values"],
            values_exact=data["values_exact"],
            samples=tuple(Sample(row=s["row"], key=s["key"]) for s in data["samples"]),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationReport:
    """Everything wrong with one file (or frame) against one entity and source."""

    path: str | None
    entity: str
    source: str | None
    fingerprint: str | None
    key: tuple[str, ...]
    rows_checked: int
    rows_failing: int
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def problems_by_kind(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for problem in self.problems:
            counts[problem.kind] = counts.get(problem.kind, 0) + 1
        return counts

    def __str__(self) -> str:
        # print(validate_file(...)) shows what `datakeep validate` prints; repr() stays the fields.
        from datakeep.validate.render import render_text  # render imports this module

        return render_text(self)

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON form (see docs/validation-report.schema.json)."""
        return {
            "format": REPORT_FORMAT,
            "version": REPORT_VERSION,
            "path": self.path,
            "entity": self.entity,
            "source": self.source,
            "fingerprint": self.fingerprint,
            "key": list(self.key),
            "ok": self.ok,
            "summary": {
                "rows_checked": self.rows_checked,
                "rows_failing": self.rows_failing,
                "problems": len(self.problems),
                "by_kind": self.problems_by_kind,
            },
            "problems": [p.to_dict() for p in self.problems],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        if data.get("format") != REPORT_FORMAT or data.get("version") != REPORT_VERSION:
            raise ValueError(
                f"not a {REPORT_FORMAT} v{REPORT_VERSION} document: {data.get('format')!r} v{data.get('version')!r}"
            )
        summary = data["summary"]
        return cls(
            path=data["path"],
            entity=data["entity"],
            source=data["source"],
            fingerprint=data["fingerprint"],
            key=tuple(data["key"]),
            rows_checked=summary["rows_checked"],
            rows_failing=summary["rows_failing"],
            problems=tuple(Problem.from_dict(p) for p in data["problems"]),
        )
