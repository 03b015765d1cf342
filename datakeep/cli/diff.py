"""`datakeep diff`: parse the options, call the API, render the `DiffResult` (text, JSON, HTML)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from datakeep.cli._common import color, echo_json, json_option, open_repo
from datakeep.errors import EXIT_NO, UsageError


def _are_files(revisions: tuple[str, ...]) -> bool:
    """Two files (or folders) to compare, rather than two revisions.

    Both exist; or one exists or ends in .parquet, and the other looks like a path too. Then
    `diff_files` reports a missing one as a file not found (not as a bad revision, nor as "not
    a repository" outside one). A branch may contain '/', so two such names that exist nowhere
    are still revisions.
    """
    if len(revisions) != 2:
        return False
    exists = [os.path.exists(r) for r in revisions]
    pathlike = [e or _looks_like_path(r) for r, e in zip(revisions, exists, strict=True)]
    named = [e or r.lower().endswith(".parquet") for r, e in zip(revisions, exists, strict=True)]
    return all(pathlike) and any(named)


def _looks_like_path(text: str) -> bool:
    return text.lower().endswith(".parquet") or "/" in text or os.sep in text


def _check_html_path(path: str) -> None:
    # Checked before the diff runs: a report that cannot be written should not cost a whole diff.
    # As git does for its output files, a missing folder is an error rather than created.
    folder = Path(path).parent
    if not folder.is_dir():
        raise UsageError(
            f"--html {path}: folder '{folder}' does not exist",
            "create it first, or write the report to an existing folder",
        )


@click.command()
@click.argument("revisions", nargs=-1, metavar="[REV1 [REV2]] | FILE1 FILE2")
@click.option("--name", multiple=True, help="Only this dataset (repeatable; or write REV:NAME).")
@click.option(
    "--key",
    "key",
    multiple=True,
    help="Key column; repeat or comma-separate for a composite key; '' matches whole rows. Default: declared key.",
)
@json_option
@click.option("--stat", is_flag=True, help="Counts only: skip per-column cell counts and samples (faster).")
@click.option("--sample", default=5, show_default=True, type=click.IntRange(min=0), help="Changed rows to show.")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False),
    help="Also write a self-contained HTML report (its folder must exist).",
)
@click.option("--exit-code", is_flag=True, help="Exit 1 when anything differs.")
@click.option("--fail-on", multiple=True, metavar="CONDITION", help="Exit 1 when it holds, e.g. 'rows.removed > 1%'.")
@click.option("--tolerance", multiple=True, metavar="COL=NUMBER", help="Numeric (non-key) column equal within NUMBER.")
@click.option("--rename", multiple=True, metavar="OLD=NEW", help="Column OLD of the old version is NEW now.")
@click.option("--allow-duplicate-keys", is_flag=True, help="Match rows of duplicated keys as multisets.")
@click.pass_context
def diff(
    ctx: click.Context,
    revisions: tuple[str, ...],
    name: tuple[str, ...],
    key: tuple[str, ...],
    as_json: bool,
    stat: bool,
    sample: int,
    html_path: str | None,
    exit_code: bool,
    fail_on: tuple[str, ...],
    tolerance: tuple[str, ...],
    rename: tuple[str, ...],
    allow_duplicate_keys: bool,
) -> None:
    """Report what changed between two dataset versions.

    No REV: working tree against HEAD. One REV: REV against the working tree.
    Two REVs (or REV1..REV2): REV1 → REV2. REV1...REV2: REV2 against where the two
    histories meet (what REV2's line changed). Two existing Parquet files: compared directly, no repository needed.
    Exit 0 when no --exit-code/--fail-on gate trips, 1 when one does, 2 on errors
    (duplicate keys without --allow-duplicate-keys, a key whose type changed, ...).

    Conditions (--fail-on, any that holds fails): rows.added|removed|modified [OP N[%]],
    schema.added|removed|type_changed, drift.COLUMN [OP N], cells.COLUMN [OP N[%]].

    Example: datakeep diff v1 v2 --key id --fail-on "rows.removed > 1%" --html report.html
    """
    if len(revisions) > 2:
        raise UsageError("diff takes at most two revisions (or two files)", "e.g. datakeep diff v1 v2")
    if html_path:
        _check_html_path(html_path)
    options: dict[str, object] = {
        "key": ",".join(key) if key else None,  # as `add` takes it: repeated, or comma-separated
        "stat": stat,
        "sample": sample,
        "fail_on": fail_on,
        "tolerance": tolerance or None,  # "COL=NUMBER" strings, read by the diff as the API reads them
        "rename": rename or None,
        "allow_duplicate_keys": allow_duplicate_keys,
    }
    if _are_files(revisions):
        from datakeep.diff import diff_files

        result = diff_files(revisions[0], revisions[1], name=name[0] if name else None, **options)
    else:
        a = revisions[0] if revisions else None
        b = revisions[1] if len(revisions) > 1 else None
        result = open_repo().diff(a, b, name=list(name) or None, **options)
    if html_path:
        from datakeep.render.diff_html import render_html

        try:
            Path(html_path).write_text(render_html(result), encoding="utf-8")
        except OSError as exc:
            raise UsageError(
                f"--html {html_path}: cannot write the report ({exc.strerror})", "write it to a writable file path"
            ) from None
        click.echo(f"wrote {html_path}", err=True)
    if as_json:
        echo_json(result.to_dict())
        for failure in result.failures:
            click.echo(f"failed: {failure}", err=True)
    else:
        from datakeep.render.diff_text import render_text

        click.echo(render_text(result, color=color()))
    if result.failures or (exit_code and result.changed):
        ctx.exit(EXIT_NO)
