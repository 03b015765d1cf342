"""What docs/cli.md promises, where the tool did otherwise: a mistyped path never passes
`validate`, `commit --json` names the datasets it removed, default names drop only the Parquet
extension, usage errors are one `error:` line, a damaged index is said to be damaged, and
`commit`/`log` exit and print as documented. Real repositories in tmp_path, through CliRunner."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from datakeep.cli import cli

REPO = Path(__file__).resolve().parents[1]


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def one_error_line(result: Result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and " — " in lines[0], result.output
    return lines[0]


@pytest.fixture
def initialised(project: Path) -> Path:
    assert run("init").exit_code == 0
    return project


def test_validate_refuses_a_path_that_does_not_exist(project: Path) -> None:
    shutil.copytree(REPO / "schemas", project / "schemas")
    shutil.copy(REPO / "datakeep.yaml", project / "datakeep.yaml")
    # Matching no rule, a mistyped path was "skipped" and passed with exit 0.
    result = run("validate", "data/typo.parquet")
    assert result.exit_code == 2
    assert "data/typo.parquet: no such file" in one_error_line(result)


def test_commit_json_names_the_datasets_it_removed(initialised: Path) -> None:
    for name in ("x", "y"):
        pq.write_table(pa.table({"a": [1]}), initialised / f"{name}.parquet")
    assert run("add", "x.parquet", "y.parquet").exit_code == 0
    assert run("commit", "-m", "both").exit_code == 0
    assert run("rm", "y").exit_code == 0
    done = run("commit", "-m", "drop y", "--json")
    assert done.exit_code == 0
    document = json.loads(done.output)
    assert document["changed"] == ["y"] and document["removed"] == ["y"]
    assert run("log", "--name", "y", "--oneline").output.count("\n") == 2


def test_default_names_drop_only_the_parquet_extension(initialised: Path) -> None:
    for file in ("sales.2023.parquet", "sales.2024.PQ"):
        pq.write_table(pa.table({"a": [1]}), initialised / file)
    (initialised / "events.v1").mkdir()
    pq.write_table(pa.table({"a": [1]}), initialised / "events.v1" / "part-0.parquet")
    added = run("add", "sales.2023.parquet", "sales.2024.PQ", "events.v1")
    assert added.exit_code == 0, added.output
    status = run("status").output
    assert all(f"new        {name} " in status for name in ("sales.2023", "sales.2024", "events.v1")), status
    refused = run("add", "sales.2023.parquet", "--name", "")
    assert refused.exit_code == 2 and "'' is not a valid dataset name" in one_error_line(refused)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["commit"], "Missing option '-m'"),
        (["commit", "-m", "x", "--bogus"], "No such option '--bogus'"),
        (["log", "-n", "-1"], "-1 is not in the range"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["remote", "frob"], "No such command 'frob'"),
    ],
)
def test_usage_errors_are_one_error_line_with_exit_2(initialised: Path, args: list[str], says: str) -> None:
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    line = one_error_line(result)
    assert says in line and "--help`" in line


def test_an_index_of_another_shape_is_damaged_not_a_bug(initialised: Path) -> None:
    (initialised / ".datakeep" / "index.json").write_text("[]")
    result = run("status")
    assert result.exit_code == 2
    line = one_error_line(result)
    assert "index.json is damaged" in line and "move it aside (or delete it)" in line and "--force" not in line


def test_following_the_damaged_index_advice_keeps_uncommitted_work(initialised: Path) -> None:
    pq.write_table(pa.table({"k": [1, 2, 3], "v": [1, 2, 3]}), initialised / "t.parquet")
    assert run("add", "t.parquet", "--key", "k").exit_code == 0
    assert run("commit", "-m", "one").exit_code == 0
    edited = pa.table({"k": [1, 2, 3], "v": [1, 2, 9]})
    pq.write_table(edited, initialised / "t.parquet")  # not committed
    index = initialised / ".datakeep" / "index.json"
    index.write_text("[]")
    assert run("status").exit_code == 2
    index.rename(initialised / "index.json.damaged")  # "move it aside"
    assert "modified   t" in run("status").output  # tracked again as HEAD holds it, edit seen
    refused = run("checkout", "HEAD")
    assert refused.exit_code == 2 and "uncommitted changes in t" in refused.output
    assert pq.read_table(initialised / "t.parquet").equals(edited)
    assert run("commit", "-m", "two").exit_code == 0
    assert run("show", "HEAD:t", "--json").exit_code == 0
    assert json.loads(run("show", "HEAD:t", "--json").output)["key"] == ["k"]


@pytest.mark.parametrize("loss", ["deleted", "emptied"])
def test_a_lost_index_costs_a_re_read_never_the_tracking(initialised: Path, loss: str) -> None:
    """format.md calls the index a cache. Lost, it made status say "elsewhere", commit "nothing
    to commit" (exit 1) and checkout "commit them first": HEAD's datasets are tracked again
    from their manifests (path, key, entity, source), and every command answers as before."""
    pq.write_table(pa.table({"k": [1, 2, 3], "v": [1, 2, 3]}), initialised / "t.parquet")
    pq.write_table(pa.table({"k": [1]}), initialised / "gone.parquet")
    assert run("add", "t.parquet", "--key", "k").exit_code == 0
    assert run("add", "gone.parquet").exit_code == 0
    assert run("commit", "-m", "one").exit_code == 0
    index = initialised / ".datakeep" / "index.json"
    if loss == "deleted":
        index.unlink()
    else:
        index.write_bytes(b"")  # written without fsync: what a crash can leave
    (initialised / "gone.parquet").unlink()  # a path not here stays elsewhere, as in a partial clone
    assert run("status").output.splitlines()[1:] == [
        "  unchanged  t                    t.parquet",
        "  elsewhere  gone (not in this working tree)",
    ]
    assert run("checkout", "HEAD").exit_code == 0
    pq.write_table(pa.table({"k": [1, 2, 3], "v": [1, 2, 9]}), initialised / "t.parquet")  # an edit
    assert "  modified   t" in run("status").output
    refused = run("checkout", "HEAD")
    assert refused.exit_code == 2 and "uncommitted changes in t would be overwritten" in refused.output
    done = run("commit", "-m", "two", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["changed"] == ["t"]
    shown = json.loads(run("show", "HEAD:t", "--json").output)
    assert shown["key"] == ["k"] and shown["rows"] == 3


def test_a_damaged_index_never_blocks_an_export(initialised: Path) -> None:
    pq.write_table(pa.table({"k": [1, 2, 3]}), initialised / "t.parquet")
    assert run("add", "t.parquet").exit_code == 0
    assert run("commit", "-m", "one").exit_code == 0
    pq.write_table(pa.table({"k": [4]}), initialised / "t.parquet")  # not committed
    (initialised / ".datakeep" / "index.json").write_text("[]")
    exported = run("checkout", "HEAD", "--name", "t", "-o", "out.parquet")
    assert exported.exit_code == 0, exported.output
    assert pq.read_table(initialised / "out.parquet").column("k").to_pylist() == [1, 2, 3]
    # Onto the dataset's own path, its uncommitted rows are still kept from harm.
    refused = run("checkout", "HEAD", "--name", "t", "-o", "t.parquet")
    assert refused.exit_code == 2 and "uncommitted changes in t" in refused.output
    assert pq.read_table(initialised / "t.parquet").column("k").to_pylist() == [4]


def test_commit_with_nothing_tracked_is_nothing_to_commit(initialised: Path) -> None:
    nothing = run("commit", "-m", "x")
    assert nothing.exit_code == 1 and "no dataset is tracked" in one_error_line(nothing)
    assert run("commit", "-m", "x", "--allow-empty").exit_code == 0  # as its help says


def test_a_file_deleted_before_its_first_commit_gets_advice_that_works(initialised: Path) -> None:
    """The advice was `datakeep checkout HEAD --name a`, with no HEAD (nor any version of it)."""
    pq.write_table(pa.table({"id": [1]}), initialised / "a.parquet")
    assert run("add", "a.parquet").exit_code == 0
    (initialised / "a.parquet").unlink()
    refused = run("commit", "-m", "first")
    assert refused.exit_code == 2
    line = one_error_line(refused)
    assert "dataset 'a': a.parquet does not exist" in line
    assert "put the file back at a.parquet (it was never committed" in line and "`datakeep rm a`" in line
    assert "checkout" not in line
    assert run("rm", "a").exit_code == 0  # the way out it names works
    # Once HEAD holds it, restoring it is the advice, and it works.
    pq.write_table(pa.table({"id": [1]}), initialised / "a.parquet")
    assert run("add", "a.parquet").exit_code == 0
    assert run("commit", "-m", "first").exit_code == 0
    (initialised / "a.parquet").unlink()
    assert "restore it with `datakeep checkout HEAD --name a`" in one_error_line(run("commit", "-m", "second"))
    assert run("checkout", "HEAD", "--name", "a").exit_code == 0


def test_log_n_0_prints_nothing_as_git_does(initialised: Path) -> None:
    pq.write_table(pa.table({"a": [1]}), initialised / "x.parquet")
    assert run("add", "x.parquet").exit_code == 0
    assert run("commit", "-m", "one").exit_code == 0
    assert run("log", "-n", "0").output == ""


def test_schema_infer_of_a_missing_file_says_so(project: Path) -> None:
    result = run("schema", "infer", "nosuch.parquet", "--entity", "z")
    assert result.exit_code == 2 and "nosuch.parquet: no such file" in one_error_line(result)


def test_a_commit_refused_part_way_leaves_the_store_as_it_was(initialised: Path) -> None:
    folder = initialised / "ev"
    folder.mkdir()
    pq.write_table(pa.table({"id": [1, 2], "v": ["a", "b"]}), folder / "p1.parquet")
    assert run("add", "ev").exit_code == 0
    assert run("commit", "-m", "one").exit_code == 0
    pq.write_table(pa.table({"id": [3, 4], "v": [1, 2]}), folder / "p2.parquet")  # v typed otherwise

    def stored() -> dict[str, bytes]:
        root = initialised / ".datakeep"
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != "lock"}

    before = stored()
    refused = run("commit", "-m", "two")
    assert refused.exit_code == 2 and "column 'v' is string in p1.parquet but int64" in one_error_line(refused)
    assert stored() == before


def test_a_mistyped_lock_timeout_is_an_error_that_says_so(initialised: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pq.write_table(pa.table({"a": [1]}), initialised / "x.parquet")
    assert run("add", "x.parquet").exit_code == 0
    monkeypatch.setenv("DATAKEEP_LOCK_TIMEOUT", "abc")
    result = run("commit", "-m", "x")
    assert result.exit_code == 2
    assert "DATAKEEP_LOCK_TIMEOUT='abc' is not a number of seconds" in one_error_line(result)


def test_a_mistyped_remote_lock_timeout_is_an_error_too(monkeypatch: pytest.MonkeyPatch) -> None:
    from datakeep.errors import UsageError
    from datakeep.remote.refs import lock_wait

    monkeypatch.setenv("DATAKEEP_REMOTE_LOCK_TIMEOUT", "nan")
    with pytest.raises(UsageError, match="DATAKEEP_REMOTE_LOCK_TIMEOUT='nan' is not a number of seconds"):
        lock_wait()
    monkeypatch.setenv("DATAKEEP_REMOTE_LOCK_TIMEOUT", "2.5")
    assert lock_wait() == 2.5


def test_a_pipe_is_not_said_to_be_missing(initialised: Path) -> None:
    os.mkfifo(initialised / "f.parquet")
    result = run("add", "f.parquet")
    assert result.exit_code == 2
    assert "f.parquet is neither a file nor a folder" in one_error_line(result)


def test_the_executable_keeps_exit_codes_output_and_profilers_results(tmp_path: Path) -> None:
    """`datakeep` leaves without Python's teardown once a command is done: its exit code and
    everything it printed still arrive (through a pipe, all of a long output), and a profiler
    running it still writes its results."""
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120
        )

    missing = run("-m", "datakeep", "log")
    assert missing.returncode == 2 and missing.stderr.startswith("error: not a datakeep repository")
    assert run("-m", "datakeep", "init").returncode == 0
    assert run("-m", "datakeep", "--help").stdout.count("\n") > 20
    assert run("-m", "datakeep", "commit", "-m", "x").returncode == 1  # nothing to commit: "no"
    profiled = run("-m", "cProfile", "-o", str(tmp_path / "profile.out"), "-m", "datakeep", "status")
    assert profiled.returncode == 0 and (tmp_path / "profile.out").stat().st_size > 0


@pytest.mark.parametrize("key", [["--key", "id,id"], ["--key", "id", "--key", "id"]])
def test_a_key_column_named_twice_is_refused_up_front(initialised: Path, key: list[str]) -> None:
    """Accepted, it made every later commit fail with an internal error."""
    pq.write_table(pa.table({"id": [1, 2]}), initialised / "t.parquet")
    result = run("add", "t.parquet", *key)
    assert result.exit_code == 2
    assert "key column(s) named twice: id" in one_error_line(result)
    assert run("add", "t.parquet", "--key", "id").exit_code == 0


def test_only_the_store_itself_is_refused_by_name(initialised: Path) -> None:
    """A file whose name merely begins with '.datakeep' is the user's own."""
    (initialised / ".datakeep-old").mkdir()
    for path, name in ((".datakeep-old/x.parquet", "x"), (".datakeep_backup.parquet", "backup")):
        pq.write_table(pa.table({"id": [1]}), initialised / path)
        assert run("add", path, "--name", name).exit_code == 0, path
    inside = initialised / ".datakeep" / "x.parquet"
    pq.write_table(pa.table({"id": [1]}), inside)
    refused = run("add", str(inside))
    assert refused.exit_code == 2 and "it is inside the store (.datakeep/)" in one_error_line(refused)
    whole = run("add", ".")
    assert whole.exit_code == 2 and "it is the whole repository" in one_error_line(whole)


def test_a_closed_output_pipe_is_never_the_answer_no(tmp_path: Path) -> None:
    """click exits 1 on a closed pipe, which scripts read as 'nothing to commit', after a commit
    that landed."""
    import subprocess
    import sys

    pq.write_table(pa.table({"id": [1, 2, 3]}), tmp_path / "d.parquet")
    datakeep = [sys.executable, "-m", "datakeep"]
    assert subprocess.run([*datakeep, "init"], cwd=tmp_path, check=False).returncode == 0
    assert (
        subprocess.run([*datakeep, "add", "d.parquet"], cwd=tmp_path, check=False, capture_output=True).returncode == 0
    )
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads what the commit prints
    try:
        done = subprocess.run(
            [*datakeep, "commit", "-m", "one"], cwd=tmp_path, stdout=writer, stderr=subprocess.PIPE, check=False
        )
    finally:
        os.close(writer)
    assert done.returncode == 2 and done.stderr == b""
    logged = subprocess.run([*datakeep, "log", "--oneline"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert logged.stdout.count("\n") == 1  # the commit landed
