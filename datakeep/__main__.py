"""`python -m datakeep` runs the CLI."""

from datakeep.cli import run

run()
