"""Remote commands: remote add/list/remove, push, pull, clone, ls-files.

Each parses its options, calls ``datakeep.remote`` and renders the result; progress bars go to
stderr and only when stderr is a terminal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from datakeep.cli._common import ProgressBar, echo_json, echo_restored, json_option


def _repository() -> Any:
    from datakeep.repo import Repository

    return Repository.discover(".")


class _Bar:
    """A transfer's progress callback (one call per object stored) on a `ProgressBar`, opened
    once the number of objects is known."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar = ProgressBar()

    def begin(self, total: int) -> None:
        if total:
            self._bar.begin(self.label, total)

    def __call__(self, oid: str, size: int) -> None:
        self._bar.advance(1)

    def close(self) -> None:
        self._bar.end()


@contextmanager
def _progress(label: str) -> Iterator[_Bar]:
    bar = _Bar(label)
    try:
        yield bar
    finally:
        bar.close()


def _moved(objects: int, size: int) -> str:
    from datakeep.render.style import human_bytes

    return f"{objects} object(s), {human_bytes(size)}"


def _render_updates(updates: list[Any], remote: str) -> None:
    for u in updates:
        old = u.old[:10] if u.old else "(none)"
        if u.status == "up-to-date":
            click.echo(f"  {u.ref}: up to date ({u.new[:10]})")
        elif u.status == "kept":
            click.echo(f"  {u.ref}: kept ours at {old} ({remote} has {u.new[:10]})")
        else:
            click.echo(f"  {u.ref}: {old} → {u.new[:10]} ({u.status})")


def _warn_damaged(damaged: list[str], remote: str) -> None:
    for ref in damaged:
        short = ref.split("/", 2)[2]
        click.echo(
            f"warning: remote ref {ref} on {remote} is damaged and was skipped — repair it from a "
            f"repository that has it: `datakeep push --force {remote} {short}`",
            err=True,
        )


# -- remote add / list / remove ---------------------------------------------------------------
@click.group()
def remote() -> None:
    """Add, list or remove remotes.

    A remote is a folder or any fsspec URL (s3://, gs://, az://). Only the URL is stored, in
    .datakeep/config.json; credentials and endpoints come from the environment (AWS_PROFILE,
    AWS_ENDPOINT_URL, …) or fsspec's configuration.

    Example: datakeep remote add origin s3://bucket/team/datakeep
    """


@remote.command("add")
@click.argument("name")
@click.argument("url")
def remote_add(name: str, url: str) -> None:
    """Remember a remote under a name.

    Example: datakeep remote add origin s3://bucket/team/datakeep
    """
    from datakeep.remote import add_remote
    from datakeep.remote.connect import refuse_in_process

    refuse_in_process(url)
    stored = add_remote(_repository(), name, url)
    click.echo(f"added remote {name} → {stored}")


@remote.command("list")
@json_option
def remote_list(as_json: bool) -> None:
    """List remotes and their URLs.

    Example: datakeep remote list
    """
    from datakeep.remote import list_remotes

    repo = _repository()
    remotes = list_remotes(repo)
    partial = repo.config.extra.get("partial")
    if as_json:
        echo_json({"remotes": remotes, "partial": partial})
        return
    for name, url in remotes.items():
        click.echo(f"{name}\t{url}{'  (partial clone: promises missing objects)' if name == partial else ''}")


@remote.command("remove")
@click.argument("name")
def remote_remove(name: str) -> None:
    """Forget a remote (nothing on the remote is touched).

    Example: datakeep remote remove origin
    """
    from datakeep.remote import remove_remote

    url = remove_remote(_repository(), name)
    click.echo(f"removed remote {name} ({url})")


# -- push / pull / clone ----------------------------------------------------------------------
@click.command()
@click.argument("remote_name", metavar="[REMOTE]", required=False)
@click.argument("revs", metavar="[REV]...", nargs=-1)
@click.option("--all", "all_refs", is_flag=True, help="Push every branch and tag.")
@click.option(
    "-f",
    "--force",
    is_flag=True,
    help="Move remote refs even when that drops commits there; with --delete, also the branch the remote's HEAD names.",
)
@click.option(
    "-d", "--delete", is_flag=True, help="Delete the named branches or tags on the remote (also: push REMOTE :NAME)."
)
@json_option
def push(
    remote_name: str | None, revs: tuple[str, ...], all_refs: bool, force: bool, delete: bool, as_json: bool
) -> None:
    """Send commits and the objects they need to a remote.

    Sends only objects the remote lacks (a re-run after an interruption sends the rest), then
    moves the remote's refs by compare-and-swap: a push that would drop commits the remote has
    is refused unless --force. Default: the current branch to origin. With --delete (or
    :NAME), deletes those branches or tags on the remote instead; objects stay there.

    Example: datakeep push origin main v1
    """
    from datakeep.remote import push as do_push
    from datakeep.remote.connect import refuse_in_process

    if remote_name:
        refuse_in_process(remote_name)
    with _progress("pushing") as bar:
        result = do_push(_repository(), remote_name, revs, all_refs=all_refs, force=force, delete=delete, progress=bar)
    if as_json:
        echo_json(result.to_dict())
        return
    if result.deleted:
        click.echo(f"deleted on {result.remote}: {len(result.deleted)} ref(s)")
        for d in result.deleted:
            head = f"; {result.remote}'s HEAD named it and was removed" if d.head else ""
            click.echo(f"  {d.ref}: {d.old[:10] if d.old else '(damaged)'} → (deleted){head}")
    else:
        click.echo(
            f"pushed to {result.remote}: {_moved(result.sent.objects, result.sent.bytes)} sent"
            f"{f', {result.already_there} already there' if result.already_there else ''}"
        )
        _render_updates(result.updates, result.remote)
    if result.temp_files:
        click.echo(f"removed {result.temp_files} temp file(s) left on {result.remote} by interrupted pushes")
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    _warn_damaged(result.damaged, result.remote)


