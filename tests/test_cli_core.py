"""The core commands through click's CliRunner: exit codes and messages, as a user sees them."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.repo import Repository
from tests.conftest import make_table, write


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def initialized(project: Path) -> Path:
    assert run("init").exit_code == 0
    write(project / "data" / "flights.parquet", make_table(5000))
    return project


def test_full_session(initialized: Path) -> None:
    project = initialized
    added = run("add", "data/flights.parquet", "--name", "flights", "--key", "id")
    assert added.exit_code == 0, added.output
    assert "new" in run("status").output
    first = run("commit", "-m", "january load")
    assert first.exit_code == 0
    first_id = first.output.strip().splitlines()[-1]
    assert len(first_id) == 32
    table = pq.read_table(project / "data" / "flights.parquet")
    pq.write_table(
        pa.concat_tables([table, make_table(50, seed=3, start_id=10**6)]), project / "data" / "flights.parquet"
    )
    assert "modified" in run("status").output
    second = json.loads(run("commit", "-m", "february load", "--json").output)
    assert run("tag", "v1", first_id[:8]).exit_code == 0

    log = json.loads(run("log", "--json").output)
    assert [entry["id"] for entry in log] == [second["id"], first_id]
    assert log[0]["parents"] == [first_id]
    assert set(log[0]) >= {"id", "message", "parents", "time", "datasets"}
    assert log[1]["message"] == "january load"

    snapshot = json.loads(run("show", "v1:flights", "--json").output)
    assert snapshot["rows"] == 5000
    assert snapshot["columns"][0] == {"name": "id", "type": "int64", "nullable": True}
    assert snapshot["chunks"] and snapshot["id"] == log[1]["datasets"]["flights"]

    restored = run("checkout", "v1", "--name", "flights", "-o", "old.parquet")
    assert restored.exit_code == 0
    assert pq.read_table(project / "old.parquet").equals(table)
    assert "rows" in run("log", "--stat").output
    assert "january load" in run("show", "HEAD~1").output


def test_checkout_refuses_to_overwrite_uncommitted_changes(initialized: Path) -> None:
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "one")
    run("tag", "v1")
    pq.write_table(make_table(10), initialized / "data" / "flights.parquet")
    refused = run("checkout", "v1")
    assert refused.exit_code == 2
    assert "uncommitted changes in flights" in refused.output and "--force" in refused.output
    forced = run("checkout", "v1", "--force")
    assert forced.exit_code == 0
    assert pq.read_table(initialized / "data" / "flights.parquet").num_rows == 5000
    assert "unchanged" in run("status").output


def test_a_committed_version_in_the_working_tree_is_no_uncommitted_change(initialized: Path) -> None:
    """After `checkout v1 --name flights` the tree holds v1, which the store keeps: going back
    to main loses nothing, and "commit them first" would have recorded a revert."""
    data = initialized / "data" / "flights.parquet"
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "one")
    run("tag", "v1")
    pq.write_table(make_table(7), data)
    run("commit", "-m", "two")
    assert run("checkout", "v1", "--name", "flights").exit_code == 0
    assert "modified" in run("status").output  # against HEAD it is a change, truly
    back = run("checkout", "main", "--name", "flights")
    assert back.exit_code == 0, back.output
    assert pq.read_table(data).num_rows == 7
    pq.write_table(make_table(9), data)  # a version no commit holds is still refused
    assert run("checkout", "v1", "--name", "flights").exit_code == 2


def test_moving_the_current_branch_back_untracks_a_dataset_added_since(initialized: Path) -> None:
    """`branch -f main OLD` left a dataset added after OLD tracked as new, and the next commit
    added it back: it is untracked, as a switch to a commit without it does (its file stays)."""
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "one")
    old = json.loads(run("log", "--json").output)[0]["id"]
    pq.write_table(make_table(3), initialized / "data" / "extra.parquet")
    run("add", "data/extra.parquet", "--name", "extra")
    run("commit", "-m", "two")
    moved = run("branch", "-f", "main", old)
    assert moved.exit_code == 0, moved.output
    assert "extra" not in run("status").output
    assert (initialized / "data" / "extra.parquet").exists()  # the data itself is not deleted
    assert run("commit", "-m", "nothing").exit_code == 1  # nothing comes back


def test_branches_and_switch(initialized: Path) -> None:
    data = initialized / "data" / "flights.parquet"
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "base")
    assert run("branch", "experiment").exit_code == 0
    assert run("switch", "experiment").exit_code == 0
    pq.write_table(make_table(7), data)
    run("commit", "-m", "on experiment")
    assert run("switch", "main").exit_code == 0
    assert pq.read_table(data).num_rows == 5000
    assert "* main" in run("branch").output
    run("switch", "experiment")
    assert pq.read_table(data).num_rows == 7


def test_deleting_a_branch_keeps_commits_no_other_ref_holds(initialized: Path) -> None:
    """As `git branch -d`: a branch whose commits only it holds is refused, -D deletes it."""
    data = initialized / "data" / "flights.parquet"
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "base")
    run("branch", "experiment")
    run("switch", "experiment")
    pq.write_table(make_table(7), data)
    run("commit", "-m", "on experiment")
    run("switch", "main")
    refused = CliRunner().invoke(cli, ["branch", "-d", "experiment"])
    assert refused.exit_code == 2 and "holds commits no other branch or tag holds" in refused.output
    assert "experiment" in run("branch").output
    # Two dots: the two revisions; three: what experiment's line changed since they parted.
    for spec in ("main..experiment", "main...experiment"):
        ranged = CliRunner().invoke(cli, ["diff", spec, "--json"])
        assert ranged.exit_code == 0, ranged.output
        assert json.loads(ranged.output)["datasets"][0]["rows"]["to"] == 7
    # The merge base heads the text report by its short id, as `log` prints it.
    base = json.loads(run("log", "main", "--json").output)[0]["id"]
    header = run("diff", "main...experiment").output.splitlines()[0]
    assert header == f"diff {base[:10]} → experiment"
    run("tag", "kept", "experiment")
    assert run("branch", "-d", "experiment").exit_code == 0  # the tag holds its commit now
    run("branch", "scratch", "kept")
    run("tag", "-d", "kept")
    assert run("branch", "-D", "scratch").exit_code == 0
    assert set(json.loads(run("branch", "--json").output)) == {"main"}


def test_a_branch_cannot_be_named_as_a_folder_of_another(initialized: Path) -> None:
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "base")
    assert run("branch", "feature/x").exit_code == 0
    clash = CliRunner().invoke(cli, ["branch", "feature"])
    assert clash.exit_code == 2 and "cannot exist beside branch 'feature/x'" in clash.output
    assert run("branch", "-d", "feature/x").exit_code == 0
    assert run("branch", "feature").exit_code == 0  # the folder went with the branch
    clash = CliRunner().invoke(cli, ["branch", "feature/y/z"])
    assert clash.exit_code == 2 and "cannot exist beside branch 'feature'" in clash.output


def test_checkout_head_keeps_head_on_its_branch(initialized: Path) -> None:
    # Restoring the current commit must not detach HEAD: the next commit would move no branch
    # and a later gc would delete it.
    data = initialized / "data" / "flights.parquet"
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "one")
    pq.write_table(make_table(10), data)
    assert run("checkout", "HEAD", "--force").exit_code == 0
    assert pq.read_table(data).num_rows == 5000
    assert (initialized / ".datakeep" / "HEAD").read_text().strip() == "ref: refs/heads/main"
    pq.write_table(make_table(20), data)
    second = run("commit", "-m", "two").output.strip().splitlines()[-1]
    assert json.loads(run("log", "main", "--json").output)[0]["id"] == second
    assert run("gc").exit_code == 0
    assert run("show", second).exit_code == 0


def test_checkout_and_switch_take_the_branch_when_a_tag_has_its_name(initialized: Path) -> None:
    data = initialized / "data" / "flights.parquet"
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "tagged")
    run("tag", "release")
    pq.write_table(make_table(7), data)
    run("commit", "-m", "branched")
    made = CliRunner().invoke(cli, ["branch", "release"])
    assert made.exit_code == 0
    assert "warning: a tag named 'release' exists too" in made.output
    run("switch", "main")
    assert run("switch", "release").exit_code == 0
    assert pq.read_table(data).num_rows == 7
    assert "* release" in run("branch").output
    assert run("checkout", "main").exit_code == 0
    assert run("checkout", "release").output.strip().endswith("switched to branch release")
    # The name alone, elsewhere, means the tag, as in git.
    assert json.loads(run("show", "release:flights", "--json").output)["rows"] == 5000


def test_an_export_never_writes_into_the_store_or_over_uncommitted_changes(initialized: Path) -> None:
    data = initialized / "data" / "flights.parquet"
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "one")
    into_store = run("checkout", "HEAD", "--name", "flights", "-o", ".datakeep/HEAD")
    assert into_store.exit_code == 2
    assert "inside the repository's store" in into_store.output
    assert run("fsck").exit_code == 0
    pq.write_table(make_table(10), data)
    refused = run("checkout", "HEAD", "--name", "flights", "-o", "data/flights.parquet")
    assert refused.exit_code == 2
    assert "uncommitted changes in flights" in refused.output
    assert pq.read_table(data).num_rows == 10
    forced = run("checkout", "HEAD", "--name", "flights", "-o", "data/flights.parquet", "--force")
    assert forced.exit_code == 0
    assert pq.read_table(data).num_rows == 5000
    assert run("checkout", "HEAD", "--name", "flights", "-o", "elsewhere.parquet").exit_code == 0


def test_unexpected_failures_are_one_line_errors_with_exit_2(initialized: Path) -> None:
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "one")
    too_long = "x" * 300 + ".parquet"  # no file system here takes a 308-byte name
    failed = CliRunner().invoke(cli, ["checkout", "HEAD", "--name", "flights", "-o", too_long])
    assert failed.exit_code == 2
    assert failed.output.startswith("error: File name too long") and "check the path" in failed.output
    assert len(failed.output.strip().splitlines()) == 1
    missing_folder = CliRunner().invoke(cli, ["-C", "no/such/folder", "status"])
    assert missing_folder.exit_code == 2 and "does not exist" in missing_folder.output


def test_commit_keeps_times_beyond_pythons_datetime(initialized: Path) -> None:
    # Microsecond epochs stored as milliseconds land in year 55,800.
    table = pa.table(
        {
            "ts": pa.array([1_700_000_000_000_000, 1_700_000_000_000, None], pa.timestamp("ms")),
            "day": pa.array([-(2**31), 0, 2**31 - 1], pa.date32()),
        }
    )
    pq.write_table(table, initialized / "far.parquet")
    run("add", "far.parquet", "--name", "far")
    assert run("commit", "-m", "far").exit_code == 0
    shown = json.loads(run("show", "HEAD:far", "--json").output)
    assert shown["rows"] == 3
    assert run("checkout", "HEAD", "--name", "far", "-o", "back.parquet").exit_code == 0
    assert pq.read_table(initialized / "back.parquet").equals(table)


def test_show_writes_statistics_of_times_beyond_pythons_datetime(initialized: Path) -> None:
    """One date past year 9999 (a typo year, a sentinel) once left its column with no range and
    no counts, hiding the very value they would show: such values are ISO text with the year
    extended, ordered as the times they are, in a file and over a folder's files."""
    far_day = 2_932_897 + 366  # 10001-01-01 in days since 1970 (10000 is a leap year)
    table = pa.table(
        {
            "day": pa.array([19_723, far_day, 19_723, None], pa.date32()),
            "oldest": pa.array([-(2**31), 0, 2**31 - 1, 0], pa.date32()),
            "at": pa.array([0, 10**15, -(10**15), 5], pa.timestamp("ms", tz="UTC")),
            "took": pa.array([0, 2**63 - 1, -(2**63), 5], pa.duration("s")),
        }
    )
    pq.write_table(table, initialized / "far.parquet")
    run("add", "far.parquet", "--name", "far")
    assert run("commit", "-m", "far").exit_code == 0
    shown = json.loads(run("show", "HEAD:far", "--json").output)["stats"]
    assert (shown["day"]["min"], shown["day"]["max"]) == ("2024-01-01", "+10001-01-01")
    assert shown["day"]["distinct"] == 2 and shown["day"]["top"] == [["2024-01-01", 2], ["+10001-01-01", 1]]
    assert (shown["oldest"]["min"], shown["oldest"]["max"]) == ("-5877641-06-23", "+5881580-07-11")
    assert shown["oldest"]["distinct"] == 3
    assert (shown["at"]["min"], shown["at"]["max"]) == ("-29719-04-05T22:13:20+00:00", "+33658-09-27T01:46:40+00:00")
    assert shown["at"]["top"][0] == ["-29719-04-05T22:13:20+00:00", 1]  # ties in time order
    assert shown["took"]["distinct"] == 4 and ["106751991167300 days, 15:30:07", 1] in shown["took"]["top"]
    rows = {line.split()[0]: line for line in run("show", "HEAD:far").output.splitlines()[7:]}
    assert "2024-01-01 … +10001-01-01" in rows["day"]

    # Over a folder's files the least date is the least time, not the least text ('+' < '2').
    (initialized / "parts").mkdir()
    pq.write_table(table.select(["day"]).slice(0, 2), initialized / "parts" / "a.parquet")
    pq.write_table(pa.table({"day": pa.array([-800_000, 19_000], pa.date32())}), initialized / "parts" / "b.parquet")
    run("add", "parts", "--name", "parts")
    assert run("commit", "-m", "parts").exit_code == 0
    day = json.loads(run("show", "HEAD:parts", "--json").output)["stats"]["day"]
    assert (day["min"], day["max"]) == ("-0221-09-04", "+10001-01-01")
    assert day["distinct"] == 4 and day["distinct_exact"] is True
    assert [value for value, _ in day["top"]] == ["-0221-09-04", "2022-01-08", "2024-01-01", "+10001-01-01"]


