"""The two version-control tools under test, driven through their command lines.

Each driver owns one fresh repository folder holding a single tracked file, ``data.parquet``. The
harness writes a version's bytes over that file and calls :meth:`commit`; every call is a separate
process, timed with start-up included, because that is the time a user waits for.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from proc import Run, TreeSize, run, tree_size

DATA_FILE = "data.parquet"
DATASET = "t"
KEY = "id"


def child_env(scratch: Path) -> dict[str, str]:
    """The environment every measured command runs in: quiet, colourless, no telemetry."""
    env = dict(os.environ)
    env.update(
        NO_COLOR="1",
        DVC_NO_ANALYTICS="1",
        # The scratch folder must not look like part of a git work tree to either tool.
        GIT_CEILING_DIRECTORIES=str(scratch.parent),
    )
    return env


class Tool(Protocol):
    """What the harness needs from a version-control tool."""

    name: str
    folder: Path

    def init(self) -> Run: ...
    def commit(self, number: int) -> Run: ...
    def recommit(self) -> Run: ...
    def restore(self, number: int, out: Path) -> tuple[Run, Path]: ...
    def store(self) -> TreeSize: ...


@dataclass(kw_only=True)
class Datakeep:
    """``datakeep init`` / ``add`` / ``commit`` / ``checkout`` in one folder."""

    exe: Path
    folder: Path
    env: dict[str, str]
    name: str = "datakeep"
    commits: dict[int, str] = field(default_factory=dict)
    add_run: Run | None = None

    def _dk(self, *args: str) -> Run:
        return run([str(self.exe), *args], cwd=self.folder, env=self.env)

    def init(self) -> Run:
        return self._dk("init").check()

    def commit(self, number: int) -> Run:
        """Commit the current file as version ``number`` (version 1 first adds the dataset)."""
        if number == 1:
            self.add_run = self._dk("add", DATA_FILE, "--name", DATASET, "--key", KEY).check()
        result = self._dk("commit", "-m", f"v{number}").check()
        self.commits[number] = result.last_line()
        return result

    def recommit(self) -> Run:
        # "Nothing to commit" may be reported as exit 1 ("the answer is no"); both are fine here.
        return self._dk("commit", "-m", "again").check(ok=(0, 1))

    def restore(self, number: int, out: Path) -> tuple[Run, Path]:
        out.unlink(missing_ok=True)
        rev = self.commits[number]
        return self._dk("checkout", rev, "--name", DATASET, "-o", str(out)).check(), out

    def store(self) -> TreeSize:
        return tree_size(self.folder / ".datakeep" / "objects")

    def python(self) -> Path:
        """The interpreter of the environment datakeep is installed in (for ``repo.read``)."""
        return self.exe.parent / "python"


@dataclass(kw_only=True)
class Dvc:
    """``dvc init --no-scm`` / ``dvc add`` / ``dvc checkout`` in one folder.

    DVC restores the version a ``.dvc`` file points at; to restore version N the harness writes back
    the ``data.parquet.dvc`` saved after committing N and runs ``dvc checkout``, as a user would
    after ``git checkout`` of the ``.dvc`` file.
    """

    exe: Path
    folder: Path
    env: dict[str, str]
    name: str = "dvc"
    saved: Path = field(init=False)

    def __post_init__(self) -> None:
        self.saved = self.folder.parent / f"{self.folder.name}-dvcfiles"

    def _dvc(self, *args: str) -> Run:
        return run([str(self.exe), *args], cwd=self.folder, env=self.env)

    def init(self) -> Run:
        result = self._dvc("init", "--no-scm").check()
        self._dvc("config", "core.analytics", "false").check()
        self._dvc("config", "core.check_update", "false").check()
        self.saved.mkdir(parents=True, exist_ok=True)
        return result

    def commit(self, number: int) -> Run:
        result = self._dvc("add", DATA_FILE).check()
        shutil.copyfile(self.folder / f"{DATA_FILE}.dvc", self.saved / f"v{number:02d}.dvc")
        return result

    def recommit(self) -> Run:
        return self._dvc("add", DATA_FILE).check()

    def restore(self, number: int, out: Path) -> tuple[Run, Path]:
        del out  # DVC restores into the workspace, where the file is tracked
        shutil.copyfile(self.saved / f"v{number:02d}.dvc", self.folder / f"{DATA_FILE}.dvc")
        result = self._dvc("checkout", "--force", f"{DATA_FILE}.dvc").check()
        return result, self.folder / DATA_FILE

    def store(self) -> TreeSize:
        return tree_size(self.folder / ".dvc" / "cache")

    def cleanup(self) -> None:
        shutil.rmtree(self.saved, ignore_errors=True)


def alternating(scratch: Path, repeat: int, *, datakeep: Path, dvc: Path, env: dict[str, str]) -> Iterator[Tool]:
    """Each tool in a fresh folder under ``scratch``, datakeep then DVC, ``repeat`` times (the
    machine's drift then weighs on both alike); a folder is removed once its run is done."""
    for attempt in range(repeat):
        for name in ("datakeep", "dvc"):
            folder = scratch / f"{name}-{attempt}"
            folder.mkdir()
            try:
                yield (
                    Datakeep(exe=datakeep, folder=folder, env=env)
                    if name == "datakeep"
                    else Dvc(exe=dvc, folder=folder, env=env)
                )
            finally:
                shutil.rmtree(folder, ignore_errors=True)


def read_probe(python: Path, repo: Path, rev: str, original: Path, repeat: int) -> dict[str, float]:
    """Time ``repo.read(name, rev=...)`` against ``pyarrow.parquet.read_table`` of the original.

    Runs in datakeep's own interpreter, both reads in the same process, alternating, ``repeat``
    times; returns the median of each (seconds) and whether the tables were equal.
    """
    probe = Path(__file__).with_name("read_probe.py")
    argv = [str(python), str(probe), str(repo), DATASET, rev, str(original), str(repeat)]
    # The source tree first: an editable install made before datakeep/__init__.py existed resolves
    # `datakeep` as a namespace package (no `Repo`) from anywhere but the project root.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    result = run(argv, cwd=repo, env=env).check()
    return dict(json.loads(result.last_line()))


def compile_datakeep(python: Path | str, env: dict[str, str] | None = None) -> None:
    """Write datakeep's bytecode (``.pyc``) before anything is timed.

    pip compiles a package's bytecode when it installs it (DVC's venv has it), but an editable
    install is compiled at first import, and not at all where ``PYTHONDONTWRITEBYTECODE`` is set
    (this machine sets it): then every datakeep command compiled its own source again, about
    0.1 s of each measured start-up that a user's installed copy never pays. ``py_compile``
    writes the files whatever that variable says; ``python`` is the interpreter the measured
    command runs under, so the copy it imports (PYTHONPATH included) is the one compiled.
    """
    script = "import compileall, os, datakeep; compileall.compile_dir(os.path.dirname(datakeep.__file__), quiet=1)"
    # Run from a neutral folder: ``-c`` puts the working directory first on sys.path, which would
    # compile a checkout found there instead of the copy the measured commands import.
    subprocess.run([str(python), "-c", script], env=env, check=True, cwd=tempfile.gettempdir())
