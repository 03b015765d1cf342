"""Core commands: init, add, rm, status, commit, log, show, checkout, tag, branch, switch, gc, fsck.

Each command parses its options, calls the API method of the same name and renders the result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from datakeep.cli._common import ProgressBar, color, echo_json, echo_restored, json_option, open_repo
from datakeep.errors import EXIT_NO, UsageError

if TYPE_CHECKING:
    from datakeep.maintenance import FsckResult
    from datakeep.records.index import TrackedDataset


@click.command()
@click.argument("path", default=".", type=click.Path(file_okay=False))
@click.option(
    "--chunk-bytes",
    type=click.IntRange(min=4096),
    help="Uncompressed bytes a chunk aims for (default 4 MiB); smaller shares more between versions.",
)
@click.option(
    "--encoding",
    type=click.Choice(["1", "2"]),
    help="Canonical encoding of snapshot ids (default 2, the newest); 1 gives the ids older repositories give.",
)
def init(path: str, chunk_bytes: int | None, encoding: str | None) -> None:
    """Create an empty datakeep repository here.

    Inside a git work tree the store stays out of git (`.datakeep/.gitignore`).

    Example: datakeep init
    """
    from datakeep.api import Repo

    repo = Repo.init(path, chunk_bytes=chunk_bytes, encoding=int(encoding) if encoding else None)
    click.echo(f"Initialized empty datakeep repository in {repo.root / '.datakeep'}")


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--name",
    help="Dataset name (default: the file name without .parquet, .pq or .parq, or the folder name; one path only).",
)
@click.option("--key", "key", multiple=True, help="Key column; repeat or comma-separate for a composite key.")
@click.option("--entity", help="Canonical schema (schemas/<entity>.yaml) to validate against at commit.")
@click.option("--source", help="Source mapping (schemas/sources/<source>.yaml) to apply before validating.")
def add(paths: tuple[str, ...], name: str | None, key: tuple[str, ...], entity: str | None, source: str | None) -> None:
    """Track Parquet files or folders, each as a named dataset (all or none).

    Example: datakeep add data/flights.parquet --name flights --key flight_id
             datakeep add data/*.parquet
    """
    keys = tuple(k.strip() for part in key for k in part.split(",") if k.strip())
    repo = open_repo()
    before = repo.tracked()
    datasets = repo.add_all(list(paths), name=name, key=keys, entity=entity, source=source)
    for dataset, path in zip(datasets, paths, strict=True):
        click.echo(f"tracking {dataset} ({path}){' key ' + ','.join(keys) if keys else ''}")
        _say_what_changed(dataset, before.get(dataset), keys, entity, source)


def _say_what_changed(
    dataset: str, previous: TrackedDataset | None, keys: tuple[str, ...], entity: str | None, source: str | None
) -> None:
    """Adding again replaces a definition: say what a forgotten option dropped."""
    if previous is not None:
        changes = [
            f"{label} {_shown(old)} → {_shown(new)}"
            for label, old, new in (
                ("key", ",".join(previous.key), ",".join(keys)),
                ("entity", previous.entity, entity),
                ("source", previous.source, source),
            )
            if (old or None) != (new or None)
        ]
        if changes:
            click.echo(f"note: {dataset} was already tracked; changed {', '.join(changes)}", err=True)


def _shown(value: str | None) -> str:
    return value or "(none)"


@click.command()
@click.argument("name")
def rm(name: str) -> None:
    """Stop tracking a dataset (its history stays).

    Example: datakeep rm flights
    """
    open_repo().rm(name)
    click.echo(f"no longer tracking {name}")


@click.command()
@json_option
def status(as_json: bool) -> None:
    """Show which tracked datasets changed since HEAD.

    States: unchanged, modified, new (never committed), missing (path gone, or
    a folder with no Parquet files left), removed (`rm` since the last commit),
    elsewhere (at HEAD, not in this working tree, e.g. a partial clone's other
    datasets: commits keep it as it is).

    Example: datakeep status
    """
    repo = open_repo()
    rows = repo.status()
    if as_json:
        echo_json([r.to_dict() for r in rows])
        return
    branch = repo.current_branch()
    click.echo(f"On branch {branch}" if branch else f"HEAD detached at {repo.resolve('HEAD')[:10]}")
    if not rows:
        click.echo("nothing tracked (use `datakeep add PATH --name NAME`)")
    colors = {
        "unchanged": "dim",
        "modified": "yellow",
        "new": "green",
        "missing": "red",
        "removed": "red",
        "elsewhere": "dim",
    }
    from datakeep.render.style import paint

    for row in rows:
        note = f" ({row.note})" if row.note else " (not in this working tree)" if row.state == "elsewhere" else ""
        where = f"{row.name:<20} {row.path}" if row.path else row.name  # a dataset elsewhere has no path here
        click.echo(f"  {paint(f'{row.state:<10}', colors[row.state], color())} {where}{note}")


#: Shared by commit and merge, which write commits.
author_option = click.option(
    "--author", help="Author (default: $DATAKEEP_AUTHOR, $GIT_AUTHOR_NAME, git's user.name <user.email>, or user@host)."
)


@click.command()
@click.option("-m", "--message", required=True, help="What this version is.")
@author_option
@click.option("--allow-empty", is_flag=True, help="Commit even when no dataset changed.")
@click.option("--no-verify", is_flag=True, help="Skip schema validation of datasets tracked with --entity or --source.")
@json_option
def commit(message: str, author: str | None, allow_empty: bool, no_verify: bool, as_json: bool) -> None:
    """Snapshot every tracked dataset that changed.

    Prints the new commit id as the last line (`--json`: {"id": ...}).
    Exit 1 when nothing changed.

    Example: datakeep commit -m "january load"
    """
    result = open_repo().commit(
        message=message,
        author=author,
        allow_empty=allow_empty,
        verify=not no_verify,
        progress=ProgressBar(min_total=32 * 2**20),
    )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if as_json:
        echo_json(result.to_dict())
        return
    from datakeep.render.style import human_bytes

    w = result.written
    # Said only when it happened: the rows of appended files a resume record spared reading.
    resumed = f", {w['rows_resumed']:,} unchanged row(s) not read again" if w.get("rows_resumed") else ""
    click.echo(
        f"[{result.id[:10]}] {result.commit.message.splitlines()[0]}: "
        f"{len(result.changed)} dataset(s) changed ({_changed_names(result.changed, result.removed)}), "
        f"{w.get('chunks_written', 0)} chunk(s) written, {w.get('chunks_reused', 0)} reused, "
        f"{human_bytes(w.get('new_bytes', 0) + w.get('manifest_bytes', 0))} new{resumed}"
    )
    click.echo(result.id)


def _changed_names(changed: tuple[str, ...], removed: tuple[str, ...]) -> str:
    return ", ".join(f"{name} removed" if name in removed else name for name in changed) or "none"


@click.command()
@click.argument("rev", required=False)
@click.option("--stat", is_flag=True, help="Per dataset: rows and schema changes (stored; reads no data).")
@click.option("-n", "--max-count", type=click.IntRange(min=0), help="Show at most this many commits.")
@click.option("--oneline", is_flag=True, help="One line per commit.")
@click.option("--name", "dataset", help="Only commits that changed this dataset (and only its --stat line).")
@json_option
def log(rev: str | None, stat: bool, max_count: int | None, oneline: bool, dataset: str | None, as_json: bool) -> None:
    """Show the commit history, newest first.

    Example: datakeep log --stat --name flights
    """
    from datakeep.render.core import commit_json, log_text

    repo = open_repo()
    entries = repo.log(rev, limit=max_count, name=dataset)
    if as_json:
        echo_json([commit_json(oid, c) for oid, c in entries])
        return
    text = log_text(entries, stat=stat, refs=repo.labels(), color=color(), dataset=dataset, oneline=oneline)
    if text:
        click.echo(text)
    elif max_count != 0:  # `-n 0` asked for nothing, as git gives it
        click.echo(f"no commit changed {dataset}" if dataset and repo.log(rev, limit=1) else "no commits yet")


@click.command()
@click.argument("spec", default="HEAD")
@json_option
def show(spec: str, as_json: bool) -> None:
    """Show a commit, or one dataset's snapshot (REV:NAME).

    Example: datakeep show v1:flights --json
    """
    from datakeep.render.core import commit_json, commit_text, snapshot_json, snapshot_text
    from datakeep.revisions import split_dataset

    repo = open_repo()
    rev, name = split_dataset(spec)
    if name:
        manifest = repo.manifest(name, rev)
        if as_json:
            echo_json(snapshot_json(manifest))
        else:
            click.echo(snapshot_text(manifest))
        return
    oid, c = repo.commit_info(rev)
    if as_json:
        echo_json(commit_json(oid, c))
    else:
        click.echo(commit_text(oid, c))


@click.command()
@click.argument("rev")
@click.option("--name", help="Restore only this dataset.")
@click.option("-o", "--output", type=click.Path(), help="Write the dataset here instead of its tracked path.")
@click.option("-f", "--force", is_flag=True, help="Overwrite uncommitted changes.")
@json_option
def checkout(rev: str, name: str | None, output: str | None, force: bool, as_json: bool) -> None:
    """Restore datasets as they were at a revision.

    With -o, write one dataset anywhere outside .datakeep/ (HEAD untouched).
    Without, restore every tracked path: a branch puts HEAD on it, HEAD stays
    put, another revision detaches HEAD. Either way uncommitted changes are
    not overwritten unless --force.

    Example: datakeep checkout v1 --name flights -o old.parquet
    """
    result = open_repo().checkout(rev, name=name, output=output, force=force)
    if output is not None:
        if as_json:
            echo_json({"written": str(result)})
        else:
            click.echo(f"wrote {result}")
        return
    if as_json:
        echo_json(result.to_dict())
        return
    echo_restored(result.written, result.removed)
    if result.head == "unchanged":
        click.echo(f"HEAD unchanged ({result.commit[:10]} restored)")
    else:  # "branch NAME" or "detached at ID", as git says it
        click.echo(f"switched to {result.head}" if result.head.startswith("branch") else f"HEAD {result.head}")
    _warn_left_behind(result.left_behind)


def _warn_left_behind(commit: str | None) -> None:
    if commit is not None:
        click.echo(
            f"warning: commit {commit[:10]} is left behind: no branch or tag holds it, and gc will delete it "
            f"— keep it with `datakeep branch NAME {commit}`",
            err=True,
        )


def _ref_command(kind: str) -> Callable[..., None]:
    @click.argument("name", required=False)
    @click.argument("rev", default="HEAD")
    @click.option("-d", "--delete", is_flag=True, help=f"Delete the {kind}.")
    @click.option(
        "-f",
        "--force",
        is_flag=True,
        help=f"Move an existing {kind}."
        + (" With -d: delete a branch whose commits no other ref holds." if kind == "branch" else ""),
    )
    @json_option
    def command(
        name: str | None, rev: str, delete: bool, force: bool, as_json: bool, force_delete: bool = False
    ) -> None:
        if force_delete:  # branch -D, as git spells it
            delete = force = True
        repo = open_repo()
        if name is None:
            listing = repo.tags() if kind == "tag" else repo.branches()
            current = repo.current_branch() if kind == "branch" else None
            if as_json:
                echo_json(listing)
                return
            for ref_name, oid in listing.items():
                marker = "* " if ref_name == current else "  "
                click.echo(f"{marker}{ref_name:<24} {oid[:10]}")
            return
        if delete:
            oid = repo.delete_tag(name) if kind == "tag" else repo.delete_branch(name, force=force)
            click.echo(f"deleted {kind} {name} (was {oid[:10] if oid else 'damaged'})")
            return
        if kind == "branch" and force and name == repo.current_branch() and name in repo.branches():
            moved = repo.move_current_branch(rev)  # the working tree follows the branch HEAD is on
            echo_restored(moved.written, moved.removed)
            click.echo(f"branch {name} → {moved.commit[:10]} (the working tree follows)")
            _warn_left_behind(moved.left_behind)
            return
        oid = repo.tag(name, rev, force=force) if kind == "tag" else repo.branch(name, rev, force=force)
        click.echo(f"{kind} {name} → {oid[:10]}")
        if name in (repo.branches() if kind == "tag" else repo.tags()):
            other = "branch" if kind == "tag" else "tag"
            click.echo(
                f"warning: a {other} named '{name}' exists too: '{name}' alone means the tag, "
                f"except in `checkout` and `switch`, which take the branch",
                err=True,
            )

    return command


tag = click.command(
    "tag",
    help="List tags, or name a commit.\n\nExample: datakeep tag v1 HEAD",
)(_ref_command("tag"))
branch = click.command(
    "branch",
    help="List branches, or start one at a commit.\n\nExample: datakeep branch experiment v1",
)(
    click.option("-D", "force_delete", is_flag=True, help="Delete the branch even if no other ref holds its commits.")(
        _ref_command("branch")
    )
)


@click.command()
@click.argument("name")
@click.option("-f", "--force", is_flag=True, help="Overwrite uncommitted changes.")
def switch(name: str, force: bool) -> None:
    """Switch HEAD to a branch and restore its datasets.

    Example: datakeep switch experiment
    """
    result = open_repo().switch(name, force=force)
    click.echo(f"Switched to branch {name} ({result.commit[:10]})")
    _warn_left_behind(result.left_behind)


@click.command()
@click.argument("rev")
@click.option("-m", "--message", help='Message of the merge commit (default: "merge REV").')
@author_option
@click.option("--ours", "ours", multiple=True, help="A dataset both sides changed: keep yours (repeatable).")
@click.option("--theirs", "theirs", multiple=True, help="A dataset both sides changed: take theirs (repeatable).")
@json_option
def merge(
    rev: str, message: str | None, author: str | None, ours: tuple[str, ...], theirs: tuple[str, ...], as_json: bool
) -> None:
    """Merge another line of history into HEAD, dataset by dataset.

    A dataset changed on one side since the two parted takes that side's version; one changed on
    both sides differently is a conflict (exit 1, nothing written) until --ours or --theirs
    names the side to keep. Prints the new HEAD as the last line.

    Example: datakeep pull origin main; datakeep merge origin/main
    """
    result = open_repo().merge(rev, message=message, author=author, ours=ours, theirs=theirs)
    if as_json:
        echo_json(result.to_dict())
        return
    if result.kind == "up-to-date":
        click.echo(f"already up to date: HEAD contains {rev}")
    else:
        how = "fast-forward to" if result.kind == "fast-forward" else "merged"
        click.echo(
            f"{how} {rev}: " + (", ".join(f"{n} ({t})" for n, t in result.taken.items()) or "no dataset changed")
        )
        echo_restored(result.written, result.removed)
    click.echo(result.commit)


@click.command()
@click.option("-n", "--dry-run", is_flag=True, help="Only say what would be removed.")
@json_option
def gc(dry_run: bool, as_json: bool) -> None:
    """Delete objects no ref can reach.

    Example: datakeep gc
    """
    from datakeep.render.style import human_bytes

    result = open_repo().gc(dry_run=dry_run)
    if as_json:
        echo_json(result.to_dict())
        return
    verb = "would remove" if dry_run else "removed"
    leftovers = f", and {result.temp_files} temp file(s) of interrupted writes" if result.temp_files else ""
    click.echo(f"{verb} {result.removed} object(s) ({human_bytes(result.bytes_freed)}){leftovers}, kept {result.kept}")


@click.command()
@click.option("--full", is_flag=True, help="Also decode every chunk and check its logical id.")
@click.option("--repair", is_flag=True, help="Replace damaged or missing objects with good copies from a remote.")
@click.option("--remote", "remote", metavar="NAME", help="The remote --repair fetches from (default: origin).")
@json_option
@click.pass_context
def fsck(ctx: click.Context, full: bool, repair: bool, remote: str | None, as_json: bool) -> None:
    """Verify every object and every reference.

    Exit 0 when all is well, 1 when a problem was found (each is listed), or with --repair was
    found and is still there.

    Example: datakeep fsck --repair
    """
    if remote is not None and not repair:
        raise UsageError("--remote names where --repair fetches from", "add --repair, or drop --remote")
    repo = open_repo()
    if repair:
        repaired = repo.repair(remote, full=full)
        if as_json:
            echo_json(repaired.to_dict())
        else:
            _print_problems(repaired.found)
            if repaired.repaired:
                click.echo(f"repaired {len(repaired.repaired)} object(s) with good copies from {repaired.remote}")
            for oid, why in repaired.unrepaired.items():
                click.echo(f"{oid}: not repaired: {why}")
            assert repaired.check is not None
            _print_summary(repaired.check, after=True)
        if not repaired.ok:
            ctx.exit(EXIT_NO)
        return
    result = repo.fsck(full=full)
    if as_json:
        echo_json(result.to_dict())
    else:
        _print_problems(result.problems)
        _print_summary(result, after=False)
    if not result.ok:
        ctx.exit(EXIT_NO)


def _print_problems(problems: list[dict[str, str]]) -> None:
    for problem in problems:
        click.echo(f"{problem['object']}: {problem['problem']}")


def _print_summary(result: FsckResult, *, after: bool) -> None:
    summary = "ok" if result.ok else f"{len(result.problems)} problem(s)"
    click.echo(f"{'then ' if after else ''}checked {result.objects_checked} object(s): {summary}")
    if result.damaged and not after:
        click.echo(
            "to repair: `datakeep fsck --repair` fetches good copies of these objects from a remote that has them"
        )