def test_show_writes_temporal_statistics_in_their_own_terms(initialized: Path) -> None:
    """A time of day, a duration and a mean timestamp read as such, not as microsecond counts."""
    table = pa.table(
        {
            "at": pa.array([dt.time(9, 30), dt.time(17, 0)], pa.time64("us")),
            "took": pa.array([90_000, 7_200_000], pa.duration("ms")),
            "when": pa.array([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 2, 12)], pa.timestamp("ms")),
            "day": pa.array([dt.date(2024, 1, 1), dt.date(2024, 3, 1)]),
        }
    )
    pq.write_table(table, initialized / "times.parquet")
    run("add", "times.parquet", "--name", "times")
    assert run("commit", "-m", "times").exit_code == 0
    rows = {line.split()[0]: line for line in run("show", "HEAD:times").output.splitlines()[7:]}
    assert rows["at"].endswith("09:30:00 … 17:00:00 / 13:15:00±3:45:00")
    assert rows["took"].endswith("0:01:30 … 2:00:00 / 1:00:45±0:59:15")
    assert rows["when"].endswith("2024-01-01T00:00:00 … 2024-01-02T12:00:00 / 2024-01-01T18:00:00±18:00:00")
    assert rows["day"].endswith("2024-01-01 … 2024-03-01 / 2024-01-31±30 days")
    # The JSON keeps the column's integers, exact.
    assert json.loads(run("show", "HEAD:times", "--json").output)["stats"]["at"]["min"] == 34_200_000_000


