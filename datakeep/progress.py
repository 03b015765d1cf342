"""How far long work has got, for whoever shows it: the CLI draws a bar, a library caller may
log, tests count. Work only reports; it never decides whether anything is shown."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def begin(self, label: str, total: int) -> None:
        """A piece of work of ``total`` units starts (a commit counts bytes of files to read)."""

    def advance(self, amount: int) -> None:
        """``amount`` more units are done."""

    def end(self) -> None:
        """The piece of work is over (every unit done, or given up)."""


class FileMeter:
    """Turns rows read from one file into bytes of it, for a bar that counts bytes: a file's
    rows are read in batches, its size is what the bar's total was made of."""

    def __init__(self, progress: Progress, size: int) -> None:
        self.progress = progress
        self.size = size
        self.shown = 0

    def __call__(self, rows_done: int, rows_total: int) -> None:
        reached = self.size * min(rows_done, rows_total) // max(rows_total, 1)
        if reached > self.shown:
            self.progress.advance(reached - self.shown)
            self.shown = reached

    def finish(self) -> None:
        """The whole file counts as read (a file of no rows too)."""
        self(1, 1)
