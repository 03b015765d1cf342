"""Folder datasets as Spark, Hive and pandas leave them: which files count, a folder emptied,
files whose schemas differ (the dataset has their union), statistics merged over files, and
exporting a folder onto a file. Real Parquet files in tmp_path; the CLI through CliRunner."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from datakeep import stats
from datakeep.api import Repo
from datakeep.checkout import CheckoutResult
from datakeep.cli import cli
from datakeep.diff import diff_files
from datakeep.errors import DatasetError, UsageError
from tests.conftest import make_table, write


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


@pytest.mark.parametrize(
    ("encoding", "pinned"), [(1, "6d567a98d5ac56052cf3070cd2823580"), (2, "6bde68c9ee11dbc5403100f65b9ee59f")]
)
def test_a_folder_of_parquet_files_keeps_its_files_and_id(project: Path, encoding: int, pinned: str) -> None:
    """Pinned: the id this folder got before other names were accepted (computed with that code),
    so accepting more names changes no existing snapshot, in either encoding."""
    repo = Repo.init(project, encoding=encoding)
    repo.add(hive_folder(project), name="events", key=["id"])
    repo.commit(message="v1")
    manifest = repo.manifest("events")
    assert [f.path for f in manifest.files] == [
        "year=2023/part-0.parquet",
        "year=2023/part-1.parquet",
        "year=2024/part-0.parquet",
    ]
    assert manifest.id == pinned


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
    result = repo.checkout(first)
    assert sorted(p.name for p in folder.iterdir()) == ["a.parquet"]
    assert [s.state for s in repo.status()] == ["unchanged"]
    assert isinstance(result, CheckoutResult)
    assert sorted(result.removed["f"]) == ["f/000000_0", "f/b.pq"]


def test_checkout_that_only_removes_part_files_says_so(project: Path) -> None:
    folder = project / "events"
    for day in (1, 2):
        part = write(folder / f"day={day}" / "part-0.parquet", pa.table({"id": [day]}))
        past = part.stat().st_mtime - 10  # old enough for the index to trust its stat
        os.utime(part, (past, past))
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["add", "events", "--name", "events"]).exit_code == 0
    assert runner.invoke(cli, ["commit", "-m", "two days"]).exit_code == 0
    (folder / "day=2" / "part-0.parquet").unlink()
    assert runner.invoke(cli, ["commit", "-m", "one day"]).exit_code == 0
    write(folder / "day=2" / "part-0.parquet", pa.table({"id": [2]}))  # back, uncommitted
    result = runner.invoke(cli, ["checkout", "HEAD", "--force"])
    assert result.exit_code == 0, result.output
    assert "restored events: removed events/day=2/part-0.parquet" in result.output
    assert not (folder / "day=2" / "part-0.parquet").exists()
    # The partition folder it emptied goes too, as git removes emptied folders; the dataset's stays.
    assert not (folder / "day=2").exists() and (folder / "day=1" / "part-0.parquet").exists()


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


def test_a_file_cut_short_is_its_own_status_and_the_others_still_show(emptied: Path) -> None:
    users = emptied / "users.parquet"
    whole = users.read_bytes()
    users.write_bytes(whole[: len(whole) // 2])
    result = run("status")
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if " users " in line]
    assert line.startswith("  modified   users") and "unreadable: " in line and "is truncated" in line
    assert "`datakeep checkout HEAD --name users --force` restores the committed version" in line
    assert "missing    events" in result.output
    rows = {r["name"]: r for r in json.loads(run("status", "--json").output)}
    assert rows["users"]["state"] == "modified" and rows["users"]["working"] is None
    assert run("checkout", "HEAD", "--name", "users", "--force").exit_code == 0
    assert pq.read_table(users).equals(pa.table({"id": [1, 2]}))


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


# -- files whose schemas differ -----------------------------------------------------------------


@pytest.fixture
def evolving(project: Path) -> Path:
    """part-1 has a column part-0 lacks: a newer partition of an evolving table."""
    write(project / "data" / "part-0.parquet", pa.table({"id": [1, 2], "v": [1.0, 2.0]}))
    write(project / "data" / "part-1.parquet", pa.table({"id": [3, 4], "v": [3.0, 4.0], "extra": ["a", "b"]}))
    run("init")
    assert run("add", "data", "--name", "d", "--key", "id").exit_code == 0
    assert run("commit", "-m", "v1").exit_code == 0
    return project


def test_the_columns_are_the_union_and_each_file_restores_as_it_was(evolving: Path) -> None:
    shown = json.loads(run("show", "HEAD:d", "--json").output)
    assert shown["columns"] == [
        {"name": "id", "type": "int64", "nullable": True},
        {"name": "v", "type": "double", "nullable": True},
        {"name": "extra", "type": "string", "nullable": True},
    ]
    extra = shown["stats"]["extra"]
    assert (extra["count"], extra["nulls"], extra["distinct"], extra["distinct_exact"]) == (4, 2, 2, True)
    table = Repo.open(evolving).read("d")
    assert table.column_names == ["id", "v", "extra"]
    assert table.column("extra").to_pylist() == [None, None, "a", "b"]
    # A projection: only files holding a column decode it, the others give nulls.
    picked = Repo.open(evolving).read("d", columns=["extra", "id"])
    assert picked.equals(table.select(["extra", "id"]))
    assert run("checkout", "HEAD", "--name", "d", "-o", "copy").exit_code == 0
    assert pq.read_table(evolving / "copy" / "part-0.parquet").column_names == ["id", "v"]


def test_a_change_in_a_column_only_some_files_have_is_a_change(evolving: Path) -> None:
    write(evolving / "data" / "part-1.parquet", pa.table({"id": [3, 4], "v": [3.0, 4.0], "extra": ["a", "CHANGED"]}))
    working = run("diff", "--json")
    assert working.exit_code == 0, working.output
    assert run("commit", "-m", "v2").exit_code == 0
    result = run("diff", "HEAD~1", "HEAD", "--exit-code")
    assert result.exit_code == 1, result.output
    assert "~1 modified" in result.output and "extra: 'b' → 'CHANGED'" in result.output
    for report in (json.loads(working.output), json.loads(run("diff", "HEAD~1", "HEAD", "--json").output)):
        (dataset,) = report["datasets"]
        assert dataset["rows"]["modified"] == 1
        assert {name: c["modified"] for name, c in dataset["columns"].items()} == {"id": 0, "v": 0, "extra": 1}
    assert "1 modified" in run("log", "--stat", "-n", "1").output


def test_files_retyped_reordered_and_added_diff_without_crashing(evolving: Path) -> None:
    """The sweep's case: part-1 rewritten with v as int64 and columns reordered, and a part-2 with
    an int32 id and a column of its own."""
    write(
        evolving / "data" / "part-1.parquet",
        pa.table({"v": pa.array([3, 4], pa.int64()), "id": [3, 4], "extra": ["a", "c"]}),
    )
    write(evolving / "data" / "part-2.parquet", pa.table({"id": pa.array([5], pa.int32()), "w": [True]}))
    working = run("diff")
    assert working.exit_code == 0, working.output
    assert run("commit", "-m", "v2").exit_code == 0
    committed = run("diff", "HEAD~1", "HEAD")
    for out in (working.output, committed.output):
        assert "+1 added, -0 removed, ~1 modified, 3 unchanged" in out
        assert "schema   + w" in out
        assert "note: file part-1.parquet: v double → int64, columns reordered" in out
    table = Repo.open(evolving).read("d")
    assert table.schema.field("v").type == pa.float64() and table.schema.field("id").type == pa.int64()
    assert table.column("v").to_pylist() == [1.0, 2.0, 3.0, 4.0, None]
    assert pq.read_table(evolving / "data" / "part-1.parquet").schema.field("v").type == pa.int64()


def test_a_file_retyping_a_column_alone_is_still_a_change(evolving: Path) -> None:
    """Same values once read as the union, but the file's content changed: ids differ, so must the
    diff's answer."""
    write(
        evolving / "data" / "part-1.parquet",
        pa.table({"id": [3, 4], "v": pa.array([3.0, 4.0], pa.float32()), "extra": ["a", "b"]}),
    )
    run("commit", "-m", "v2")
    result = run("diff", "HEAD~1", "HEAD", "--exit-code")
    assert result.exit_code == 1
    assert "note: file part-1.parquet: v double → float" in result.output