def test_a_mean_timestamp_is_written_in_its_columns_zone_or_offset() -> None:
    from datakeep.render.temporal import temporal_value

    moment = 1_700_000_000_000_000  # 2023-11-14T22:13:20Z, in microseconds
    assert temporal_value("timestamp[us, tz=UTC]", moment) == "2023-11-14T22:13:20+00:00"
    assert temporal_value("timestamp[us, tz=Asia/Kolkata]", moment) == "2023-11-15T03:43:20+05:30"
    assert temporal_value("timestamp[us, tz=-08:00]", moment) == "2023-11-14T14:13:20-08:00"
    assert temporal_value("timestamp[us]", moment) == "2023-11-14T22:13:20"
    assert temporal_value("int64", moment) is None  # not temporal: the caller prints the number


def test_removing_the_last_dataset_is_a_commit(initialized: Path) -> None:
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "one")
    assert run("rm", "flights").exit_code == 0
    assert "removed" in run("status").output
    (row,) = json.loads(run("status", "--json").output)
    assert (row["state"], row["path"]) == ("removed", "data/flights.parquet")  # where it was
    dropped = run("commit", "-m", "drop flights")
    assert dropped.exit_code == 0, dropped.output
    assert json.loads(run("log", "--json").output)[0]["datasets"] == {}
    assert "flights: dataset removed" in run("log", "--stat").output
    assert "flights: new dataset, 5,000 rows, " in run("log", "--stat").output  # the first commit
    assert run("checkout", "HEAD~1", "--name", "flights", "-o", "back.parquet").exit_code == 0
    assert pq.read_table(initialized / "back.parquet").num_rows == 5000
    assert json.loads(run("log", "-n", "0", "--json").output) == []
    assert len(json.loads(run("log", "-n", "1", "--json").output)) == 1
    assert CliRunner().invoke(cli, ["log", "-n", "-1"]).exit_code == 2


