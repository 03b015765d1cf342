"""The `datakeep` command: a click group whose subcommands load on first use.

Each command lives in a small module under ``datakeep.cli`` and is imported only when it runs,
so `datakeep --help` and every command start without importing pandas or pyarrow.
The CLI parses arguments, calls ``datakeep.api``, and hands the result to a renderer.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import os
import sys
import threading
import traceback
from typing import Any, NoReturn

import click

from datakeep.errors import EXIT_ERROR, CommandInterrupted, DatakeepError

# command name -> "module:attribute"; the help line is kept here so `--help` imports nothing.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("datakeep.cli.core:init", "Create an empty datakeep repository here."),
    "add": ("datakeep.cli.core:add", "Track a Parquet file or folder as a named dataset."),
    "rm": ("datakeep.cli.core:rm", "Stop tracking a dataset (its history stays)."),
    "status": ("datakeep.cli.core:status", "Show which tracked datasets changed since HEAD."),
    "commit": ("datakeep.cli.core:commit", "Snapshot every tracked dataset that changed."),
    "log": ("datakeep.cli.core:log", "Show the commit history, newest first."),
    "show": ("datakeep.cli.core:show", "Show a commit, or one dataset's snapshot (REV:NAME)."),
    "checkout": ("datakeep.cli.core:checkout", "Restore datasets as they were at a revision."),
    "tag": ("datakeep.cli.core:tag", "List tags, or name a commit."),
    "branch": ("datakeep.cli.core:branch", "List branches, or start one at a commit."),
    "switch": ("datakeep.cli.core:switch", "Switch HEAD to a branch and restore its datasets."),
    "merge": ("datakeep.cli.core:merge", "Merge another line of history into HEAD, dataset by dataset."),
    "gc": ("datakeep.cli.core:gc", "Delete objects no ref can reach."),
    "fsck": ("datakeep.cli.core:fsck", "Verify every object and every reference."),
    "diff": ("datakeep.cli.diff:diff", "Report what changed between two dataset versions."),
    "schema": ("datakeep.cli.schema:schema", "Infer, show and check canonical schemas."),
    "validate": ("datakeep.cli.validate:validate", "Validate data files against their schema."),
    "map": ("datakeep.cli.validate:map_", "Apply a source mapping and write canonical data."),
    "hook": ("datakeep.cli.hook:hook", "Run or install datakeep's git pre-commit hook."),
    "remote": ("datakeep.cli.remote:remote", "Add, list or remove remotes."),
    "push": ("datakeep.cli.remote:push", "Send commits and the objects they need to a remote."),
    "pull": ("datakeep.cli.remote:pull", "Fetch commits and objects from a remote."),
    "clone": ("datakeep.cli.remote:clone", "Make a new working repository from a remote."),
    "ls-files": ("datakeep.cli.remote:ls_files", "Print the URLs of a snapshot's Parquet objects."),
}


def _unexpected(exc: Exception) -> str:
    """One line for an error datakeep did not raise on purpose."""
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where} — check the path, its permissions and the free disk space, then run again"
    return (
        f"unexpected {type(exc).__name__}: {exc} — this is a bug in datakeep; "
        "run the command again with --debug for the traceback and report it"
    )


class OneLineUsageError(click.UsageError):
    """click's usage errors (a missing option, an unknown one, a bad value) in datakeep's own
    form: one line on stderr, `error: what — what to do`, exit 2, as every other error is."""

    def __init__(self, original: click.UsageError) -> None:
        super().__init__(original.format_message(), original.ctx)

    def show(self, file: Any = None) -> None:
        command = self.ctx.command_path if self.ctx is not None else "datakeep"
        click.echo(f"error: {self.format_message().rstrip('.')} — see `{command} --help`", err=True)


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command is asked for."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise OneLineUsageError(exc) from None

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except KeyboardInterrupt:  # Ctrl-C while the arguments are parsed
            interrupted()

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:  # an unknown command
            raise OneLineUsageError(exc) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target[0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None
        command: click.Command = getattr(module, attribute)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        # The one place where errors become `error: what — what to do` and an exit code.
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # Ctrl-C, while the command's module loads or while it works: by now every `finally`
            # has run (temp files removed, locks released). click would say "Aborted!" and exit
            # 1, "the answer is no"; it is no answer.
            interrupted(debug=bool(ctx.obj and ctx.obj.get("debug")))
        except DatakeepError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except click.UsageError as exc:  # a subcommand's arguments (parsed here, in invoke)
            raise exc if isinstance(exc, OneLineUsageError) else OneLineUsageError(exc) from None
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            # Anything else is still an error (exit 2), never a traceback ending in exit 1, which
            # scripts would read as "the answer is no".
            if isinstance(exc, OSError) and exc.errno == errno.EPIPE:
                # The reader went away (`datakeep log | head`): nothing more can be said. Not
                # click's exit 1, "the answer is no": the command may have done its work (a
                # commit whose output pipe closed has landed).
                for name in ("stdout", "stderr"):  # nothing flushes into the closed pipe again
                    with contextlib.suppress(OSError, ValueError):
                        getattr(sys, name).close()
                    setattr(sys, name, open(os.devnull, "w"))  # noqa: SIM115 - the process's last stream
                ctx.exit(EXIT_ERROR)
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"error: {_unexpected(exc)}", err=True)
            ctx.exit(EXIT_ERROR)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, help_line) for name, (_, help_line) in sorted(COMMANDS.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for errors.")
@click.option(
    "-C",
    "directory",
    type=click.Path(exists=True, file_okay=False),
    default=None,
    help="Run as if datakeep was started in this folder.",
)
@click.version_option(package_name="datakeep")
@click.pass_context
def cli(ctx: click.Context, debug: bool, directory: str | None) -> None:
    """datakeep: version Parquet datasets like code, and stop bad data at the door.

    Exit codes: 0 ok, 1 the answer is no (validation failed, differences found),
    2 usage or operational error, 130 interrupted (Ctrl-C).
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if directory:
        os.chdir(directory)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (`datakeep` and `python -m datakeep`)."""
    from datakeep.cli.allocator import tune

    try:
        tune()
        cli.main(args=argv, prog_name="datakeep")
    except KeyboardInterrupt:  # before a command runs (`invoke` words the rest)
        interrupted()


def interrupted(*, debug: bool = False) -> NoReturn:
    """Leave as a command Ctrl-C stopped: one error line, exit 130 (the traceback first with --debug)."""
    if debug:
        traceback.print_exc()
    error = CommandInterrupted()
    click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


def run() -> None:
    """The `datakeep` executable and `python -m datakeep`: `main`, then leave at once.

    Python's own shutdown frees every object and module one by one; after a 5M-row commit that
    took 30 ms of the 1.1 s a user waits, for memory the system reclaims anyway. Once the
    command is done and no thread of ours is left, output is flushed and the process exits
    with the command's code. `main` itself still raises SystemExit, for callers in Python.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:
        if exc.code is not None and not isinstance(exc.code, int):
            raise  # a message to print: Python's usual exit says it
        code = exc.code or 0
    if any(t is not threading.main_thread() and not t.daemon for t in threading.enumerate()):
        sys.exit(code)  # a thread still working: the usual exit waits for it
    if sys.gettrace() is not None or sys.getprofile() is not None:
        sys.exit(code)  # coverage or a profiler runs us: it writes its results on the way out
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe (`datakeep log | head`): nothing more to say
        pass
    os._exit(code)
