"""`python -m datakeep` runs the CLI; `main` is also the `datakeep` executable's entry point."""

import sys


def main() -> None:
    """Load the CLI and run it, Ctrl-C while it loads included (click and the command's
    modules take tens of milliseconds to import: a traceback there would be the one place
    Ctrl-C did not end in the documented error line and exit 130)."""
    try:
        from datakeep.cli import run
    except KeyboardInterrupt:
        from datakeep.errors import CommandInterrupted

        error = CommandInterrupted()
        sys.stderr.write(f"error: {error}\n")
        sys.exit(error.exit_code)
    run()


if __name__ == "__main__":
    main()
