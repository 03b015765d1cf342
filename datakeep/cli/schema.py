"""`datakeep schema`: infer, show and check canonical schemas."""

from __future__ import annotations

import click

from datakeep.cli._common import root_option


@click.group("schema")
def schema() -> None:
    """Infer, show and check canonical schemas.

    \b
    Example:
      datakeep schema infer data/customers.parquet --entity customers > schemas/customers.yaml
      datakeep schema check
    """


@schema.command("infer")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--entity", required=True, help="Entity name written into the schema's header.")
@click.option("--source", default=None, help="Read a CSV file with this source mapping's csv options.")
@click.option("--delimiter", default=None, help="CSV delimiter: one character, or 'tab' [default: ',' or the source's]")
@click.option("--encoding", default=None, help="CSV encoding, e.g. cp1252 [default: utf-8 or the source's]")
@root_option()
def infer(path: str, entity: str, source: str | None, delimiter: str | None, encoding: str | None, root: str) -> None:
    """Infer a canonical schema from a Parquet or CSV file, as YAML text.

    A CSV file is read with the given delimiter and encoding, or those of --source's mapping.

    \b
    Example:
      datakeep schema infer data/customers.parquet --entity customers > schemas/customers.yaml
      datakeep schema infer crm.csv --entity customers --delimiter ';' --encoding cp1252
    """
    from datakeep.schemas import infer_schema

    text = infer_schema(path, entity, root=root, source=source, delimiter=delimiter, encoding=encoding)
    click.echo(text, nl=False)


@schema.command("show")
@click.argument("entity")
@root_option()
def show(entity: str, root: str) -> None:
    """Show an entity's columns, key, and the sources that feed it.

    \b
    Example:
      datakeep schema show customers
    """
    from datakeep.schemas import fingerprint, load_entity
    from datakeep.schemas.render import render_entity

    loaded = load_entity(root, entity)
    click.echo(render_entity(loaded, root=root, fingerprint=fingerprint(root, entity)))


@schema.command("check")
@root_option()
@click.pass_context
def check(ctx: click.Context, root: str) -> None:
    """Check that every schema, source mapping and rules file loads.

    Exits 2 and names the file, the place in it and what is wrong when one does not.

    \b
    Example:
      datakeep schema check
    """
    from datakeep.schemas import check_all

    result = check_all(root)
    for error in result.errors:
        click.echo(f"error: {error}", err=True)
    if not result.checked:
        click.echo("no schema files found under schemas/")
        return
    bad = len(result.failed)
    click.echo(
        f"checked {len(result.checked)} file(s): "
        + ("ok" if not bad else f"{bad} bad, {len(result.errors)} problem(s)")
    )
    if bad:
        ctx.exit(2)
