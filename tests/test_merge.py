"""`datakeep merge`: two lines of history combined dataset by dataset, through a real remote."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.errors import UsageError
from datakeep.merge import MergeConflictError


def _write(path: Path, rows: int, tag: str = "x") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"id": list(range(rows)), "v": [f"{tag}{i}" for i in range(rows)]}), path)


def _commit(repo: Repo, message: str) -> str:
    return repo.commit(message=message).id


def _in(folder: Path, *args: str) -> tuple[int, str]:
    """Run the CLI in ``folder``; (exit code, output)."""
    old = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(cli, list(args))
    finally:
        os.chdir(old)
    return result.exit_code, result.output


def _diverge(repo: Repo, root: Path, ours: dict[str, int], theirs: dict[str, int]) -> tuple[str, str]:
    """Commit ``ours`` (dataset -> rows) on main and ``theirs`` on `other` (a row count of 0
    removes the dataset); back on main. The two commit ids."""
    ids = []
    for branch, changes in (("main", ours), ("other", theirs)):
        repo.switch(branch)
        for name, rows in changes.items():
            if rows:
                _write(root / f"{name}.parquet", rows)
            else:
                repo.rm(name)
        ids.append(_commit(repo, f"{branch}: {changes}"))
    repo.switch("main")
    return ids[0], ids[1]


@pytest.fixture
def parted(tmp_path: Path) -> tuple[Repo, str, str]:
    """One repository whose branch `main` and `other` parted at a commit holding a and b."""
    repo = Repo.init(tmp_path)
    _write(tmp_path / "a.parquet", 100)
    _write(tmp_path / "b.parquet", 10)
    repo.add_all([tmp_path / "a.parquet", tmp_path / "b.parquet"], key=["id"])
    base = _commit(repo, "base")
    repo.branch("other", base)
    return repo, base, str(tmp_path)


def test_each_dataset_comes_from_the_side_that_changed_it(parted: tuple[Repo, str, str]) -> None:
    repo, _base, root = parted
    ours, theirs = _diverge(repo, Path(root), {"b": 12}, {"a": 101})

    result = repo.merge("other")
    assert result.kind == "merged" and result.taken == {"a": "theirs"}
    merged = repo.commit_info(result.commit)[1]
    assert merged.parents == (ours, theirs)
    assert merged.datasets["a"] == repo.commit_info(theirs)[1].datasets["a"]
    assert merged.datasets["b"] == repo.commit_info(ours)[1].datasets["b"]
    assert merged.summary["a"]["rows"] == {"added": 1, "removed": 0, "modified": 0}
    assert pq.read_table(Path(root) / "a.parquet").num_rows == 101  # restored from theirs
    assert pq.read_table(Path(root) / "b.parquet").num_rows == 12
    assert {s.name: s.state for s in repo.status()} == {"a": "unchanged", "b": "unchanged"}
    assert repo.fsck().ok
    assert repo.merge("other").kind == "up-to-date"


def test_behind_is_a_fast_forward_and_ahead_is_up_to_date(parted: tuple[Repo, str, str]) -> None:
    repo, base, root = parted
    repo.switch("other")
    _write(Path(root) / "a.parquet", 120)
    theirs = _commit(repo, "a grows")
    repo.switch("main")
    result = repo.merge("other")
    assert (result.kind, result.commit, result.taken) == ("fast-forward", theirs, {"a": "theirs"})
    assert repo.resolve("main") == theirs and pq.read_table(Path(root) / "a.parquet").num_rows == 120
    assert repo.merge(base).kind == "up-to-date"


def test_a_dataset_both_sides_changed_is_a_conflict_until_a_side_is_picked(parted: tuple[Repo, str, str]) -> None:
    repo, _base, root = parted
    ours, _theirs = _diverge(repo, Path(root), {"a": 90}, {"a": 110})
    code, out = _in(Path(root), "merge", "other")
    assert code == 1 and "both sides changed a" in out and "--theirs NAME" in out
    assert repo.resolve("HEAD") == ours and pq.read_table(Path(root) / "a.parquet").num_rows == 90
    with pytest.raises(MergeConflictError):
        repo.merge("other")

    code, out = _in(Path(root), "merge", "other", "--json", "--ours", "a")
    assert code == 0, out
    kept = json.loads(out)
    assert kept["kind"] == "merged" and kept["taken"] == {}
    assert pq.read_table(Path(root) / "a.parquet").num_rows == 90
    assert repo.commit_info(kept["id"])[1].datasets["a"] == repo.commit_info(ours)[1].datasets["a"]


def test_theirs_picked_over_ours_and_a_removal_taken(parted: tuple[Repo, str, str]) -> None:
    repo, _base, root = parted
    _diverge(repo, Path(root), {"a": 90}, {"a": 110, "b": 0})
    result = repo.merge("other", theirs=["a"], message="take their a")
    assert result.taken == {"a": "theirs", "b": "removed"}
    merged = repo.commit_info(result.commit)[1]
    assert merged.message == "take their a" and set(merged.datasets) == {"a"}
    assert pq.read_table(Path(root) / "a.parquet").num_rows == 110
    assert set(repo.tracked()) == {"a"} and (Path(root) / "b.parquet").exists()  # untracked, left in place


def test_ours_or_theirs_on_a_dataset_in_no_conflict_is_refused(parted: tuple[Repo, str, str]) -> None:
    """--theirs on a dataset only we changed silently undid our change."""
    repo, _base, root = parted
    ours, _theirs = _diverge(repo, Path(root), {"b": 12}, {"a": 101})
    code, out = _in(Path(root), "merge", "other", "--theirs", "b", "--ours", "a")
    assert code == 2
    assert "--ours/--theirs name datasets that are in no conflict: a (it gets theirs), b (it gets yours)" in out
    assert repo.resolve("HEAD") == ours and pq.read_table(Path(root) / "b.parquet").num_rows == 12
    result = repo.merge("other")
    assert result.taken == {"a": "theirs"} and pq.read_table(Path(root) / "b.parquet").num_rows == 12


def test_merge_refuses_to_overwrite_uncommitted_changes(parted: tuple[Repo, str, str]) -> None:
    repo, _base, root = parted
    ours, _theirs = _diverge(repo, Path(root), {"b": 12}, {"a": 101})
    _write(Path(root) / "a.parquet", 55, tag="mine")  # not committed
    objects = sorted((Path(root) / ".datakeep" / "objects").rglob("*"))
    code, out = _in(Path(root), "merge", "other")
    assert code == 2 and "uncommitted" in out
    assert repo.resolve("HEAD") == ours and pq.read_table(Path(root) / "a.parquet").num_rows == 55
    assert sorted((Path(root) / ".datakeep" / "objects").rglob("*")) == objects  # no merge commit left over


def test_two_people_push_pull_and_merge_through_a_remote(tmp_path: Path) -> None:
    alice, bob, remote = tmp_path / "alice", tmp_path / "bob", tmp_path / "remote"
    repo_a = Repo.init(alice)
    _write(alice / "flights.parquet", 50)
    _write(alice / "airports.parquet", 5)
    repo_a.add_all([alice / "flights.parquet", alice / "airports.parquet"], key=["id"])
    _commit(repo_a, "first")
    assert _in(alice, "remote", "add", "origin", str(remote))[0] == 0
    assert _in(alice, "push", "origin", "main")[0] == 0
    assert _in(tmp_path, "clone", str(remote), "bob")[0] == 0
    _write(bob / "flights.parquet", 60)
    assert _in(bob, "commit", "-m", "bob: more flights")[0] == 0
    assert _in(bob, "push", "origin", "main")[0] == 0

    _write(alice / "airports.parquet", 6, tag="fixed")
    _commit(repo_a, "alice: airports fixed")
    code, out = _in(alice, "push", "origin", "main")
    assert code == 2 and "datakeep merge" in out
    code, out = _in(alice, "pull", "origin", "main")
    assert code == 2 and "datakeep merge origin/main" in out
    code, out = _in(alice, "merge", "origin/main")
    assert code == 0 and "flights (theirs)" in out, out
    assert _in(alice, "push", "origin", "main")[0] == 0
    assert _in(bob, "pull", "origin", "main")[0] == 0
    for folder in (alice, bob):
        assert pq.read_table(folder / "flights.parquet").num_rows == 60
        assert pq.read_table(folder / "airports.parquet").column("v")[0].as_py() == "fixed0"
    assert Repo.open(bob).resolve("HEAD") == repo_a.resolve("HEAD")


def test_untracked_data_at_a_new_datasets_path_is_not_overwritten(parted: tuple[Repo, str, str]) -> None:
    """As git refuses to overwrite untracked files: checkout and merge of a commit that brings
    dataset c refuse while c.parquet holds other data, and go ahead when it holds c's rows."""
    repo, _base, root = parted
    repo.switch("other")
    _write(Path(root) / "c.parquet", 3, tag="theirs")
    repo.add(Path(root) / "c.parquet")
    _commit(repo, "theirs: c")
    repo.switch("main")  # c is not tracked on main; its file stays, as checkout leaves files
    assert "c" not in repo.tracked()
    pq.write_table(pa.table({"mine": ["precious"]}), Path(root) / "c.parquet")
    for args in (["merge", "other"], ["checkout", "other"]):
        code, out = _in(Path(root), *args)
        assert code == 2 and "c (untracked data at its path)" in out, (args, out)
        assert pq.read_table(Path(root) / "c.parquet").column_names == ["mine"]
    _write(Path(root) / "c.parquet", 3, tag="theirs")  # the same rows as theirs: nothing to lose
    assert repo.merge("other").kind == "fast-forward"


