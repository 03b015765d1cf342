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
