"""Render a `HookResult` to fit a terminal: one line per file, the top problems of each failed
file, and the command that prints the full report. Pure: returns text, prints nothing."""

from __future__ import annotations

import shlex
from pathlib import PurePath

from datakeep.hook.run import FileResult, HookResult

_LABEL = {"ok": "ok", "failed": "FAILED", "error": "ERROR", "unmatched": "skip"}


def render_hook_result(result: HookResult, *, width: int | None = 100, max_problems: int = 3) -> str:
    """The hook's terminal report; every line is cut to ``width`` characters (None: never)."""
    lines: list[str] = []
    for f in result.files:
        if f.status == "unmatched":
            continue  # summed up in one line below, so a commit of many files stays readable
        lines.append(_file_line(f))
        if f.status == "failed":
            lines.extend("    " + p for p in f.problems[:max_problems])
            hidden = f.problem_count - min(max_problems, len(f.problems))
            if hidden > 0:
                lines.append(f"    … and {hidden} more")
            if f.problem_count:
                lines.append(f"    full report: {_report_command(f)}")
        elif f.status == "error":
            lines.append(f"    {f.detail}")
    unmatched = sum(1 for f in result.files if f.status == "unmatched")
    if unmatched:
        noun = "file matches" if unmatched == 1 else "files match"
        lines.append(f"{unmatched} data {noun} no rule in datakeep.yaml (unmatched: pass)")
    if result.files:
        lines.append(_summary(result))
    return "\n".join(_cut(line, width) for line in lines)


def _report_command(f: FileResult) -> str:
    """The command that prints the full report of what was checked. When that was the staged
    version (the working copy differs), validating the working copy could say ok, so the hint
    writes the staged version out first and names its schema (the copy's name matches no rule)."""
    if not f.staged_copy or f.entity is None:
        return f"datakeep validate {shlex.quote(f.path)}"
    copy = "staged" + (PurePath(f.path).suffix or ".parquet")
    schema = f"--source {shlex.quote(f.source)}" if f.source else f"--entity {shlex.quote(f.entity)}"
    return f"git show {shlex.quote(':./' + f.path)} > {copy} && datakeep validate {copy} {schema}"


def _file_line(f: FileResult) -> str:
    label = f"{_LABEL[f.status]:<6}  {f.path}"
    if f.status == "failed" and f.entity is None:
        return f"{label}  {f.detail}"
    what = f"{f.entity}/{f.source}" if f.source else f"{f.entity}"
    parts = [what]
    if f.status == "ok":
        parts.append(f"{f.rows_checked:,} rows")
    elif f.status == "failed":
        problems = "problem" if f.problem_count == 1 else "problems"
        # A file failing only as a whole (a required column missing) has no failing row.
        parts.append(f"{f.rows_failing:,} of {f.rows_checked:,} rows failing" if f.rows_failing else "fails as a whole")
        parts.append(f"{f.problem_count} {problems}")
    if f.staged_copy:
        parts.append("staged version")
    if f.cached:
        parts.append("cached")
    return f"{label}  ({', '.join(parts)})"


def _summary(result: HookResult) -> str:
    checked = sum(1 for f in result.files if f.status != "unmatched")
    failed = sum(1 for f in result.files if f.status == "failed")
    errors = sum(1 for f in result.files if f.status == "error")
    text = f"datakeep: {checked} data file{'s' if checked != 1 else ''} checked"
    if result.cache_hits:
        text += f" ({result.cache_hits} from cache)"
    if failed:
        text += f", {failed} failed"
    if errors:
        text += f", {errors} could not be checked"
    return text


def _cut(line: str, width: int | None) -> str:
    return line if width is None or len(line) <= width else line[: max(width - 1, 1)] + "…"