def test_pull_does_not_overwrite_untracked_data_at_a_new_datasets_path(tmp_path: Path) -> None:
    alice, bob, remote = tmp_path / "alice", tmp_path / "bob", tmp_path / "remote"
    repo_a = Repo.init(alice)
    _write(alice / "a.parquet", 5)
    repo_a.add(alice / "a.parquet")
    _commit(repo_a, "first")
    assert _in(alice, "remote", "add", "origin", str(remote))[0] == 0
    assert _in(alice, "push", "origin", "main")[0] == 0
    assert _in(tmp_path, "clone", str(remote), "bob")[0] == 0
    _write(alice / "c.parquet", 3)
    repo_a.add(alice / "c.parquet")
    _commit(repo_a, "c arrives")
    assert _in(alice, "push", "origin", "main")[0] == 0
    pq.write_table(pa.table({"mine": ["precious"]}), bob / "c.parquet")
    code, out = _in(bob, "pull", "origin", "main")
    assert code == 2 and "c (untracked data at its path)" in out, out
    assert pq.read_table(bob / "c.parquet").column_names == ["mine"]


def test_forcing_the_current_branch_elsewhere_moves_the_working_tree_with_it(parted: tuple[Repo, str, str]) -> None:
    """Taking theirs as pull suggests (`branch -f main ID`): the ref alone moved, the files stayed
    ours, and the next commit undid their change."""
    repo, _base, root = parted
    ours, theirs = _diverge(repo, Path(root), {"a": 90}, {"a": 110})
    _write(Path(root) / "b.parquet", 7, tag="mine")  # not committed: the move must not lose it
    code, out = _in(Path(root), "branch", "-f", "main", theirs)
    assert code == 2 and "uncommitted changes in b" in out and repo.resolve("main") == ours
    repo.checkout("HEAD", name="b", force=True)
    code, out = _in(Path(root), "branch", "-f", "main", theirs)
    assert code == 0, out
    assert f"branch main → {theirs[:10]} (the working tree follows)" in out
    assert f"warning: commit {ours[:10]} is left behind" in out
    assert repo.current_branch() == "main" and repo.resolve("HEAD") == theirs
    assert pq.read_table(Path(root) / "a.parquet").num_rows == 110
    assert {row.name: row.state for row in repo.status()} == {"a": "unchanged", "b": "unchanged"}


