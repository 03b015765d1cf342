"""Errors a diff raises on purpose (all exit 2: the question could not be answered as asked)."""

from __future__ import annotations

from typing import Any

from datakeep.errors import DatakeepError


class DiffError(DatakeepError):
    """Base class of diff errors."""


class DuplicateKeyError(DiffError):
    """A key that does not identify rows: counting would silently pair the wrong rows."""

    def __init__(self, dataset: str, key: tuple[str, ...], problems: list[Any]) -> None:
        parts = []
        for p in problems:
            what = []
            if p.duplicate_keys:
                what.append(f"{p.duplicate_keys:,} duplicated key value(s) on {p.duplicate_rows:,} rows")
            if p.null_keys:
                what.append(f"{p.null_keys:,} row(s) with a null key")
            examples = "; ".join(str(e) for e in p.examples[:3])
            parts.append(f"{p.side} side: {', '.join(what)}" + (f" (e.g. {examples})" if examples else ""))
        super().__init__(
            f"dataset '{dataset}': key ({', '.join(key)}) is not unique — " + "; ".join(parts),
            "pass a key that identifies rows (--key COLS), or --allow-duplicate-keys to match them as multisets",
        )
        self.dataset = dataset
        self.key = key
        self.problems = problems


class KeyTypeChangedError(DiffError):
    def __init__(self, dataset: str, column: str, old: str, new: str) -> None:
        super().__init__(
            f"dataset '{dataset}': key column '{column}' changed type ({old} → {new}), so keys cannot be matched",
            "cast the key back to its old type, or diff without a key (--key '') to match whole rows",
        )
        self.column = column


class KeyColumnMissingError(DiffError):
    def __init__(self, dataset: str, column: str, side: str) -> None:
        super().__init__(
            f"dataset '{dataset}': key column '{column}' is not in the {side} version",
            "pass key columns both versions have with --key, or --rename old=new if it was renamed",
        )
        self.column = column


class ConditionError(DiffError):
    """A --fail-on condition that does not parse."""

    def __init__(self, text: str, detail: str, hint: str | None = None) -> None:
        super().__init__(
            f"bad --fail-on condition '{text}': {detail}",
            hint or "write METRIC [OP NUMBER[%]], e.g. 'rows.removed > 1%', 'drift.amount > 0.2', 'schema.removed'",
        )
        self.text = text
