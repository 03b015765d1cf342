"""Text for people: one line per problem naming source, raw column and raw value."""

from __future__ import annotations

from typing import Any

from datakeep.validate.report import Problem, ValidationReport


def render_text(report: ValidationReport, *, max_problems: int | None = None) -> str:
    """Render a report as text; ``max_problems`` gives the short form a git hook prints.

    Args:
        report: The report.
        max_problems: Show at most this many problems, then say how many more there are.

    Returns:
        Lines without a trailing newline, e.g.
        ``unmapped_value  source=legacy column=land value='Deutschland' → country: no mapping,
        1,203 rows, e.g. id 17, 42``.
    """
    what = report.path or "<frame>"
    against = f"entity={report.entity}" + (f" source={report.source}" if report.source else "")
    lines = []
    if report.ok:
        rows = f"{report.rows_checked:,} row{'' if report.rows_checked == 1 else 's'}"
        lines.append(f"ok  {what} ({against}): {rows}, no problems")
        return "\n".join(lines)
    kinds = ", ".join(f"{kind} {n}" for kind, n in report.problems_by_kind.items())
    lines.append(
        f"FAIL  {what} ({against}): {failing(report.rows_failing, report.rows_checked)}; "
        f"{len(report.problems)} problem{'s' if len(report.problems) != 1 else ''} ({kinds})"
    )
    shown = report.problems if max_problems is None else report.problems[:max_problems]
    for problem in shown:
        lines.append("  " + _problem_line(problem, report))
    hidden = len(report.problems) - len(shown)
    if hidden > 0:
        lines.append(f"  … and {hidden} more (run `datakeep validate {what}` for all)")
    return "\n".join(lines)


def failing(rows_failing: int, rows_checked: int) -> str:
    """How many rows fail; a file failing only as a whole (a required column missing) says so,
    where '0 of 300 rows failing' next to FAIL read as a contradiction."""
    if rows_failing == 0:
        return f"the file as a whole fails ({rows_checked:,} rows checked)"
    return f"{rows_failing:,} of {rows_checked:,} rows failing"


def _problem_line(problem: Problem, report: ValidationReport) -> str:
    parts = [problem.kind]
    if report.source:
        parts.append(f" source={report.source}")
    if problem.source_column and problem.source_column != problem.column:
        parts.append(f" column={problem.source_column}")
    parts.append(_values(problem))
    target = problem.column or problem.source_column or ""
    reason = f" [{problem.check}]" if problem.check and problem.kind == "check_failed" else ""
    text = "".join(parts) + f" → {target}{reason}: {problem.detail}"
    if problem.rows:
        text += f", {problem.rows:,} row{'s' if problem.rows != 1 else ''}"
    if problem.samples:
        text += ", e.g. " + _samples(problem, report)
    return text


def _values(problem: Problem) -> str:
    if not problem.values:
        return ""
    if problem.distinct_values == 1 and problem.values_exact:
        return f" value={_show(problem.values[0].value)}"
    shown = ", ".join(f"{_show(v.value)} ×{v.count:,}" for v in problem.values[:3])
    more = problem.distinct_values - min(3, len(problem.values))
    suffix = f" +{more:,}{'' if problem.values_exact else '+'} more" if more > 0 else ""
    return f" values={shown}{suffix}"


def _samples(problem: Problem, report: ValidationReport) -> str:
    by_row = problem.kind.startswith("duplicate") or any(
        s.key is None or None in s.key.values() for s in problem.samples
    )
    if by_row:  # the key does not tell these rows apart
        # Plain digits: in a comma list, "rows 999, 1,499" would read as three rows.
        rows = ", ".join(str(s.row) for s in problem.samples[:5])
        return f"row{'s' if len(problem.samples) > 1 else ''} {rows}"
    out = []
    for sample in problem.samples[:5]:
        if sample.key and len(sample.key) == 1:
            ((name, value),) = sample.key.items()
            out.append(f"{name} {_show(value, quote=False)}")
        elif sample.key:
            out.append("(" + ", ".join(f"{k}={_show(v)}" for k, v in sample.key.items()) + ")")
    # Name the key once: "id 17, 42" rather than "id 17, id 42".
    if out and report.key and len(report.key) == 1 and all(s.key for s in problem.samples[:5]):
        name = report.key[0]
        out = [out[0]] + [o.removeprefix(f"{name} ") for o in out[1:]]
    return ", ".join(out)


def _show(value: Any, *, quote: bool = True) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value) if quote else value
    if isinstance(value, list | tuple):
        return "(" + ", ".join(_show(v) for v in value) + ")"
    return str(value)
