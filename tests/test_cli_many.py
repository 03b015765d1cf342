"""Many datasets, many part files: `diff` and `checkout` tell what changed in a few lines, and
count the rest (their --json still lists everything)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pyarrow as pa
import pytest
from click.testing import CliRunner, Result

from datakeep.cli import cli
from datakeep.render.core import restored_lines
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


def test_checkout_among_many_datasets_names_what_it_restored_and_counts_the_rest(project: Path) -> None:
    _many(project, DATASETS)
    run("commit", "-m", "ds05 changed")
    out = run("checkout", "HEAD~1").output.splitlines()
    assert out[:2] == [
        "restored ds05: data/ds05.parquet",
        "unchanged 11 datasets: the working copy already holds their version (ds00, ds01, ds02, … and 8 more)",
    ]
    assert len(out) == 3  # and where HEAD is
    written = json.loads(run("checkout", "main", "--json").output)["written"]
    assert len(written) == DATASETS and written["ds05"] == ["data/ds05.parquet"]


def test_checkout_of_a_folder_counts_its_files(project: Path) -> None:
    run("init")
    parts = [project / "events" / f"day={day:02d}" / "part-0.parquet" for day in range(1, 13)]
    for day, part in enumerate(parts):
        _aged(write(part, _small(day)))
    run("add", "events", "--name", "events")
    run("commit", "-m", "twelve days")
    run("tag", "v1")
    for day, part in enumerate(parts[:9]):
        _aged(write(part, _small(100 + day)))
    for part in parts[9:]:
        part.unlink()
    run("commit", "-m", "nine days, changed")
    out = run("checkout", "v1").output.splitlines()
    assert out[0] == (
        "restored events: 12 files (events/day=01/part-0.parquet, events/day=02/part-0.parquet, "
        "events/day=03/part-0.parquet, … and 9 more)"
    )
    assert len(out) == 2
    assert len(json.loads(run("checkout", "main", "--json").output)["written"]["events"]) == 9


@pytest.mark.parametrize(
    ("written", "removed", "expected"),
    [
        ({"t": ["t.parquet"]}, {}, ["restored t: t.parquet"]),
        ({"e": []}, {"e": ["e/a", "e/b"]}, ["restored e: removed e/a, e/b"]),
        (
            {"e": [f"e/{i}" for i in range(3)]},
            {"e": [f"e/x{i}" for i in range(40)]},
            ["restored e: e/0, e/1, e/2; removed 40 files (e/x0, e/x1, e/x2, … and 37 more)"],
        ),
        (
            {"t": [], "u": []},
            {},
            [
                "unchanged t: the working copy already holds this version",
                "unchanged u: the working copy already holds this version",
            ],
        ),
    ],
)
def test_restored_lines(written: dict[str, list[str]], removed: dict[str, list[str]], expected: list[str]) -> None:
    assert restored_lines(written, removed) == expected


def test_a_long_list_of_files_is_never_one_long_line() -> None:
    paths = [
        f"events/year=2024/month={m:02d}/day={d:02d}/part-{p}.parquet"
        for m in (1, 2)
        for d in range(1, 29)
        for p in range(9)
    ]
    (line,) = restored_lines({"events": paths}, {"events": paths[:300]})
    assert len(line) < 400 and "504 files" in line and "removed 300 files" in line
