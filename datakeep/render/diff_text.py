"""The text form of a `DiffResult`: summary first, then schema, per-column table, samples.

Lines stay within 80 columns; long names and values are cut with an ellipsis, notes wrapped.
"""

from __future__ import annotations

import textwrap
from typing import Any

from datakeep.diff.result import DatasetDiff, DiffResult
from datakeep.ids import shown_revision
from datakeep.render.style import HANDFUL, a_few, cell_text, count, cut_middle, paint, told_apart

WIDTH = 80


def render_text(result: DiffResult, *, color: bool = False) -> str:
    """The whole report; ``failures`` (from --fail-on) come last, where a CI log ends."""
    lines = [f"diff {_cut(shown_revision(result.old), 34)} → {_cut(shown_revision(result.new), 34)}"]
    identical = [d.name for d in result.datasets if d.identical]
    # Among many datasets the few that changed must not drown in blocks that say "identical":
    # past a handful those get one line, as git lists only the paths that changed (--json has all).
    folded = len(identical) > HANDFUL
    for dataset in result.datasets:
        if folded and dataset.identical:
            continue
        lines.append("")
        lines.extend(_dataset(dataset, color))
    if folded:
        lines.append("")
        lines.append(f"{count(len(identical))} datasets {paint('identical', 'green', color)} (by snapshot id)")
        lines.append(f"  {a_few(identical, width=18)}")
    if result.failures:
        lines.append("")
        lines.append(paint("failed conditions:", "red", color))
        # Wrapped, never cut: the measured value at the end is what a CI log reader needs.
        for failure in result.failures:
            wrapped = textwrap.wrap(failure, WIDTH - 4) or [""]
            lines.append(f"  ✗ {wrapped[0]}")
            lines.extend(f"    {more}" for more in wrapped[1:])
    return "\n".join(line.rstrip() for line in lines)


def _dataset(d: DatasetDiff, color: bool) -> list[str]:
    state = {"identical": "green", "unchanged": "green", "changed": "yellow", "added": "cyan", "removed": "red"}
    by = {"key": f"by key {', '.join(d.key)}", "row": "by whole row", "id": "by snapshot id"}[d.matched_by]
    head = f"{paint(d.name, 'bold', color)}: {paint(d.status, state[d.status], color)} ({by})"
    lines = [head]
    r = d.rows
    lines.append(f"  rows     {count(r.old)} → {count(r.new)}")
    if d.status != "identical":
        parts = [f"+{count(r.added)} added", f"-{count(r.removed)} removed"]
        parts.append("modified n/a (no key)" if r.modified is None else f"~{count(r.modified)} modified")
        parts.append(f"{count(r.unchanged)} unchanged")
        lines.append("           " + ", ".join(parts))
    lines.extend(_schema(d))
    for problem in d.key_problems:
        lines.append(
            f"  keys     {problem.side}: {count(problem.duplicate_keys)} duplicated "
            f"({count(problem.duplicate_rows)} rows), {count(problem.null_keys)} null"
        )
    if d.status in ("changed", "unchanged"):
        lines.extend(_columns(d))
    if d.samples:
        lines.append("  samples")
        lines.extend(_samples(d))
    for note in d.notes if d.status != "identical" else ():
        # Wrapped, not cut: a note is a sentence the reader needs whole.
        wrapped = textwrap.wrap(note, WIDTH - 8) or [""]
        lines.extend(f"  {'note:' if i == 0 else '':<5} {line}" for i, line in enumerate(wrapped))
    return lines


def _schema(d: DatasetDiff) -> list[str]:
    s = d.schema
    if d.status in ("added", "removed"):
        return [f"  columns  {_cut(', '.join(s.added or s.removed), WIDTH - 11)}"]
    out = []
    if s.added:
        out.append("+ " + ", ".join(map(_label, s.added)))
    if s.removed:
        out.append("- " + ", ".join(map(_label, s.removed)))
    out += [f"~ {_label(t.column)}: {t.old} → {t.new}" for t in s.type_changed]
    out += [f"~ {_label(t.column)}: {t.old} → {t.new}" for t in s.nullability_changed]
    out += [
        f"→ {_label(r.old)} renamed {_label(r.new)}" + (" (candidate: same values)" if r.how == "candidate" else "")
        for r in s.renamed
    ]
    if s.reordered:
        out.append("columns reordered")
    return [f"  {'schema' if i == 0 else '':<8} {_cut(line, WIDTH - 11)}" for i, line in enumerate(out)]


def _columns(d: DatasetDiff) -> list[str]:
    lines = ["", f"  {'column':<22} {'type':<18} {'cells changed':>14} {'drift (PSI)':>14}"]
    for c in d.columns:
        changed = "" if c.modified is None else count(c.modified)
        if c.modified and d.rows.modified is not None:
            matched = d.rows.modified + d.rows.unchanged
            changed = f"{changed} {100 * c.modified / max(matched, 1):.1f}%"
        drift = ("n/a" if c.drift_reason else "") if c.drift is None else f"{c.drift:.3f}"
        if c.drift_level in ("moderate", "major"):
            drift += " !" if c.drift_level == "moderate" else " !!"
        lines.append(f"  {cut_middle(_label(c.name), 22):<22} {_cut(c.type, 18):<18} {changed:>14} {drift:>14}")
    return [*lines, ""]


def _samples(d: DatasetDiff) -> list[str]:
    lines = []
    for s in d.samples:
        key = ", ".join(f"{_label(k)}={_value(v)}" for k, v in s.key.items())
        if s.kind != "modified":
            lines.append(f"    {'+' if s.kind == 'added' else '-'} {_cut(key, WIDTH - 6)}")
            continue
        for i, (column, old, new) in enumerate(s.changes):
            prefix = f"    ~ {key}" if i == 0 else "    " + " " * (len(key) + 2)
            shown_old, shown_new = told_apart(old, new, (_value(old), _value(new)), cell_text)
            change = f"{shown_old} → {shown_new}"
            # The column's name gives way first, so the line still shows both values.
            room = WIDTH - len(prefix) - len(change) - 4
            label = cut_middle(_label(column), max(room, _LABEL_LEAST))
            lines.append(_cut(f"{prefix}  {label}: {change}", WIDTH))
    return lines


def _label(column: str) -> str:
    """A column name as written in a line of the report: quoted when bare it would blur into
    what surrounds it (empty, spaces at its ends, or the separators '=', ',' and ':')."""
    if column and column.strip() == column and not any(c in column for c in "=,:") and column.isprintable():
        return column
    return repr(column)


def _value(value: Any) -> str:
    return cell_text(value, 24)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


#: The fewest characters of a column's name a sample line keeps.
_LABEL_LEAST = 12