def test_checkout_across_a_dataset_that_went_from_file_to_folder(initialized: Path) -> None:
    # pandas wrote sales.parquet, later Spark wrote the folder sales.parquet/ with a _SUCCESS mark.
    sales = initialized / "sales.parquet"
    pq.write_table(make_table(100), sales)
    run("add", "sales.parquet", "--name", "sales", "--key", "id")
    run("commit", "-m", "file")
    sales.unlink()
    sales.mkdir()
    pq.write_table(make_table(70, seed=1), sales / "part-00000.snappy.parquet")
    (sales / "_SUCCESS").touch()
    run("commit", "-m", "folder")
    back = run("checkout", "HEAD~1")
    assert back.exit_code == 0, back.output
    assert sales.is_file() and pq.read_table(sales).num_rows == 100
    forward = run("checkout", "main")
    assert forward.exit_code == 0, forward.output
    assert pq.read_table(sales / "part-00000.snappy.parquet").num_rows == 70
    assert "unchanged" in run("status").output


def test_adding_again_says_which_definition_it_changed(initialized: Path) -> None:
    run("add", "data/flights.parquet", "--name", "flights", "--key", "id")
    again = CliRunner().invoke(cli, ["add", "data/flights.parquet", "--name", "flights"])
    assert again.exit_code == 0
    assert "note: flights was already tracked; changed key id → (none)" in again.output
    same = CliRunner().invoke(cli, ["add", "data/flights.parquet", "--name", "flights"])
    assert "note:" not in same.output


def test_dataset_names_may_use_letters_of_any_script(initialized: Path) -> None:
    pq.write_table(make_table(10), initialized / "données.parquet")
    assert run("add", "données.parquet").exit_code == 0
    decomposed = "donne\u0301es"  # the same name typed with a combining accent
    assert run("commit", "-m", "one").exit_code == 0
    assert json.loads(run("show", f"HEAD:{decomposed}", "--json").output)["rows"] == 10
    again = CliRunner().invoke(cli, ["add", "données.parquet", "--name", decomposed])
    assert again.exit_code == 0 and "tracking données" in again.output
    assert "données" in run("status").output and decomposed not in run("status").output


def test_nothing_to_commit_says_so_with_exit_1(initialized: Path) -> None:
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "one")
    again = run("commit", "-m", "two")
    assert again.exit_code == 1
    assert "nothing to commit" in again.output


