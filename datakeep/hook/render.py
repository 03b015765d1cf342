"""Render a `HookResult` to fit a terminal: one line per file, the top problems of each failed
file, and the command that prints the full report. Pure: returns text, prints nothing."""

from __future__ import annotations

import os
import shlex
from pathlib import PurePath

from datakeep.hook.run import FileResult, HookResult

_LABEL = {"ok": "ok", "failed": "FAILED", "error": "ERROR", "unmatched": "skip"}


#: Past this many files checked, files that passed are counted in the summary, not listed: a
#: commit of 250 files should show what failed, not 250 lines of "ok".
LISTED_OK = 20
#: Unmatched data files named in their summary line.
NAMED_UNMATCHED = 3


def render_hook_result(result: HookResult, *, width: int | None = 100, max_problems: int = 3) -> str:
    """The hook's terminal report; every line is cut to ``width`` characters (None: never)."""
    lines: list[str] = []
    checked = [f for f in result.files if f.status != "unmatched"]
    for f in checked:
        if f.status == "ok" and len(checked) > LISTED_OK:
            continue
        lines.append(_file_line(f))
        if f.status == "failed":
            lines.extend("    " + p for p in f.problems[:max_problems])
            hidden = f.problem_count - min(max_problems, len(f.problems))
            if hidden > 0:
                lines.append(f"    … and {hidden} more")
            if f.problem_count:
                lines.append(f"    full report{_where(result)}: {_report_command(f)}")
        elif f.status == "error":
            lines.append(f"    {f.detail}")
    unmatched = [f.path for f in result.files if f.status == "unmatched"]
    if unmatched:
        # Named, so a file a rule was meant to catch (Feb.CSV under a `*.csv` glob) is seen.
        names = ", ".join(unmatched[:NAMED_UNMATCHED]) + (", …" if len(unmatched) > NAMED_UNMATCHED else "")
        noun = "data file" if len(unmatched) == 1 else "data files"
        lines.append(f"not checked, {len(unmatched)} {noun} no rule names: {names}")
    if result.staged_config and result.files:
        # Said, since someone trying an edit to a rule or schema by hand would wonder.
        lines.append(
            f"checked against the staged {', '.join(result.staged_config)} (what the commit records;"
            " `git add` the working copy to check with it)"
        )
    if result.files:
        lines.append(_summary(result))
    return "\n".join(_cut(line, width) for line in lines)


def _where(result: HookResult) -> str:
    """Where the report command runs: git runs hooks at the top of the work tree, and the paths
    are relative to it, while the user may commit from a subfolder."""
    return " (from the top of the repository)" if result.at_top else ""


def _report_command(f: FileResult) -> str:
    """The command that prints the full report of what was checked. When that was the staged
    version (the working copy differs), validating the working copy could say ok, so the hint
    writes the staged version out first and names its schema (the copy's name matches no rule).
    A file of a project in a subfolder (a monorepo) is validated from that folder (``-C``)."""
    project = f.project
    in_project = os.path.relpath(f.path, project) if project else f.path
    run = f"datakeep -C {shlex.quote(project)} validate" if project else "datakeep validate"
    if not f.staged_copy or f.entity is None:
        return f"{run} {shlex.quote(in_project)}"
    name = "staged" + (PurePath(f.path).suffix or ".parquet")
    copy = os.path.join(project, name) if project else name
    schema = f"--source {shlex.quote(f.source)}" if f.source else f"--entity {shlex.quote(f.entity)}"
    return f"git show {shlex.quote(':./' + f.path)} > {shlex.quote(copy)} && {run} {name} {schema}"


def _file_line(f: FileResult) -> str:
    label = f"{_LABEL[f.status]:<6}  {f.path}"
    if f.status == "failed" and f.entity is None:
        return f"{label}  {f.detail}"
    what = f"{f.entity}/{f.source}" if f.source else f"{f.entity}"
    parts = [what]
    if f.status == "ok":
        parts.append(f"{f.rows_checked:,} row{'' if f.rows_checked == 1 else 's'}")
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
    passed = sum(1 for f in result.files if f.status == "ok")
    failed = sum(1 for f in result.files if f.status == "failed")
    errors = sum(1 for f in result.files if f.status == "error")
    text = f"datakeep: {checked} data file{'s' if checked != 1 else ''} checked"
    if result.cache_hits:
        text += f" ({result.cache_hits} from cache)"
    if checked > LISTED_OK and passed:
        text += f", {passed} ok"  # their lines were left out
    if failed:
        text += f", {failed} failed"
    if errors:
        text += f", {errors} could not be checked"
    return text


def _cut(line: str, width: int | None) -> str:
    return line if width is None or len(line) <= width else line[: max(width - 1, 1)] + "…"
