"""The Python API at its edges: a repository that vanished, what one call means with and without
an option, plain strings where lists go, user mistakes as datakeep errors, and the remote verbs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakeep.api import Repo
from datakeep.errors import DatakeepError, DatasetError, NotARepositoryError, UsageError
from tests.conftest import write


def _one_commit(repo: Repo, project: Path, table: pa.Table | None = None) -> Path:
    path = write(project / "data" / "x.parquet", table if table is not None else pa.table({"a": [1, 2, 3]}))
    repo.add(path)
    repo.commit(message="first")
    return path


def _two_versions(repo: Repo, project: Path) -> Path:
    path = write(project / "data" / "x.parquet", pa.table({"id": [1, 2, 3], "v": [1.0, 2.0, 3.0]}))
    repo.add(path, key="id")
    repo.commit(message="v1")
    write(path, pa.table({"id": [1, 2, 4], "v": [1.0, 2.5, 4.0]}))
    repo.commit(message="v2")
    return path


# -- a repository whose .datakeep/ folder is gone ----------------------------------------------
@pytest.mark.parametrize(
    "verb",
    [
        pytest.param(lambda r: r.status(), id="status"),
        pytest.param(lambda r: r.log(), id="log"),
        pytest.param(lambda r: r.fsck(), id="fsck"),
        pytest.param(lambda r: r.tracked(), id="tracked"),
        pytest.param(lambda r: r.add("data/x.parquet"), id="add"),
        pytest.param(lambda r: r.commit(message="second", allow_empty=True), id="commit"),
        pytest.param(lambda r: r.tag("v1"), id="tag"),
        pytest.param(lambda r: r.branches(), id="branches"),
        pytest.param(lambda r: r.read("x"), id="read"),
        pytest.param(lambda r: r.diff("HEAD", "HEAD"), id="diff"),
        pytest.param(lambda r: r.checkout("HEAD", force=True), id="checkout"),
    ],
)
def test_every_verb_refuses_once_the_store_is_gone(repo: Repo, project: Path, verb: object) -> None:
    _one_commit(repo, project)
    shutil.rmtree(project / ".datakeep")
    with pytest.raises(NotARepositoryError, match="folder is gone"):
        verb(repo)  # type: ignore[operator]
    assert not (project / ".datakeep").exists()  # nothing half-made for `Repo.open` to reject


def test_a_fresh_repo_object_works_after_init_again(repo: Repo, project: Path) -> None:
    _one_commit(repo, project)
    shutil.rmtree(project / ".datakeep")
    Repo.init(project)
    assert repo.log() == []  # the same object reads the new, empty repository


# -- checkout takes the branch, with or without output ----------------------------------------
def test_checkout_to_output_takes_the_branch_over_a_tag_of_the_same_name(repo: Repo, project: Path) -> None:
    path = _one_commit(repo, project, pa.table({"a": [1]}))
    repo.tag("rel")
    write(path, pa.table({"a": [2]}))
    repo.commit(message="second")
    repo.branch("rel")
    exported = repo.checkout("rel", name="x", output=project / "export.parquet")
    repo.checkout("rel", name="x")
    assert pq.read_table(exported).to_pydict() == {"a": [2]}
    assert pq.read_table(path).to_pydict() == {"a": [2]}
    # Elsewhere the tag wins, as in git.
    assert repo.read("x", "rel").to_pydict() == {"a": [1]}


# -- read(columns=[]) --------------------------------------------------------------------------
def test_read_no_columns_keeps_the_row_count(repo: Repo, project: Path) -> None:
    path = _one_commit(repo, project)
    table = repo.read("x", columns=[])
    assert table.num_columns == 0
    assert table.num_rows == pq.read_table(path, columns=[]).num_rows == 3


def test_read_no_columns_of_a_folder_counts_every_file(repo: Repo, project: Path) -> None:
    write(project / "parts" / "year=2023" / "a.parquet", pa.table({"v": [1, 2]}))
    write(project / "parts" / "year=2024" / "b.parquet", pa.table({"v": [3, 4, 5]}))
    repo.add(project / "parts")
    repo.commit(message="parts")
    assert repo.read("parts", columns=[], partitions=True).num_rows == 5


# -- a plain string where a list goes is one item ----------------------------------------------
def test_add_with_a_string_key_tracks_that_column(repo: Repo, project: Path) -> None:
    path = write(project / "data" / "x.parquet", pa.table({"id": [1, 2], "i": [0, 0], "d": [5, 5]}))
    repo.add(path, key="id")
    assert repo.tracked()["x"].key == ("id",)
    repo.add(path, key="i,d")  # as `--key i,d` and diff(key="i,d") read it
    assert repo.tracked()["x"].key == ("i", "d")


def test_add_all_and_read_take_a_plain_string(repo: Repo, project: Path) -> None:
    write(project / "data" / "x.parquet", pa.table({"id": [1], "name": ["a"]}))
    assert repo.add_all("data/x.parquet", key="id") == ["x"]
    repo.commit(message="c")
    assert repo.read("x", columns="name").column_names == ["name"]


def test_diff_takes_one_fail_on_condition_as_a_string(repo: Repo, project: Path) -> None:
    _two_versions(repo, project)
    result = repo.diff("HEAD~1", "HEAD", fail_on="rows.removed > 0")
    assert result.failures


def test_merge_takes_one_dataset_as_a_string(repo: Repo, project: Path) -> None:
    path = _one_commit(repo, project, pa.table({"a": [1]}))
    repo.branch("other")
    write(path, pa.table({"a": [2]}))
    repo.commit(message="ours")
    repo.switch("other")
    write(path, pa.table({"a": [3]}))
    repo.commit(message="theirs")
    repo.switch("main")
    repo.merge("other", ours="x")
    assert repo.read("x").to_pydict() == {"a": [2]}


# -- DiffResult.dataset ------------------------------------------------------------------------
def test_diff_result_names_the_datasets_it_holds(repo: Repo, project: Path) -> None:
    _two_versions(repo, project)
    result = repo.diff("HEAD~1", "HEAD")
    with pytest.raises(DatasetError, match=r"no dataset 'y' \(it compared: 'x'\)"):
        result.dataset("y")


# -- user mistakes are datakeep errors (or mean the obvious) ----------------------------------
def test_init_refuses_an_unknown_encoding(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="unknown canonical encoding 3"):
        Repo.init(tmp_path / "r", encoding=3)
    with pytest.raises(UsageError, match="chunk_bytes"):
        Repo.init(tmp_path / "r", chunk_bytes=0)
    assert not (tmp_path / "r").exists()


def test_init_refuses_a_file(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match="afile is a file, not a folder"):
        Repo.init(tmp_path / "afile")
    with pytest.raises(UsageError, match="afile is a file"):
        Repo.init(tmp_path / "afile" / "inside")


def test_commit_without_a_message_string(repo: Repo, project: Path) -> None:
    _one_commit(repo, project)
    with pytest.raises(UsageError, match="a commit needs a message"):
        repo.commit(message=None)  # type: ignore[arg-type]


def test_a_revision_of_none_is_head(repo: Repo, project: Path) -> None:
    _one_commit(repo, project)
    assert repo.read("x", rev=None).equals(repo.read("x"))
    assert repo.resolve(None) == repo.resolve("HEAD")
    with pytest.raises(UsageError, match="a revision is a string"):
        repo.read("x", rev=1)  # type: ignore[arg-type]


def test_diff_tolerance_as_the_cli_spells_it(repo: Repo, project: Path) -> None:
    _two_versions(repo, project)
    spelled = repo.diff("HEAD~1", "HEAD", tolerance="v=1")
    mapped = repo.diff("HEAD~1", "HEAD", tolerance={"v": 1})
    assert spelled.to_dict() == mapped.to_dict()
    assert spelled.dataset("x").rows.modified == 0
    with pytest.raises(UsageError, match="expects NAME=VALUE"):
        repo.diff("HEAD~1", "HEAD", tolerance="v")
    with pytest.raises(UsageError, match="is not a number"):
        repo.diff("HEAD~1", "HEAD", tolerance={"v": "lots"})


@pytest.mark.parametrize("sample", ["5", -1, 2.5, True])
def test_diff_sample_must_be_a_count(repo: Repo, project: Path, sample: object) -> None:
    _two_versions(repo, project)
    with pytest.raises(UsageError, match="sample is how many changed rows"):
        repo.diff("HEAD~1", "HEAD", sample=sample)


def test_a_list_of_other_than_strings_is_refused(repo: Repo, project: Path) -> None:
    path = write(project / "data" / "x.parquet", pa.table({"id": [1]}))
    with pytest.raises(UsageError, match="key takes a list of strings"):
        repo.add(path, key=5)  # type: ignore[arg-type]
    with pytest.raises(DatakeepError, match="key takes strings"):
        repo.add(path, key=["id", 1])  # type: ignore[list-item]


# -- repr ----------------------------------------------------------------------------------------
def test_repr_names_the_root_and_where_head_is(repo: Repo, project: Path) -> None:
    assert repr(repo) == f"<datakeep.Repo {project.resolve()}, branch main, no commits yet>"
    _one_commit(repo, project)
    assert repr(repo) == f"<datakeep.Repo {project.resolve()}, branch main>"
    head = repo.resolve()
    repo.checkout(head)
    assert repr(repo) == f"<datakeep.Repo {project.resolve()}, detached at {head[:10]}>"
    shutil.rmtree(project / ".datakeep")
    assert "no repository there any more" in repr(repo)


# -- remotes -------------------------------------------------------------------------------------
@pytest.fixture
def remotes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside the project (a remote inside it is refused)."""
    return tmp_path_factory.mktemp("remotes")