def test_short_and_ambiguous_ids(initialized: Path) -> None:
    from datakeep.api import Repo

    run("add", "data/flights.parquet", "--name", "flights")
    repo = Repo.open(initialized)
    ids = [repo.commit(message=f"c{i}", allow_empty=True).id for i in range(100)]
    by_prefix: dict[str, list[str]] = {}
    for oid in ids:
        by_prefix.setdefault(oid[:2], []).append(oid)
    prefix, same = next((p, v) for p, v in sorted(by_prefix.items()) if len(v) > 1)
    result = run("show", prefix)
    assert result.exit_code == 2
    assert f"bad revision '{prefix}': ambiguous: {len(same)} commits start with it" in result.output
    assert all(oid[:12] in result.output for oid in same)
    unique = next(oid for oid in ids if len(by_prefix[oid[:2]]) == 1)
    assert run("show", unique[:6]).output.startswith(f"commit {unique}")
    assert json.loads(run("show", "HEAD~99", "--json").output)["id"] == ids[0]


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["status"], "not a datakeep repository"),
        ("init", ["show", "nosuchrev"], "bad revision 'nosuchrev'"),
        ("init", ["add", "missing.parquet", "--name", "x"], "does not exist"),
        ("zero", ["add", "zero.parquet", "--name", "x"], "is empty (0 bytes)"),
        ("csv", ["add", "fake.parquet", "--name", "x"], "is not a Parquet file"),
        ("truncated", ["add", "cut.parquet", "--name", "x"], "truncated"),
        ("dupcols", ["add", "dup.parquet", "--name", "x"], "duplicate column names: a"),
        ("good", ["add", "good.parquet", "--name", "a/b"], "not a valid dataset name"),
        ("good", ["add", "good.parquet", "--name", ".."], "not a valid dataset name"),
        ("emptydir", ["add", "emptydir", "--name", "x"], "holds no Parquet files"),
        ("good", ["add", "good.parquet", "--name", "x", "--key", "nope"], "key column(s) nope not found"),
    ],
)
def test_bad_input_gets_one_clear_line_and_exit_2(
    project: Path, setup: str | None, args: list[str], message: str
) -> None:
    if setup:
        run("init")
    if setup == "zero":
        (project / "zero.parquet").write_bytes(b"")
    elif setup == "csv":
        (project / "fake.parquet").write_text("a,b\n1,2\n")
    elif setup == "truncated":
        write(project / "whole.parquet", make_table(100))
        (project / "cut.parquet").write_bytes((project / "whole.parquet").read_bytes()[:-100])
    elif setup == "dupcols":
        pq.write_table(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"]), project / "dup.parquet")
    elif setup == "good":
        write(project / "good.parquet", make_table(10))
    elif setup == "emptydir":
        (project / "emptydir").mkdir()
    before = sorted(p.relative_to(project) for p in project.rglob("*")) if setup else None
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and " — " in error_lines[0]
    if before is not None:
        after = sorted(p.relative_to(project) for p in project.rglob("*") if "index.json" not in p.name)
        assert [p for p in after if p not in before] == []


def test_every_command_has_help_with_an_example() -> None:
    from datakeep.cli import COMMANDS

    for name in [
        "init",
        "add",
        "rm",
        "status",
        "commit",
        "log",
        "show",
        "checkout",
        "tag",
        "branch",
        "switch",
        "gc",
        "fsck",
    ]:
        assert name in COMMANDS
        result = run(name, "--help")
        assert result.exit_code == 0
        assert "Example:" in result.output, name


def test_installed_command_and_python_m(project: Path) -> None:
    exe = shutil.which("datakeep", path=str(Path(sys.executable).parent))
    assert exe is not None
    done = subprocess.run([exe, "init"], cwd=project, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Initialized" in done.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "datakeep", "show", "HEAD"], cwd=project, capture_output=True, text=True, check=False
    )
    assert missing.returncode == 2
    assert missing.stderr.startswith("error: bad revision 'HEAD'")


def test_cli_start_up_does_not_import_pandas_or_pyarrow() -> None:
    code = "import sys, datakeep.cli; sys.exit(1 if {'pandas', 'pyarrow'} & set(sys.modules) else 0)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_unchanged_commit_and_status_import_no_pyarrow_and_a_commit_no_pandas(project: Path) -> None:
    """Start-up counts in every timing a user sees: an unchanged re-commit or `status` answers from
    the stat cache alone, and a real commit needs pyarrow and numpy but never pandas."""
    table = make_table(5_000)
    write(project / "t.parquet", table)
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["add", "t.parquet", "--name", "t", "--key", "id"]).exit_code == 0
    heavy = ("pandas", "pyarrow")
    assert _imported(project, heavy, "commit", "-m", "v1") == "['pyarrow'] 0"
    write(project / "t.parquet", pa.concat_tables([table, make_table(100, seed=1, start_id=10**6)]))
    assert _imported(project, heavy, "commit", "-m", "v2") == "['pyarrow'] 0"
    assert _imported(project, heavy, "status") == "[] 0"
    assert _imported(project, heavy, "commit", "-m", "again") == "[] 1"
    # A touched file is hashed again, which needs pyarrow, but not its compute kernels (40 ms).
    os.utime(project / "t.parquet")
    assert _imported(project, ("pandas", "pyarrow.compute"), "status") == "[] 0"


def test_a_partitioned_folder_commit_and_diff_import_no_pandas(project: Path) -> None:
    """Partition values were typed with `pa.array`, which imports pandas (0.25 s) to look for
    pandas types: every commit and diff of a hive-partitioned folder paid for it."""
    for day in (1, 2, 3):
        write(project / "events" / f"day={day}" / "part-0.parquet", make_table(50, seed=day, start_id=day * 100))
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["add", "events", "--name", "events", "--key", "id"]).exit_code == 0
    assert _imported(project, ("pandas",), "commit", "-m", "v1") == "[] 0"
    write(project / "events" / "day=2" / "part-0.parquet", make_table(50, seed=9, start_id=200))
    assert _imported(project, ("pandas",), "commit", "-m", "v2") == "[] 0"
    assert _imported(project, ("pandas",), "diff", "HEAD~1", "HEAD") == "[] 0"