def test_a_column_typed_two_irreconcilable_ways_is_refused(evolving: Path) -> None:
    write(evolving / "data" / "part-2.parquet", pa.table({"id": [5], "v": ["five"]}))
    commit = run("commit", "-m", "v2")
    assert commit.exit_code == 2
    line = one_error_line(commit)
    assert "dataset 'd': column 'v' is double in part-0.parquet but string in part-2.parquet" in line
    write(evolving / "other" / "a.parquet", pa.table({"k": [1]}))
    write(evolving / "other" / "b.parquet", pa.table({"k": ["1"]}))
    add = run("add", "other", "--name", "other")
    assert add.exit_code == 2
    assert "column 'k' is int64 in a.parquet but string in b.parquet" in one_error_line(add)
    assert "other" not in run("status").output
    assert run("diff").exit_code == 2  # the working tree cannot be read as one table either


def test_union_schema_errors_name_both_files() -> None:
    from datakeep.unify import union_schema

    schemas = [("a", pa.schema([("x", pa.int32())])), ("b", pa.schema([("x", pa.int64()), ("y", pa.bool_())]))]
    union = union_schema(schemas, "dataset 'd'")
    assert union == pa.schema([pa.field("x", pa.int64()), pa.field("y", pa.bool_())])
    with pytest.raises(DatasetError, match="column 'x' is int32 in a but bool in c"):
        union_schema([*schemas, ("c", pa.schema([("x", pa.bool_())]))], "dataset 'd'")


