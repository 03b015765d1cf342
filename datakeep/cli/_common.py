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


def echo_restored(written: dict[str, list[str]]) -> None:
    """One line per dataset a checkout, pull or clone touched: the files it wrote, or that the
    working copy already held that version (nothing was rewritten)."""
    for dataset, paths in written.items():
        if paths:
            click.echo(f"restored {dataset}: {', '.join(paths)}")
        else:
            click.echo(f"unchanged {dataset}: the working copy already holds this version")
