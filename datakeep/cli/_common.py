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


def echo_restored(written: dict[str, list[str]], removed: dict[str, list[str]] | None = None) -> None:
    """One line per dataset a checkout, pull or clone touched: the files it wrote and the part
    files it removed, or that the working copy already held that version (nothing changed)."""
    for dataset, paths in written.items():
        gone = (removed or {}).get(dataset, [])
        if not paths and not gone:
            click.echo(f"unchanged {dataset}: the working copy already holds this version")
            continue
        parts = [", ".join(paths)] if paths else []
        if gone:
            parts.append(f"removed {', '.join(gone)}")
        click.echo(f"restored {dataset}: {'; '.join(parts)}")