def test_union_diff_reads_patched_chunks_by_their_own_files_columns(repo: Repo, project: Path) -> None:
    """Files of many chunks, the second with its columns in another order and one more column;
    an edit there is stored as a row-level patch, which must be read with that file's layout."""
    first = make_table(20000, seed=1)
    second = make_table(20000, seed=2, start_id=10**6)
    second = second.select(list(reversed(second.column_names))).append_column("batch", pa.array(["b"] * 20000))
    write(project / "d" / "part-0.parquet", first)
    write(project / "d" / "part-1.parquet", second)
    repo.add(project / "d", name="d", key=["id"])
    repo.commit(message="v1")
    edited = second.to_pandas()
    edited.loc[[10, 500, 9000], "amount"] = -1.0
    edited.loc[[20, 21], "batch"] = "c"
    write(project / "d" / "part-1.parquet", pa.Table.from_pandas(edited, schema=second.schema, preserve_index=False))
    repo.commit(message="v2")
    assert any(c.depth for c in repo.manifest("d").chunks), "expected a row-level patch"
    dataset = repo.diff("HEAD~1", "HEAD").datasets[0]
    assert (dataset.rows.added, dataset.rows.removed, dataset.rows.modified) == (0, 0, 5)
    cells = {c.name: c.modified for c in dataset.columns}
    assert cells["amount"] == 3 and cells["batch"] == 2 and sum(cells.values()) == 5
    table = repo.read("d")
    assert table.column_names == [*first.column_names, "batch"]
    assert table.num_rows == 40000 and table.column("batch").null_count == 20000