def _imported(project: Path, modules: tuple[str, ...], *args: str) -> str:
    """Which of ``modules`` the CLI imported running ``args`` in ``project``, and its exit code:
    "['pyarrow'] 0"."""
    probe = (
        "import sys\nfrom datakeep.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as exit:\n    code = exit.code\n"
        f"print(sorted(m for m in {modules!r} if m in sys.modules), code)"
    )
    done = subprocess.run([sys.executable, "-c", probe, *args], cwd=project, capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


def test_an_edit_commit_diff_and_checkout_never_import_pyarrow_compute(project: Path) -> None:
    """pyarrow.compute's import builds a wrapper per kernel (about 40 ms of Python holding the GIL);
    the commit of an edit (patches, statistics, the change summary), its diff and a checkout that
    rebuilds patched chunks call the kernels without it (`datakeep.kernels`). The commit and the
    diff, which write no Parquet, read it without pyarrow.parquet and the file systems it imports
    (`datakeep.parquet_source`)."""
    table = make_table(60_000)
    write(project / "t.parquet", table)
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert runner.invoke(cli, ["add", "t.parquet", "--name", "t", "--key", "id"]).exit_code == 0
    assert runner.invoke(cli, ["commit", "-m", "v1"]).exit_code == 0
    amount = table.column("amount").to_numpy().copy()
    amount[::97] += 1.0  # scattered cell edits: every chunk changes and is stored as a patch
    edited = table.set_column(3, "amount", pa.array(amount)).filter(pa.array(np.arange(60_000) % 211 != 5))
    write(project / "t.parquet", edited)
    compute = ("pyarrow.compute",)
    light = ("pyarrow.compute", "pyarrow.parquet", "pyarrow.fs")
    assert _imported(project, light, "commit", "-m", "edit") == "[] 0"
    assert _imported(project, light, "diff", "HEAD~1", "HEAD") == "[] 0"
    assert {chunk.depth for chunk in Repo.open(project).manifest("t").chunks} == {1}  # stored as patches
    assert _imported(project, compute, "checkout", "HEAD~1") == "[] 0"
    assert pq.read_table(project / "t.parquet").equals(table)
    assert _imported(project, compute, "checkout", "main") == "[] 0"
    assert pq.read_table(project / "t.parquet").equals(edited)


def _age(path: Path, seconds: int = 10) -> None:
    """Date a file's last write back, so the index trusts its stat (not "racy", as git says)."""
    past = path.stat().st_mtime - seconds
    os.utime(path, (past, past))


def test_checkout_leaves_files_that_already_hold_the_version_alone(initialized: Path) -> None:
    project = initialized
    untouched = project / "data" / "airports.parquet"
    # The user's own bytes (gzip, small row groups): a rewrite would give datakeep's encoding.
    write(untouched, make_table(300, seed=1), compression="gzip", row_group_size=50)
    flights = project / "data" / "flights.parquet"
    for path in (untouched, flights):
        _age(path)
    run("add", "data/airports.parquet", "--name", "airports")
    run("add", "data/flights.parquet", "--name", "flights", "--key", "id")
    first = run("commit", "-m", "one").output.strip().splitlines()[-1]
    write(flights, make_table(6000))
    _age(flights)
    run("commit", "-m", "two")
    before = untouched.stat()
    original_bytes = untouched.read_bytes()

    result = run("checkout", first)
    assert result.exit_code == 0, result.output
    assert "unchanged airports: the working copy already holds this version" in result.output
    assert "restored flights: data/flights.parquet" in result.output
    assert (untouched.stat().st_ino, untouched.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert untouched.read_bytes() == original_bytes
    assert pq.read_table(flights).num_rows == 5000
    # The checkout recorded what it wrote once its stat could be trusted: checking the same
    # version out again rewrites nothing, and status reads nothing.
    assert json.loads(run("checkout", first, "--json").output)["written"] == {"airports": [], "flights": []}
    assert "unchanged" in run("status").output


def test_checkout_rewrites_a_file_whose_stat_no_longer_matches(initialized: Path) -> None:
    flights = initialized / "data" / "flights.parquet"
    _age(flights)
    run("add", "data/flights.parquet", "--name", "flights")
    run("commit", "-m", "one")
    # Same size and mtime put back, but another inode: the index cannot vouch for it any more.
    stat = flights.stat()
    replaced = flights.with_name("other.parquet")
    write(replaced, make_table(5000, seed=9))
    replaced.replace(flights)
    os.utime(flights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    result = run("checkout", "HEAD", "--force")
    assert result.exit_code == 0, result.output
    assert "restored flights" in result.output
    assert pq.read_table(flights).equals(make_table(5000))


def test_log_name_shows_only_the_commits_that_changed_that_dataset(initialized: Path) -> None:
    project = initialized
    write(project / "data" / "airports.parquet", make_table(50, seed=2))
    run("add", "data/flights.parquet", "--name", "flights", "--key", "id")
    run("add", "data/airports.parquet", "--name", "airports")
    first = run("commit", "-m", "both").output.strip().splitlines()[-1]
    write(project / "data" / "flights.parquet", make_table(5100))
    second = run("commit", "-m", "more flights").output.strip().splitlines()[-1]
    run("add", "data/airports.parquet", "--name", "airports", "--key", "id")  # a new definition only
    third = run("commit", "-m", "airports keyed").output.strip().splitlines()[-1]

    def ids(*args: str) -> list[str]:
        return [entry["id"] for entry in json.loads(run("log", "--json", *args).output)]

    assert ids() == [third, second, first]
    assert ids("--name", "flights") == [second, first]
    assert ids("--name", "airports") == [third, first]
    assert ids("--name", "flights", "-n", "1") == [second]
    stat = run("log", "--stat", "--name", "flights").output
    assert "flights: 5,000 → 5,100 rows" in stat and "airports" not in stat
    missing = run("log", "--name", "nope")
    assert missing.exit_code == 2
    assert "no commit in this history holds a dataset named 'nope'" in missing.output


def test_status_after_a_checkout_reads_no_data(initialized: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A checkout records what it wrote only once the racy window has passed, so the index
    vouches for those files: `status` answers from their stat, without hashing them again."""
    from datakeep import snapshot
    from datakeep.api import Repo

    flights = initialized / "data" / "flights.parquet"
    run("add", "data/flights.parquet", "--name", "flights", "--key", "id")
    first = run("commit", "-m", "one").output.strip().splitlines()[-1]
    write(flights, make_table(5200))
    run("commit", "-m", "two")
    assert run("checkout", first).exit_code == 0

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("status hashed a file the checkout had just written")

    monkeypatch.setattr(snapshot, "hash_file", no_reading)
    assert [(s.name, s.state) for s in Repo.open(initialized).status()] == [("flights", "unchanged")]


class _Recorder:
    """A `datakeep.progress.Progress` that keeps what it heard."""

    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def begin(self, label: str, total: int) -> None:
        self.events.append(("begin", (label, total)))

    def advance(self, amount: int) -> None:
        self.events.append(("advance", amount))

    def end(self) -> None:
        self.events.append(("end", None))


def test_commit_progress_counts_the_bytes_of_the_files_it_reads(project: Path) -> None:
    from datakeep.api import Repo

    repo = Repo.init(project)
    for day in range(3):
        write(project / "events" / f"day={day}" / "part.parquet", make_table(300, seed=day))
    write(project / "one.parquet", make_table(70_000))  # two batches: advanced twice at least
    repo.add("events", name="events")
    repo.add("one.parquet", name="one")
    for path in project.rglob("*.parquet"):  # old enough for the stat cache to trust (git's racy rule)
        os.utime(path, (path.stat().st_mtime - 10, path.stat().st_mtime - 10))
    heard = _Recorder()
    repo.commit(message="first", progress=heard)
    sizes = {
        "events": sum(p.stat().st_size for p in (project / "events").rglob("*.parquet")),
        "one": (project / "one.parquet").stat().st_size,
    }
    begins = [value for kind, value in heard.events if kind == "begin"]
    assert begins == [("events", sizes["events"]), ("one", sizes["one"])]
    assert heard.events[-1] == ("end", None) and sum(kind == "end" for kind, _ in heard.events) == 2
    advances = [value for kind, value in heard.events if kind == "advance"]
    assert sum(advances) == sizes["events"] + sizes["one"] and all(a > 0 for a in advances)  # type: ignore[operator]
    assert len(advances) >= 3 + 2

    # Only what is read counts: one changed partition of the folder, the other dataset unchanged.
    write(project / "events" / "day=1" / "part.parquet", make_table(301, seed=1))
    heard = _Recorder()
    repo.commit(message="second", progress=heard)
    changed = (project / "events" / "day=1" / "part.parquet").stat().st_size
    assert [value for kind, value in heard.events if kind == "begin"] == [("events", changed)]


def test_commit_draws_no_progress_bar_when_stderr_is_not_a_terminal(initialized: Path) -> None:
    run("add", "data/flights.parquet", "--name", "flights")
    result = subprocess.run(
        [sys.executable, "-m", "datakeep", "commit", "-m", "quiet"], capture_output=True, text=True, check=True
    )
    assert result.stderr == ""


def test_add_tracks_several_paths_at_once_or_none(project: Path) -> None:
    assert run("init").exit_code == 0
    for name in ("a", "b"):
        write(project / "data" / f"{name}.parquet", make_table(20))
    write(project / "other" / "a.parquet", make_table(5))
    added = run("add", "data/a.parquet", "data/b.parquet", "--key", "id")
    assert added.exit_code == 0, added.output
    assert "tracking a (data/a.parquet) key id" in added.output and "tracking b (data/b.parquet) key id" in added.output
    status = json.loads(run("status", "--json").output)
    assert {(s["name"], s["state"]) for s in status} == {("a", "new"), ("b", "new")}

    (project / "bad.parquet").write_text("id,v\n1,2\n")  # a CSV under a Parquet name
    for refused in (
        ["add", "data/b.parquet", "missing.parquet"],  # a path that is not there
        ["add", "data/a.parquet", "bad.parquet"],  # the first is fine, the second is not Parquet
        ["add", "data/a.parquet", "other/a.parquet"],  # both would be dataset 'a'
        ["add", "data/a.parquet", "data/b.parquet", "--name", "x"],
    ):
        result = CliRunner().invoke(cli, refused)
        assert result.exit_code == 2, (refused, result.output)
    # Nothing changed: re-adding a without --key would have dropped its key.
    from datakeep.api import Repo

    assert {name: tracked.key for name, tracked in Repo.open(project).tracked().items()} == {"a": ("id",), "b": ("id",)}


def test_a_second_key_column_taken_for_a_path_is_explained(initialized: Path) -> None:
    """click reads `--key id region` as the key id and one more path, region."""
    for given in (["--key", "id", "region"], ["--name", "f", "--key", "id", "region"]):
        result = CliRunner().invoke(cli, ["add", "data/flights.parquet", *given])
        assert result.exit_code == 2
        assert "--key takes one column: repeat it (--key a --key b) or comma-separate them" in result.output
    missing = CliRunner().invoke(cli, ["add", "data/nothing.parquet"])
    assert missing.exit_code == 2 and "does not exist" in missing.output and "--key" not in missing.output
    added = run("add", "data/flights.parquet", "--key", "id,region")
    assert added.exit_code == 0 and "key id,region" in added.output


def test_log_oneline_honours_stat(initialized: Path) -> None:
    run("add", "data/flights.parquet", "--name", "flights", "--key", "id")
    first = run("commit", "-m", "first load").output.strip().splitlines()[-1]
    write(initialized / "data" / "flights.parquet", make_table(5100))
    second = run("commit", "-m", "more flights\n\nwith a body").output.strip().splitlines()[-1]
    run("tag", "v1", first)
    lines = run("log", "--oneline", "--stat").output.splitlines()
    assert lines[0] == f"{second[:10]} more flights"  # refs only on a terminal, as git decorates
    assert lines[1].startswith("  flights: 5,000 → 5,100 rows, 100 added")
    assert lines[2] == f"{first[:10]} first load"
    assert run("log", "--oneline").output.splitlines() == [lines[0], lines[2]]


def test_the_author_is_gits_identity_unless_datakeep_is_told_otherwise(
    initialized: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("DATAKEEP_AUTHOR", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(variable, raising=False)
    subprocess.run(["git", "init", "-q", str(initialized)], check=True)
    for key, value in (("user.name", "Ada Lovelace"), ("user.email", "ada@example.com")):
        subprocess.run(["git", "-C", str(initialized), "config", key, value], check=True)
    run("add", "data/flights.parquet", "--name", "flights")
    assert run("commit", "-m", "one").exit_code == 0
    assert json.loads(run("log", "--json").output)[0]["author"] == "Ada Lovelace <ada@example.com>"
    monkeypatch.setenv("DATAKEEP_AUTHOR", "pipeline")
    pq.write_table(make_table(9), initialized / "data" / "flights.parquet")
    assert run("commit", "-m", "two").exit_code == 0
    assert json.loads(run("log", "--json").output)[0]["author"] == "pipeline"


def test_show_quotes_a_column_name_with_a_tab_or_newline(initialized: Path) -> None:
    """Printed raw, such a name broke the table into lines that belonged to no column."""
    table = pa.table({"id": [1, 2], "a\tb": [1.0, 2.0], "line\nbreak": ["x", "y"]})
    pq.write_table(table, initialized / "t.parquet")
    assert run("add", "t.parquet").exit_code == 0
    assert run("commit", "-m", "one").exit_code == 0
    out = run("show", "HEAD:t").output
    rows = out.split("min … max / mean\n", 1)[1].splitlines()
    assert [row.split()[0] for row in rows] == ["id", "'a\\tb'", "'line\\nbreak'"]


def test_a_dataset_tracked_with_another_key_is_modified_until_committed(initialized: Path) -> None:
    """status said unchanged, commit recorded a change, and checkout threw it away unasked."""
    assert run("add", "data/flights.parquet", "--name", "flights", "--key", "id").exit_code == 0
    assert run("commit", "-m", "one").exit_code == 0
    assert run("add", "data/flights.parquet", "--name", "flights", "--key", "id,region").exit_code == 0
    (row,) = json.loads(run("status", "--json").output)
    assert row["state"] == "modified" and row["working"] == row["head"]
    assert row["note"] == "redefined: key id → id,region"
    refused = run("checkout", "HEAD")
    assert refused.exit_code == 2 and "uncommitted changes in flights" in refused.output
    assert "1 dataset(s) changed (flights)" in run("commit", "-m", "rekey").output
    # The commit records that its manifest defines the dataset as tracked: a clean status after
    # it reads no manifest (a large folder's took 1.3 s of its 1.8 s).
    manifest = Repo.open(initialized).commit_info("HEAD")[1].datasets["flights"].manifest
    index = json.loads((initialized / ".datakeep" / "index.json").read_text())
    assert index["defined"]["flights"]["manifest"] == manifest
    (row,) = json.loads(run("status", "--json").output)
    assert row["state"] == "unchanged" and "note" not in row


def test_a_switch_over_a_renamed_dataset_loses_nothing_and_is_not_refused(initialized: Path) -> None:
    assert run("add", "data/flights.parquet", "--name", "old").exit_code == 0
    assert run("commit", "-m", "as old").exit_code == 0
    assert run("branch", "keep").exit_code == 0
    write(initialized / "data" / "flights.parquet", make_table(4000))
    assert run("commit", "-m", "fewer rows").exit_code == 0  # keep's version differs from what is here
    assert run("rm", "old").exit_code == 0
    assert run("add", "data/flights.parquet", "--name", "new").exit_code == 0
    assert run("commit", "-m", "renamed").exit_code == 0
    switched = run("switch", "keep")
    assert switched.exit_code == 0, switched.output
    assert [r["name"] for r in json.loads(run("status", "--json").output)] == ["old"]
    assert pq.read_table(initialized / "data" / "flights.parquet").num_rows == 5000


def test_a_commit_counts_the_manifest_it_stores(initialized: Path) -> None:
    """The 'N new' a commit prints hid its manifest: 48.7 MB for a one-row edit of long text."""
    assert run("add", "data/flights.parquet", "--name", "flights").exit_code == 0
    written = json.loads(run("commit", "-m", "one", "--json").output)["written"]
    manifest = json.loads(run("show", "HEAD:flights", "--json").output)
    assert written["manifest_bytes"] > 0 and written["new_bytes"] >= sum(c["bytes"] for c in manifest["chunks"])
    storage = Repository.discover(initialized)
    oid = storage.commit_at(storage.head()).datasets["flights"].manifest
    assert written["manifest_bytes"] == storage.store.size(oid)
