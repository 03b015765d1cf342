"""`datakeep validate` and `datakeep map`: check data files, or write them in canonical form."""

from __future__ import annotations

import json
from typing import Any

import click

from datakeep.cli._common import open_repo, root_option
from datakeep.errors import InputDataError, UsageError


@click.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--source", default=None, help="Source mapping to apply (its entity is implied).")
@click.option("--entity", default=None, help="Entity whose schema applies.")
@click.option("--json", "as_json", is_flag=True, help="Print the versioned JSON report.")
@click.option("--max-samples", default=5, show_default=True, type=click.IntRange(0), help="Sample rows per problem.")
@root_option("schemas/ and datakeep.yaml")
@click.pass_context
def validate(
    ctx: click.Context,
    paths: tuple[str, ...],
    source: str | None,
    entity: str | None,
    as_json: bool,
    max_samples: int,
    root: str,
) -> None:
    """Validate data files against their schema.

    Without --source or --entity, the rules in datakeep.yaml say which schema each file follows.
    REV:NAME validates a committed version of a dataset against today's schemas, through the
    source (or entity) it was committed with. Exit 0 when every file is clean, 1 when data
    failed, 2 on a usage or schema-file error.

    \b
    Example:
      datakeep validate data/incoming/crm_2024.csv --source crm
      datakeep validate data/incoming/*.parquet --json
      datakeep validate v1:customers     # re-check history after a schema change
    """
    from datakeep.schemas import load_rules
    from datakeep.validate import render_text, validate_file
    from datakeep.validate.engine import relative_to_root

    versions = [path for path in paths if not _p(path).exists() and ":" in path]
    for path in paths:
        # Before any rule is looked at: a mistyped path matches no rule and would "pass".
        if not _p(path).is_file() and path not in versions:
            raise InputDataError(
                path, "no such file", "check the path (relative to the current folder); a dataset's version is REV:NAME"
            )
    reports = []
    skipped = []
    rules = load_rules(root) if source is None and entity is None else None
    for path in paths:
        if path in versions:
            rev, _, name = path.rpartition(":")
            reports.append(
                open_repo().validate(name, rev or "HEAD", entity=entity, source=source, max_samples=max_samples)
            )
            continue
        if rules is not None and rules.match(relative_to_root(_p(path), _p(root))) is None:
            if rules.unmatched == "pass":
                skipped.append(path)
                continue
            raise UsageError(
                f"{path}: no rule in datakeep.yaml says which schema it follows",
                "add a rule, or pass --entity/--source (unmatched: fail is set)",
            )
        reports.append(validate_file(path, entity=entity, source=source, root=root, max_samples=max_samples))
    if as_json:
        click.echo(json.dumps(_json(reports, skipped), indent=2, ensure_ascii=False))
    else:
        for path in skipped:
            click.echo(f"skip  {path} (no rule in datakeep.yaml)")
        for report in reports:
            click.echo(render_text(report))
    if any(not report.ok for report in reports):
        ctx.exit(1)


@click.command("map")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--source", required=True, help="Source mapping to apply.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Canonical Parquet file to write.")
@click.option("--max-samples", default=5, show_default=True, type=click.IntRange(0), help="Sample rows per problem.")
@root_option()
@click.pass_context
def map_(ctx: click.Context, path: str, source: str, output: str, max_samples: int, root: str) -> None:
    """Apply a source mapping and write canonical data.

    Cells that cannot be mapped are written as null and reported; the exit code is 1 then.

    \b
    Example:
      datakeep map data/incoming/legacy.parquet --source legacy -o canonical.parquet
    """
    from datakeep.validate import map_file, render_text

    report = map_file(path, source=source, root=root, output=output, max_samples=max_samples)
    click.echo(render_text(report))
    click.echo(f"wrote {output} ({report.rows_checked:,} row{'' if report.rows_checked == 1 else 's'})")
    if not report.ok:
        ctx.exit(1)


def _p(path: str) -> Any:
    from pathlib import Path

    return Path(path)


def _json(reports: list[Any], skipped: list[str]) -> dict[str, Any]:
    from datakeep.validate import REPORT_VERSION

    if len(reports) == 1 and not skipped:
        return dict(reports[0].to_dict())
    return {
        "format": "datakeep.validation-set",
        "version": REPORT_VERSION,
        "ok": all(r.ok for r in reports),
        "skipped": skipped,
        "reports": [r.to_dict() for r in reports],
    }