def test_plain_folders_diffed_directly_use_the_union_too(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    for folder, tag in ((old, "x"), (new, "y")):
        write(folder / "a.pq", pa.table({"id": [1, 2], "v": [1, 2]}))
        write(folder / "000000_0", pa.table({"id": [3], "tag": [tag]}))
    dataset = diff_files(old, new, key="id").datasets[0]
    # First-seen order over the files in path order: 000000_0 comes before a.pq.
    assert [c.name for c in dataset.columns] == ["id", "tag", "v"]
    assert dataset.rows.modified == 1 and dataset.column("tag").modified == 1


# -- statistics merged over files ---------------------------------------------------------------


def test_distinct_over_files_is_the_union_when_it_is_known(repo: Repo, project: Path) -> None:
    for i, country in enumerate(["DE", "FR", "NL"]):
        ids = list(range(i * 100, i * 100 + 100))
        write(project / "sales" / f"part-{i}.parquet", pa.table({"id": ids, "country": [country] * 100}))
    repo.add(project / "sales", name="sales", key=["id"])
    repo.commit(message="v1")
    merged = repo.manifest("sales").stats
    assert (merged["country"]["distinct"], merged["country"]["distinct_exact"]) == (3, True)
    assert merged["country"]["top"] == [["DE", 100], ["FR", 100], ["NL", 100]]
    # 100 values a file: top lists are cut at 20, but the ranges do not overlap, so they add up.
    assert (merged["id"]["distinct"], merged["id"]["distinct_exact"]) == (300, True)
    show = run("show", "HEAD:sales").output
    assert "~" not in show.split("distinct")[1]


def _file(values: list[object], data_type: pa.DataType) -> dict[str, object]:
    table = pa.table({"c": pa.array(values, data_type)})
    acc = stats.TableStats(table.schema)
    acc.update(table)
    return acc.finish()


def test_merged_distinct_is_exact_only_when_the_files_prove_it() -> None:
    union = pa.schema([pa.field("c", pa.int64())])

    def merged(*files: list[object]) -> tuple[int, bool]:
        parts = [_file(values, pa.int64()) for values in files]
        out = stats.merge(parts, union=union, rows=[len(v) for v in files])["c"]
        return out["distinct"], out["distinct_exact"]

    assert merged([1, 2, 2], [2, 3]) == (3, True)  # small files: every value is in a top list
    assert merged(list(range(30)), list(range(30, 70))) == (70, True)  # disjoint ranges add up
    # Overlapping ranges of more values than a top list holds: a lower bound, never called exact.
    # Each file's top list holds its 20 smallest values (all counts tie): 0-19 and 15-34 name 35.
    assert merged(list(range(30)), list(range(15, 45))) == (35, False)
    assert merged([None, None], [1]) == (1, True)
    floats = [_file([float(v) for v in range(30)], pa.float64()), _file([30.0 + v for v in range(30)], pa.float64())]
    out = stats.merge(floats, union=pa.schema([pa.field("c", pa.float64())]), rows=[30, 30])["c"]
    assert out["distinct_exact"] is False  # a NaN would be in no range: floats prove nothing


def test_a_file_without_a_column_counts_as_its_nulls() -> None:
    union = pa.schema([pa.field("a", pa.int64()), pa.field("b", pa.string())])
    with_b = stats.TableStats(union)
    with_b.update(pa.table({"a": [1, 2], "b": ["x", None]}))
    without_b = stats.TableStats(pa.schema([union.field("a")]))
    without_b.update(pa.table({"a": [3, 4, 5]}))
    merged = stats.merge([with_b.finish(), without_b.finish()], union=union, rows=[2, 3])
    assert (merged["b"]["count"], merged["b"]["nulls"], merged["b"]["distinct"]) == (5, 4, 1)
    assert merged["b"]["distinct_exact"] is True


# -- exporting a folder ---------------------------------------------------------------------------


def test_exporting_a_folder_onto_a_file_says_so(project: Path) -> None:
    write(project / "f" / "part-0.parquet", pa.table({"id": [1]}))
    run("init")
    run("add", "f", "--name", "f")
    run("commit", "-m", "f")
    (project / "existing.parquet").write_bytes(b"keep me")
    result = run("checkout", "HEAD", "--name", "f", "-o", "existing.parquet")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "existing.parquet exists and is a file, but dataset 'f' is a folder" in line and "another -o" in line
    assert (project / "existing.parquet").read_bytes() == b"keep me"
    (project / "blocked" / "part-0.parquet").mkdir(parents=True)
    result = run("checkout", "HEAD", "--name", "f", "-o", "blocked")
    assert result.exit_code == 2
    assert "blocked/part-0.parquet is in the way" in one_error_line(result)


def test_an_entity_folder_validates_every_part_file_it_is_made_of(project: Path) -> None:
    """Validation at commit reads each file of the dataset, extensionless Hive part files too."""
    import shutil

    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "schemas", project / "schemas")
    shutil.copy(root / "datakeep.yaml", project / "datakeep.yaml")
    good = pq.read_table(root / "sample_data" / "incoming" / "legacy_export.parquet").slice(0, 5)
    write(project / "customers" / "000000_0", good.slice(0, 2))
    write(project / "customers" / "000001_0.parq", good.slice(2))
    repo = Repo.init(project)
    repo.add(project / "customers", name="customers", entity="customers", source="legacy")
    repo.commit(message="five good rows in two part files")
    manifest = repo.manifest("customers")
    assert [f.path for f in manifest.files] == ["000000_0", "000001_0.parq"]
    assert manifest.validated is not None and manifest.validated["entity"] == "customers"


def test_checkout_rewrites_only_the_part_files_that_differ(repo: Repo, project: Path) -> None:
    folder = project / "events"
    parts = [
        write(folder / f"date=2024-01-0{day}" / "part-0.parquet", pa.table({"id": [day, day * 10]}))
        for day in (1, 2, 3)
    ]
    for part in parts:
        past = part.stat().st_mtime - 10  # old enough for the index to trust its stat
        os.utime(part, (past, past))
    repo.add(folder, name="events")
    first = repo.commit(message="three days").id
    write(parts[1], pa.table({"id": [2, 21]}))
    repo.commit(message="day 2 corrected")
    untouched = {part: part.stat().st_ino for part in (parts[0], parts[2])}

    result = repo.checkout(first)
    assert isinstance(result, CheckoutResult)
    assert result.written == {"events": ["events/date=2024-01-02/part-0.parquet"]}
    assert {part: part.stat().st_ino for part in untouched} == untouched
    assert pq.read_table(parts[1]).column("id").to_pylist() == [2, 20]
    assert [s.state for s in repo.status()] == ["unchanged"]


