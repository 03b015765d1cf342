"""A dataset folder's files, listed as text, are the files pathlib's walk of it found: the same
names in the same order whatever the folder holds (so the same ids)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datakeep import tracking

PARQUET = tracking.MAGIC + b"\0" * 8 + tracking.MAGIC


def _walked(folder: Path) -> list[Path]:
    """Every entry under ``folder`` as ``rglob`` walks it, but not into hidden or ``_`` folders."""
    found = []
    for path in sorted(folder.iterdir()):
        found.append(path)
        if path.is_dir() and not path.is_symlink() and not path.name.startswith((".", "_")):
            found.extend(_walked(path))
    return found


def _by_pathlib(folder: Path) -> list[tuple[str, Path]]:
    """The files `tracking.folder_files` listed when it walked with pathlib."""

    def counts(relative: Path, absolute: Path) -> bool:
        if any(part.startswith((".", "_")) for part in relative.parts):
            return False
        name = absolute.name
        if name.lower().endswith(tracking.PARQUET_SUFFIXES):
            return absolute.is_file()
        if "." in name or not absolute.is_file():
            return False
        return tracking.starts_with_magic(absolute)

    return sorted((p.relative_to(folder).as_posix(), p) for p in _walked(folder) if counts(p.relative_to(folder), p))


def _same_as_pathlib(folder: Path) -> list[str]:
    listed = tracking.folder_files(folder)
    assert listed == _by_pathlib(folder)
    assert all(str(absolute) == str(folder / inner) for inner, absolute in listed)
    return [inner for inner, _ in listed]


def test_bookkeeping_links_and_nested_folders_list_as_pathlib_lists_them(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    for inner in (
        "year=2024/month=1/part-0.parquet",
        "year=2024/month=1/part-1.PQ",
        "year=2024/month=10/part-0.parq",
        "year=2024/.hidden/part-0.parquet",  # a hidden folder is not entered
        "year=2024/_temporary/0/part-0.parquet",
        "year=2024/month=2/.part-0.parquet.crc",
        "_SUCCESS",
        "_metadata",
        "000000_0",  # Hive: no extension, told by its magic
        "a/b/c/d/000001_0",
        "README",  # no extension and no magic
        "notes.md",
        "data.csv",
        "x.parquet/part-0.parquet",  # Spark's folder named like a file
        "Z.Parquet",
        "é/ü.parquet",
        "sp ace/a b.parquet",
    ):
        path = folder / inner
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"not parquet" if inner in ("README", "notes.md", "data.csv") else PARQUET)
    (folder / "empty").mkdir()
    (folder / "linked.parquet").symlink_to(folder / "Z.Parquet")  # a link to a file counts
    (folder / "dangling.parquet").symlink_to(folder / "gone.parquet")
    (folder / "loop.parquet").symlink_to(folder / "loop.parquet")
    (folder / "linked_dir").symlink_to(folder / "year=2024")  # a linked folder is not entered
    (folder / "dir.parquet").symlink_to(folder / "a")
    (folder / "000002_0").symlink_to(folder / "000000_0")

    listed = _same_as_pathlib(folder)
    assert listed == [
        "000000_0",
        "000002_0",
        "Z.Parquet",
        "a/b/c/d/000001_0",
        "linked.parquet",
        "sp ace/a b.parquet",
        "x.parquet/part-0.parquet",
        "year=2024/month=1/part-0.parquet",
        "year=2024/month=1/part-1.PQ",
        "year=2024/month=10/part-0.parq",
        "é/ü.parquet",
    ]


_NAME = st.sampled_from(
    ["p.parquet", "P.PQ", "q.parq", "_SUCCESS", ".crc", "_x.parquet", ".h.parquet", "000_0", "r.txt", "a-b.parquet"]
)
_FOLDER = st.sampled_from(["k=1", "k=2", "k=10", "_temporary", ".hidden", "x.parquet", "é"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(layout=st.lists(st.tuples(st.lists(_FOLDER, max_size=3), _NAME), max_size=12))
def test_any_layout_lists_as_pathlib_lists_it(tmp_path_factory: pytest.TempPathFactory, layout: list) -> None:
    folder = tmp_path_factory.mktemp("walk")
    for parents, name in layout:
        path = folder.joinpath(*parents, name)
        if path.parent.exists() and not path.parent.is_dir():
            continue  # a file already has the folder's name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            path.write_bytes(PARQUET)
    _same_as_pathlib(folder)


def test_a_project_path_is_pathlib_s_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datakeep.errors import DatakeepError
    from datakeep.repo import Repository

    root = tmp_path / "project"
    (root / "events" / "k=1").mkdir(parents=True)
    repo = Repository(root)
    monkeypatch.chdir(root / "events")
    for given_path in (
        root / "events" / "k=1" / "p.parquet",
        str(root) + "//events/./k=1/../k=1/p.parquet",
        "k=1/p.parquet",
        "../events/",
        root,
        ".",
        "..",
    ):
        expected = Path(os.path.abspath(given_path)).relative_to(root).as_posix()
        assert repo.relpath(given_path) == expected
    for outside in (tmp_path, tmp_path / "project2" / "x.parquet", "../../elsewhere"):
        with pytest.raises(DatakeepError, match="outside the repository"):
            repo.relpath(outside)


def test_a_file_s_project_path_is_pathlib_s(tmp_path: Path) -> None:
    root = tmp_path / "project"
    for absolute in (
        root / "events" / "k=1" / "p.parquet",
        root / "a.parquet",
        Path(str(root) + "//events/./k=1/p.parquet"),
        root,
    ):
        assert tracking.project_path(root, absolute) == absolute.relative_to(root).as_posix()
    assert tracking.project_path(Path("/"), Path("/srv/data/p.parquet")) == "srv/data/p.parquet"
    for outside in (tmp_path / "project2" / "p.parquet", tmp_path):
        with pytest.raises(ValueError):
            tracking.project_path(root, outside)