def test_leaving_a_commit_made_on_a_detached_head_warns(parted: tuple[Repo, str, str]) -> None:
    repo, base, root = parted
    repo.checkout(base)
    _write(Path(root) / "a.parquet", 5)
    lost = _commit(repo, "on a detached HEAD")
    code, out = _in(Path(root), "switch", "main")
    assert code == 0 and f"warning: commit {lost[:10]} is left behind" in out and f"branch NAME {lost}" in out
    repo.checkout(lost)
    repo.tag("kept")
    assert repo.switch("main").left_behind is None  # a tag holds it


def test_log_of_a_range_lists_what_one_side_adds(parted: tuple[Repo, str, str]) -> None:
    repo, base, root = parted
    ours, theirs = _diverge(repo, Path(root), {"a": 90}, {"a": 110})
    assert [oid for oid, _ in repo.log("main..other")] == [theirs]
    assert [oid for oid, _ in repo.log(f"{base}..main")] == [ours]
    code, out = _in(Path(root), "log", "--oneline", "other..main")
    assert code == 0 and out.split()[0] == ours[:10] and len(out.splitlines()) == 1
    code, out = _in(Path(root), "log", "main...other")
    assert code == 2 and "log takes A..B" in out
    with pytest.raises(UsageError, match="limit is how many commits"):
        repo.log(limit=-1)


def test_an_author_with_a_line_break_is_refused(parted: tuple[Repo, str, str]) -> None:
    _repo, _base, root = parted
    _write(Path(root) / "a.parquet", 3)
    code, out = _in(Path(root), "commit", "-m", "x", "--author", "Ann\nAuthor: Mallory")
    assert code == 2 and "holds a line break" in out