def test_read_with_partitions_gives_hive_values_as_pyarrow_dataset_does(project: Path) -> None:
    import pyarrow.dataset as ds

    folder = project / "sales"
    write(folder / "year=2024" / "m=01" / "c=a%20b" / "p.parquet", pa.table({"v": [1, 2]}))
    write(folder / "year=2025" / "m=x" / "c=__HIVE_DEFAULT_PARTITION__" / "p.parquet", pa.table({"v": [3]}))
    write(folder / "year=2026" / "m=07" / "c=z" / "p.parquet", pa.table({"v": [4]}))
    repo = Repo.init(project)
    repo.add(folder, name="sales")
    repo.commit(message="v1")
    assert repo.read("sales").column_names == ["v"]  # the files' rows, as they hold them
    read = repo.read("sales", partitions=True)
    expected = ds.dataset(folder, partitioning="hive").to_table()
    assert read.schema.names == ["v", "year", "m", "c"]
    assert read.select(expected.schema.names).equals(expected)  # int32 year; m stays text ('x')
    assert read.column("c").to_pylist() == ["a b", "a b", None, "z"]
    picked = repo.read("sales", columns=["c", "v"], partitions=True)
    assert picked.equals(read.select(["c", "v"]))
    with pytest.raises(UsageError, match=r"no column 'year'.*\(it has: v\)"):
        repo.read("sales", columns=["year"])  # a partition value only with partitions=True
    with pytest.raises(UsageError, match="asked for twice"):
        repo.read("sales", columns=["v", "v"])


def test_a_column_a_file_holds_wins_over_its_partition_value(project: Path) -> None:
    folder = project / "events"
    write(folder / "day=1" / "p.parquet", pa.table({"day": ["monday"], "n": [1]}))
    write(folder / "day=2" / "p.parquet", pa.table({"day": ["tuesday"], "n": [2]}))
    repo = Repo.init(project)
    repo.add(folder, name="events")
    repo.commit(message="v1")
    assert repo.read("events", partitions=True).to_pydict() == {"day": ["monday", "tuesday"], "n": [1, 2]}


def test_a_partition_key_one_file_holds_as_a_column_is_that_column_for_every_file(repo: Repo, project: Path) -> None:
    """docs/format.md: a key any file holds itself is a column, null in the files without it."""
    root = project / "ds"
    write(root / "region=north%2Fwest" / "a.parquet", pa.table({"id": [1, 2]}))
    write(root / "region=east" / "c.parquet", pa.table({"id": [4], "region": ["own"]}))
    repo.add(root, name="ds")
    repo.commit(message="c")
    table = repo.read("ds", partitions=True)
    rows = sorted(zip(table.column("id").to_pylist(), table.column("region").to_pylist(), strict=True))
    assert rows == [(1, None), (2, None), (4, "own")]


def test_a_clean_status_does_not_load_the_manifest_again(tmp_path: Path) -> None:
    """Checking that a dataset is tracked as HEAD defines it loaded HEAD's manifest, which lists
    every part file with its statistics (5,000 files: 100 MB and most of a clean status). Once
    found equal, the index remembers it; a changed definition is still said."""
    from datakeep.store.local import LocalStore

    reads: list[str] = []

    class Counting(LocalStore):
        def get(self, oid):  # type: ignore[no-untyped-def]
            reads.append(oid)
            return super().get(oid)

    for i in range(3):
        pq.write_table(pa.table({"id": [i], "v": [float(i)]}), _part(tmp_path / "events", f"p{i}.parquet"))
    repo = Repo.init(tmp_path)
    repo.add(tmp_path / "events", name="events", key=["id"])
    repo.commit(message="three parts")
    manifest = repo.log()[0][1].datasets["events"].manifest

    def status() -> list[str]:
        fresh = Repo.open(tmp_path)
        assert fresh.repository.config
        fresh.repository._store = Counting(fresh.repository.dk / "objects", durable=False)
        reads.clear()
        states = [s.state for s in fresh.status()]
        return states

    assert status() == ["unchanged"]
    assert status() == ["unchanged"] and manifest not in reads
    repo.add(tmp_path / "events", name="events", key=["id", "v"])  # another key: a change to say
    states = status()
    assert states == ["modified"] and manifest in reads


def _part(folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name
