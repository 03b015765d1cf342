"""Hive partition values in diffs: a folder's `year=2024/` is a column to its readers, so a row
moved to another partition is a changed row, in every kind of diff (working tree, two commits,
two folders on disk, and the summary `log --stat` keeps). Real Parquet folders in tmp_path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from datakeep.api import Repo
from datakeep.diff import diff_files
from tests.conftest import write


def events(folder: Path, years: dict[int, list[int]]) -> Path:
    """One part file per year holding the ids given, ``v`` = id * 1.5."""
    if folder.exists():
        shutil.rmtree(folder)
    for year, ids in years.items():
        write(folder / f"year={year}" / "part-0.parquet", pa.table({"id": ids, "v": [i * 1.5 for i in ids]}))
    return folder


@pytest.fixture
def moved(repo: Repo) -> Repo:
    """Two commits: id 3 moves from year=2023 to year=2024, nothing else changes."""
    events(repo.root / "events", {2023: [1, 2, 3], 2024: [4, 5]})
    repo.add(repo.root / "events", name="events", key=["id"])
    repo.commit(message="first")
    events(repo.root / "events", {2023: [1, 2], 2024: [4, 5, 3]})
    return repo


def test_a_row_moved_to_another_partition_is_modified_in_its_partition_column(moved: Repo) -> None:
    result = moved.diff()
    dataset = result.dataset("events")
    assert (dataset.rows.added, dataset.rows.removed, dataset.rows.modified) == (0, 0, 1)
    columns = {c.name: c for c in dataset.columns}
    assert columns["year"].modified == 1 and columns["v"].modified == 0
    (sample,) = [s for s in dataset.samples if s.kind == "modified"]
    assert sample.key == {"id": 3} and sample.changes == (("year", 2023, 2024),)


def test_committed_versions_and_the_commit_summary_see_the_move_too(moved: Repo) -> None:
    moved.commit(message="moved")
    dataset = moved.diff("HEAD~1", "HEAD").dataset("events")
    assert (dataset.rows.added, dataset.rows.removed, dataset.rows.modified) == (0, 0, 1)
    assert moved.log()[0][1].summary["events"]["rows"] == {"added": 0, "removed": 0, "modified": 1}


def test_a_file_moved_whole_to_another_partition_is_not_taken_for_the_same_rows(repo: Repo) -> None:
    # The same chunk in another partition folder: its rows are not shared, whatever its id.
    events(repo.root / "events", {2023: [1, 2], 2024: [3]})
    repo.add(repo.root / "events", name="events", key=[])
    repo.commit(message="first")
    events(repo.root / "events", {2025: [1, 2], 2024: [3]})
    repo.commit(message="moved")
    dataset = repo.diff("HEAD~1", "HEAD").dataset("events")
    assert (dataset.rows.added, dataset.rows.removed, dataset.rows.unchanged) == (2, 2, 1)


def test_partition_statistics_are_those_of_the_values_readers_see(moved: Repo, tmp_path: Path) -> None:
    moved.commit(message="moved")
    committed = {c.name: c for c in moved.diff("HEAD~1", "HEAD").dataset("events").columns}["year"]
    old, new = tmp_path / "old", tmp_path / "new"
    events(old, {2023: [1, 2, 3], 2024: [4, 5]})
    events(new, {2023: [1, 2], 2024: [4, 5, 3]})
    on_disk = {c.name: c for c in diff_files(old, new, key="id").dataset("new").columns}["year"]
    seen = ds.dataset(new, partitioning="hive").to_table().column("year").to_pylist()
    assert committed.stats_to["min"] == on_disk.stats_to["min"] == min(seen)
    assert committed.stats_to["top"] == on_disk.stats_to["top"] == [[2024, 3], [2023, 2]]
    assert committed.drift == on_disk.drift


def test_a_column_a_file_holds_itself_wins_over_a_folder_of_that_name(repo: Repo) -> None:
    # As in Repo.read: the file's own 'year' column is the data; the folder name is not added.
    write(repo.root / "events" / "year=2023" / "p.parquet", pa.table({"id": [1], "year": [1999]}))
    repo.add(repo.root / "events", name="events", key=["id"])
    repo.commit(message="first")
    write(repo.root / "events" / "year=2023" / "p.parquet", pa.table({"id": [1], "year": [2000]}))
    dataset = repo.diff().dataset("events")
    assert [c.name for c in dataset.columns] == ["id", "year"]
    (sample,) = dataset.samples
    assert sample.changes == (("year", 1999, 2000),)


def test_show_lists_a_folders_partition_columns(moved: Repo) -> None:
    from click.testing import CliRunner

    from datakeep.cli import cli

    moved.commit(message="moved")
    shown = CliRunner().invoke(cli, ["show", "HEAD:events", "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["partitions"] == [{"name": "year", "type": "int32", "values": [2023, 2024]}]
    text = CliRunner().invoke(cli, ["show", "HEAD:events"]).output
    assert "partitions year (int32, 2 value(s))" in text
