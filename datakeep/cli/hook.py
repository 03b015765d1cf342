"""`datakeep hook`: run or install datakeep's git pre-commit hook.

Parses arguments, calls ``datakeep.hook``, prints. No pandas or pyarrow at import time.
"""

from __future__ import annotations

import json
import shutil
import sys

import click

from datakeep import hook as hooklib
from datakeep.hook.render import render_hook_result


@click.group("hook")
def hook() -> None:
    """Run or install datakeep's git pre-commit hook.

    \b
    Example:
      datakeep hook install          # validate staged data files on every `git commit`
    """


@hook.command("run")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option(
    "--staged",
    is_flag=True,
    help="Also check every file staged in git (what the native hook passes).",
)
@click.option(
    "--all",
    "every",
    is_flag=True,
    help="Check every file in the git index (for CI: merges made elsewhere, rebases).",
)
@click.option(
    "--max-problems",
    type=click.IntRange(min=0),
    default=3,
    show_default=True,
    help="Problems shown per failed file.",
)
@click.option("--no-cache", is_flag=True, help="Validate every file, even if unchanged.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def run(files: tuple[str, ...], staged: bool, every: bool, max_problems: int, no_cache: bool, as_json: bool) -> None:
    """Validate the staged files the rules in datakeep.yaml name.

    Each file is matched against the rules of the nearest datakeep.yaml above it (up to the top
    of the git work tree) and validated against its entity's schema and its source's mapping,
    as the commit would record them (staged versions); results are cached by content, so an
    unchanged file is not read again. A staged schema, mapping or rules file brings in every
    tracked file it governs. Exit 0 when every file passes, 1 when one fails, 2 when a file or
    the configuration cannot be used.

    \b
    Example:
      datakeep hook run data/incoming/crm_2024.parquet
      datakeep hook run --staged     # every file staged in git
      datakeep hook run --all        # every file in the index, e.g. in CI
    """
    paths = list(files)
    if every:
        paths += hooklib.tracked_files(".")  # relative to here, as file arguments are
    elif staged:
        paths += hooklib.staged_files(".")
    result = hooklib.run_hook(paths, use_cache=not no_cache)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        # Cut to a terminal's width only: pre-commit and CI capture the output, and a cut line
        # loses the sample rows and the `full report:` command to copy.
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        text = render_hook_result(result, width=width, max_problems=max_problems)
        if text:
            click.echo(text)
    click.get_current_context().exit(result.exit_code)


@hook.command("check-committed")
@click.argument("files", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--staged", is_flag=True, help="Also check every file staged in git.")
def check_committed(files: tuple[str, ...], staged: bool) -> None:
    """Refuse staged data files whose datakeep dataset has uncommitted changes.

    A git commit that records a data file datakeep has not committed would point at data
    datakeep cannot restore. Exit 0 when every staged data file is committed to datakeep (or
    not tracked by it), 1 otherwise.

    \b
    Example:
      datakeep hook check-committed --staged
    """
    from datakeep.hook.committed import check_committed as check
    from datakeep.hook.committed import render_committed

    paths = list(files)
    if staged:
        paths += hooklib.staged_files(".")
    result = check(paths, ".")
    text = render_committed(result)
    if text:
        click.echo(text)
    click.get_current_context().exit(result.exit_code)


@hook.command("install")
def install() -> None:
    """Install datakeep's native git hooks (pre-commit and pre-merge-commit).

    The hooks go where `git rev-parse --git-path hooks` says (core.hooksPath is honoured).
    An existing hook is kept as <name>.legacy and still runs first. Running it again is
    harmless; `datakeep hook uninstall` undoes it. git runs no hook for a rebase or a
    cherry-pick: run `datakeep hook run --all` in CI for those.

    \b
    Example:
      datakeep hook install && git commit -m "add february load"
    """
    done = hooklib.install(".")
    verb = "installed" if done.changed else "already installed"
    for path in done.hooks:
        click.echo(f"{verb} datakeep {path.name} hook: {path}")
    for path in done.legacy:
        click.echo(f"the earlier hook runs first: {path}")


@hook.command("uninstall")
def uninstall() -> None:
    """Remove datakeep's native git hooks, restoring any earlier hooks.

    \b
    Example:
      datakeep hook uninstall
    """
    done = hooklib.uninstall(".")
    if not done.removed:
        click.echo(f"no datakeep hook installed in {done.hook.parent}; nothing changed")
        return
    click.echo(f"removed datakeep's hooks from {done.hook.parent}")
    for path in done.restored:
        click.echo(f"restored the earlier hook: {path}")
