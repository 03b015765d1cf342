"""Many datasets: `diff` tells what changed in a few lines, and counts the rest (its --json still
lists everything)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
from click.testing import CliRunner, Result

from datakeep.cli import cli
from tests.conftest import write

DATASETS = 12


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def _small(value: int, rows: int = 10) -> pa.Table:
    return pa.table({"id": list(range(rows)), "v": [value] * rows})


def _aged(path: Path) -> None:
    """Old enough for the index to trust its stat, so checkout can tell it already holds a version."""
    past = time.time() - 10
    os.utime(path, (past, past))


def _many(project: Path, count: int) -> None:
    """``count`` datasets ds00, ds01, …, committed; then ds05 changed and committed."""
    run("init")
    for i in range(count):
        _aged(write(project / "data" / f"ds{i:02d}.parquet", _small(i)))
    run("add", *(f"data/ds{i:02d}.parquet" for i in range(count)), "--key", "id")
    run("commit", "-m", "first")
    _aged(write(project / "data" / "ds05.parquet", _small(500)))


def test_diff_among_many_datasets_shows_the_changed_one_and_counts_the_rest(project: Path) -> None:
    _many(project, DATASETS)
    for args in (("diff",), ("diff", "HEAD~1", "HEAD")):
        if args == ("diff", "HEAD~1", "HEAD"):
            run("commit", "-m", "ds05 changed")
        out = run(*args).output
        assert "ds05: changed (by key id)" in out
        assert ": identical" not in out  # no block per identical dataset
        summary = out.splitlines()[-2:]
        assert summary == ["11 datasets identical (by snapshot id)", "  ds00, ds01, ds02, … and 8 more"]
        assert len(out.splitlines()) < 20 and all(len(line) <= 80 for line in out.splitlines())
    listed = json.loads(run("diff", "HEAD~1", "HEAD", "--json").output)["datasets"]
    assert len(listed) == DATASETS and sum(d["status"] == "identical" for d in listed) == DATASETS - 1


def test_a_handful_of_identical_datasets_keep_their_blocks(project: Path) -> None:
    _many(project, 6)
    out = run("diff").output
    assert out.count(": identical (by snapshot id)") == 5 and "datasets identical" not in out
