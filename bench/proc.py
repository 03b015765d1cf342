"""Measurement primitives: run a command and get its wall time and peak memory; size a folder.

Peak memory is the kernel's ``ru_maxrss`` for exactly the measured process, read by ``wait4`` on it:
the high-water mark of its resident set (and of any of its own children it waited for). It is
exact, with no sampling thread that could miss a short peak. Two traps decide how it is read:

* ``getrusage(RUSAGE_CHILDREN)`` keeps the maximum over *all* children ever reaped, so it never
  goes down between commands;
* the high-water mark survives ``exec``: a child forked from this harness (which holds pyarrow and
  a table) starts with the harness's resident set, so ``wait4`` on our own child would report at
  least the harness's size.

So the command is started by a small process that forks it and waits for it: GNU ``/usr/bin/time``
(``-f %M``) when present, else ``memlaunch.py`` in a fresh, small interpreter. Wall time is taken
here around the whole call; the launcher adds about a millisecond (``time``) or the start-up of a
bare interpreter (``memlaunch.py``, which then reports the child's own wall time instead).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


class CommandError(RuntimeError):
    """A measured command exited with a status we did not expect."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One finished command: how long it took, its peak memory and what it printed."""

    argv: tuple[str, ...]
    seconds: float
    max_rss: int  # bytes
    returncode: int
    stdout: str
    stderr: str

    def last_line(self) -> str:
        """The last non-empty line of stdout (where ``datakeep commit`` prints the commit id)."""
        lines = [line.strip() for line in self.stdout.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def check(self, ok: Sequence[int] = (0,)) -> Run:
        """Return self, or raise CommandError with the tail of stderr."""
        if self.returncode not in ok:
            output = (self.stderr.strip() or self.stdout.strip()).splitlines() or [""]
            command = " ".join(Path(self.argv[0]).name if i == 0 else a for i, a in enumerate(self.argv))
            print(f"--- {command} exited {self.returncode}:\n" + "\n".join(output[-15:]), file=sys.stderr)
            raise CommandError(f"{command[:120]} exited {self.returncode}: {output[-1][:300]}")
        return self


GNU_TIME = Path("/usr/bin/time")
MEMLAUNCH = Path(__file__).with_name("memlaunch.py")


def _gnu_time_works() -> bool:
    if not GNU_TIME.is_file():
        return False
    probe = subprocess.run([str(GNU_TIME), "-f", "%M", "true"], capture_output=True, text=True, check=False)
    return probe.returncode == 0 and probe.stderr.strip().isdigit()


USE_GNU_TIME = _gnu_time_works()


def _launcher(report: Path) -> list[str]:
    if USE_GNU_TIME:
        return [str(GNU_TIME), "-f", "%M", "-o", str(report)]
    return [sys.executable, "-I", "-S", str(MEMLAUNCH), str(report)]


def _read_report(report: Path) -> tuple[int, float | None]:
    """(peak RSS in bytes, the child's own wall seconds if the launcher measured it)."""
    # GNU time writes "Command exited with non-zero status N" before the number on failure.
    fields = report.read_text().split()
    if USE_GNU_TIME:
        return int(fields[-1]) * 1024, None  # %M is in KiB
    return int(fields[0]), float(fields[1])


def run(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> Run:
    """Run ``argv`` in ``cwd``, timing it from spawn to exit (process start-up included).

    Dirty pages are flushed first (``sync``): the tools alternate, and a DVC commit leaves a whole
    file's copy in its cache to be written back, which would otherwise be paid by whichever
    command runs next (its fsyncs wait for the journal), not by the tool that wrote it.
    """
    os.sync()
    with tempfile.TemporaryDirectory() as tmp:
        report, out_path, err_path = Path(tmp, "rusage"), Path(tmp, "out"), Path(tmp, "err")
        with out_path.open("wb") as out, err_path.open("wb") as err:
            start = time.perf_counter()
            proc = subprocess.run(
                [*_launcher(report), *argv],
                cwd=cwd,
                env=dict(env) if env is not None else None,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                check=False,
            )
            seconds = time.perf_counter() - start
        max_rss, own_seconds = _read_report(report)
        return Run(
            argv=tuple(argv),
            seconds=own_seconds if own_seconds is not None else seconds,
            max_rss=max_rss,
            returncode=proc.returncode,
            stdout=out_path.read_text(errors="replace"),
            stderr=err_path.read_text(errors="replace"),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TreeSize:
    """A folder's size: the sum of file sizes (``du -sb``) and the blocks used (``du -s``)."""

    apparent: int
    disk: int
    files: int


def tree_size(path: Path) -> TreeSize:
    """Sum the files under ``path`` (0 if it does not exist); links are not followed."""
    apparent = disk = files = 0
    for folder, _dirs, names in os.walk(path):
        for name in names:
            st = os.lstat(os.path.join(folder, name))
            apparent += st.st_size
            disk += st.st_blocks * 512
            files += 1
    return TreeSize(apparent=apparent, disk=disk, files=files)
