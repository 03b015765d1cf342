"""Small helpers shared by the click commands (no pandas, no pyarrow)."""

from __future__ import annotations

import json
from typing import Any

import click

from datakeep.render.style import use_color


def open_repo() -> Any:
    from datakeep.api import Repo

    return Repo.open(".")


def echo_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def color() -> bool:
    return use_color()


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def _project_root(ctx: click.Context, param: click.Parameter, value: str | None) -> str:
    from datakeep.schemas._files import project_root

    return value if value is not None else str(project_root("."))


def root_option(holding: str = "schemas/") -> Any:
    """``--root``, by default found upwards from here as git finds its work tree."""
    return click.option(
        "--root",
        default=None,
        callback=_project_root,
        help=f"Project folder holding {holding} [default: the nearest folder upwards holding "
        "datakeep.yaml or schemas/]",
    )


def echo_restored(written: dict[str, list[str]], removed: dict[str, list[str]] | None = None) -> None:
    """What a checkout, pull or clone did to the working tree (`restored_lines`)."""
    from datakeep.render.core import restored_lines

    for line in restored_lines(written, removed):
        click.echo(line)


class ProgressBar:
    """`datakeep.progress.Progress` as a click bar on stderr, drawn only when stderr is a
    terminal (never into a pipe, a log or a test's captured output) and the work is long: at
    least ``min_total`` units (a commit reads 32 MiB in about a second)."""

    def __init__(self, min_total: int = 0) -> None:
        self.min_total = min_total
        self._context: Any = None
        self._bar: Any = None

    def begin(self, label: str, total: int) -> None:
        import sys

        if total >= self.min_total and sys.stderr.isatty():
            self._context = click.progressbar(length=total, label=label, file=sys.stderr)
            self._bar = self._context.__enter__()

    def advance(self, amount: int) -> None:
        if self._bar is not None:
            self._bar.update(amount)

    def end(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = self._bar = None
