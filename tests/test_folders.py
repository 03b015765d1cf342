"""Folder datasets as Spark, Hive and pandas leave them: which files count, a folder emptied,
files whose schemas differ (the dataset has their union), statistics merged over files, and
exporting a folder onto a file. Real Parquet files in tmp_path; the CLI through CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from datakeep.api import Repo
from datakeep.cli import cli
from tests.conftest import write


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_error_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and " — " in lines[0], result.output
    return lines[0]


# -- which files make up a folder ---------------------------------------------------------------


def hive_folder(root: Path) -> Path:
    """A folder as Spark and Hive write it: part files under partition folders, plus bookkeeping."""
    folder = root / "events"
    write(folder / "year=2023" / "part-0.parquet", pa.table({"id": [1, 2], "v": ["a", "b"]}))
    write(folder / "year=2023" / "part-1.parquet", pa.table({"id": [3], "v": ["c"]}))
    write(folder / "year=2024" / "part-0.parquet", pa.table({"id": [4, 5], "v": [None, "e"]}))
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / ".part-0.parquet.crc").write_bytes(b"crc")
    write(folder / "_temporary" / "part-9.parquet", pa.table({"id": [9], "v": ["z"]}))
    (folder / "README").write_text("not data")
    return folder


def test_a_folder_of_parquet_files_keeps_its_files_and_id(repo: Repo, project: Path) -> None:
    """Pinned: the id this folder got before other names were accepted (computed with that code),
    so accepting more names changes no existing snapshot."""
    repo.add(hive_folder(project), name="events", key=["id"])
    repo.commit(message="v1")
    manifest = repo.manifest("events")
    assert [f.path for f in manifest.files] == [
        "year=2023/part-0.parquet",
        "year=2023/part-1.parquet",
        "year=2024/part-0.parquet",
    ]
    assert manifest.id == "6d567a98d5ac56052cf3070cd2823580"


def test_every_parquet_name_counts_and_nothing_else(project: Path) -> None:
    table = pa.table({"id": list(range(10))})
    folder = project / "f"
    for name in ["a.parquet", "b.PARQUET", "c.pq", "d.Parq", "000000_0", "sub/000001_0"]:
        write(folder / name, table)
    (folder / "_SUCCESS").write_bytes(b"")
    (folder / "_metadata").write_bytes(b"PAR1 not read: underscored")
    (folder / "_common_metadata").write_bytes(b"PAR1")
    (folder / ".a.parquet.crc").write_bytes(b"crc")
    (folder / "a.parquet.crc").write_bytes(b"crc")
    (folder / "notes.txt").write_text("PAR1 but a .txt")
    (folder / "LICENSE").write_text("extensionless, not Parquet")
    (folder / "empty").write_bytes(b"")
    assert run("init").exit_code == 0
    assert run("add", "f", "--name", "f").exit_code == 0
    assert run("commit", "-m", "v1").exit_code == 0
    shown = json.loads(run("show", "HEAD:f", "--json").output)
    assert [f["path"] for f in shown["files"]] == [
        "000000_0",
        "a.parquet",
        "b.PARQUET",
        "c.pq",
        "d.Parq",
        "sub/000001_0",
    ]
    assert shown["rows"] == 60

    assert run("checkout", "HEAD", "--name", "f", "-o", "out").exit_code == 0
    restored = sorted(p.relative_to(project / "out").as_posix() for p in (project / "out").rglob("*") if p.is_file())
    assert restored == ["000000_0", "a.parquet", "b.PARQUET", "c.pq", "d.Parq", "sub/000001_0"]
    assert pq.read_table(project / "out" / "000000_0").equals(table)


def test_checkout_removes_part_files_of_any_name_the_version_lacks(repo: Repo, project: Path) -> None:
    folder = project / "f"
    write(folder / "a.parquet", pa.table({"id": [1]}))
    repo.add(folder, name="f")
    first = repo.commit(message="one file").id
    write(folder / "b.pq", pa.table({"id": [2]}))
    write(folder / "000000_0", pa.table({"id": [3]}))
    assert [s.state for s in repo.status()] == ["modified"]
    repo.commit(message="three files")
    repo.checkout(first)
    assert sorted(p.name for p in folder.iterdir()) == ["a.parquet"]
    assert [s.state for s in repo.status()] == ["unchanged"]


def test_a_folder_with_only_bookkeeping_files_is_refused_at_add(project: Path) -> None:
    (project / "out").mkdir()
    (project / "out" / "_SUCCESS").write_bytes(b"")
    (project / "out" / "data.csv").write_text("a\n1\n")
    run("init")
    result = run("add", "out", "--name", "out")
    assert result.exit_code == 2
    assert "folder out holds no Parquet files (*.parquet, *.pq, *.parq" in one_error_line(result)


# -- a folder emptied after it was committed ----------------------------------------------------


@pytest.fixture
def emptied(project: Path) -> Path:
    write(project / "events" / "part-0.parquet", pa.table({"id": [1, 2]}))
    write(project / "users.parquet", pa.table({"id": [1, 2]}))
    run("init")
    run("add", "events", "--name", "events")
    run("add", "users.parquet", "--name", "users")
    assert run("commit", "-m", "v1").exit_code == 0
    (project / "events" / "part-0.parquet").unlink()
    (project / "events" / "_SUCCESS").write_bytes(b"")
    return project


def test_an_emptied_folder_is_missing_and_the_others_still_show(emptied: Path) -> None:
    result = run("status")
    assert result.exit_code == 0, result.output
    assert "missing    events               events (no Parquet files)" in result.output
    assert "unchanged  users" in result.output
    rows = {r["name"]: r for r in json.loads(run("status", "--json").output)}
    assert rows["events"]["state"] == "missing" and rows["events"]["note"] == "no Parquet files"
    assert rows["users"] == {"name": "users", "path": "users.parquet", "state": "unchanged", **_ids(rows["users"])}


def _ids(row: dict[str, str]) -> dict[str, str]:
    return {"head": row["head"], "working": row["working"]}


def test_an_emptied_folder_diffs_as_removed_and_refuses_a_commit(emptied: Path) -> None:
    result = run("diff", "--json")
    assert result.exit_code == 0, result.output
    statuses = {d["name"]: d["status"] for d in json.loads(result.output)["datasets"]}
    assert statuses == {"events": "removed", "users": "identical"}
    commit = run("commit", "-m", "v2")
    assert commit.exit_code == 2
    line = one_error_line(commit)
    assert "dataset 'events': folder events holds no Parquet files" in line
    assert "datakeep checkout HEAD --name events" in line and "datakeep rm events" in line


def test_an_emptied_folder_is_restored_by_checkout(emptied: Path) -> None:
    assert run("checkout", "HEAD", "--name", "events").exit_code == 0
    assert pq.read_table(emptied / "events" / "part-0.parquet").column("id").to_pylist() == [1, 2]
    assert "missing" not in run("status").output