@click.command()
@click.argument("remote_name", metavar="[REMOTE]", required=False)
@click.argument("rev", required=False)
@click.option("--name", help="Fetch data for this dataset only (a partial pull; the rest is fetched on demand).")
@click.option("--no-checkout", is_flag=True, help="Move refs but leave the working tree as it is.")
@json_option
def pull(remote_name: str | None, rev: str | None, name: str | None, no_checkout: bool, as_json: bool) -> None:
    """Fetch commits and objects from a remote.

    REV is a remote branch or tag (default: the current branch). The local branch of that name
    fast-forwards and, when HEAD is on it, the working tree follows.

    Example: datakeep pull origin main --name flights
    """
    from datakeep.remote import pull as do_pull

    with _progress("pulling") as bar:
        result = do_pull(_repository(), remote_name, rev, name=name, restore=not no_checkout, progress=bar)
    if as_json:
        echo_json(result.to_dict())
        return
    click.echo(
        f"pulled {result.ref} ({result.commit[:10]}) from {result.remote}: "
        f"{_moved(result.received.objects, result.received.bytes)} received, {result.commits} new commit(s)"
    )
    _render_updates(result.updates, result.remote)
    echo_restored(result.restored, result.removed)
    _warn_damaged(result.damaged, result.remote)


@click.command()
@click.argument("url")
@click.argument("directory", required=False)
@click.option("--name", help="Partial clone: fetch data for this dataset only; the rest on demand.")
@click.option("-b", "--branch", help="Branch or tag to check out (default: the remote's HEAD).")
@click.option("--no-checkout", is_flag=True, help="Do not restore datasets into the working tree.")
@json_option
def clone(
    url: str, directory: str | None, name: str | None, branch: str | None, no_checkout: bool, as_json: bool
) -> None:
    """Make a new working repository from a remote.

    Example: datakeep clone s3://bucket/team/datakeep ./work
    """
    from datakeep.remote import clone as do_clone
    from datakeep.remote.connect import refuse_in_process

    refuse_in_process(url)

    with _progress("cloning") as bar:
        repo, result = do_clone(url, directory, name=name, branch=branch, checkout=not no_checkout, progress=bar)
    if as_json:
        echo_json({"path": str(repo.root), **result.to_dict()})
        return
    kind = f"partial clone (data of {name} only)" if name else "clone"
    click.echo(
        f"{kind} of {url} in {repo.root}: {result.ref} at {result.commit[:10]}, "
        f"{_moved(result.received.objects, result.received.bytes)} received"
    )
    echo_restored(result.restored)
    _warn_damaged(result.damaged, result.remote)


# -- ls-files ---------------------------------------------------------------------------------
@click.command("ls-files")
@click.argument("spec", metavar="REV:NAME")
@click.option("--remote", "remote_name", help="Print the objects' URLs on this remote (default: local paths).")
@click.option("--sql", is_flag=True, help="Print one SQL list literal, for DuckDB's read_parquet([...]).")
@json_option
def ls_files(spec: str, remote_name: str | None, sql: bool, as_json: bool) -> None:
    """Print the URLs of a snapshot's Parquet objects.

    Each object is a plain Parquet file; in order, they hold the snapshot's rows.
    Chunks stored as patches are written out whole first; those copies last
    until the next `datakeep gc`.

    Example: duckdb -c "select count(*) from read_parquet($(datakeep ls-files v1:flights --sql))"
    """
    from datakeep.remote.lsfiles import ls_files as do_ls_files
    from datakeep.remote.lsfiles import sql_list

    objects = do_ls_files(_repository(), spec, remote=remote_name)
    if as_json:
        echo_json([o.to_dict() for o in objects])
    elif sql:
        click.echo(sql_list(objects))
    else:
        for o in objects:
            click.echo(o.url)