def test_push_clone_and_pull_through_a_folder_remote(repo: Repo, project: Path, remotes: Path) -> None:
    shared = remotes / "team"
    path = _one_commit(repo, project)
    assert repo.add_remote("origin", str(shared)) == str(shared)
    assert repo.remotes() == {"origin": str(shared)}
    pushed = repo.push()
    assert [(u.ref, u.status) for u in pushed.updates] == [("refs/heads/main", "new")]

    copy = Repo.clone(str(shared), shared.parent / "copy")
    assert isinstance(copy, Repo)
    assert copy.read("x").equals(repo.read("x"))
    assert pq.read_table(copy.root / "data" / "x.parquet").equals(pq.read_table(path))

    write(path, pa.table({"a": [1, 2, 3, 4]}))
    second = repo.commit(message="second").id
    repo.push("origin", "main")
    pulled = copy.pull()
    assert pulled.commit == second == copy.resolve()
    assert copy.read("x").num_rows == 4
    assert pq.read_table(copy.root / "data" / "x.parquet").num_rows == 4
    assert [Path(o.url).is_file() for o in copy.ls_files("HEAD:x")] == [True]

    assert repo.remove_remote("origin") == str(shared)
    assert repo.remotes() == {}


def test_pull_without_checkout_leaves_the_working_tree(repo: Repo, project: Path, remotes: Path) -> None:
    shared = remotes / "team"
    path = _one_commit(repo, project)
    repo.add_remote("origin", str(shared))
    repo.push()
    copy = Repo.clone(str(shared), shared.parent / "copy")
    write(path, pa.table({"a": [9]}))
    repo.commit(message="second")
    repo.push()
    copy.pull(checkout=False)
    assert copy.read("x").to_pydict() == {"a": [9]}
    assert pq.read_table(copy.root / "data" / "x.parquet").to_pydict() == {"a": [1, 2, 3]}
