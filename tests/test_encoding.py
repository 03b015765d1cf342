"""A repository's canonical encoding (docs/hashing.md): new repositories use 2, a repository whose
config has no "encoding" was made before and keeps 1, and every id it computes is in its own.
Real repositories in tmp_path; the CLI through CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from datakeep.api import Repo
from datakeep.cli import cli
from datakeep.hashing import content_id
from tests.conftest import make_table, write


def config(project: Path) -> dict[str, object]:
    return dict(json.loads((project / ".datakeep" / "config.json").read_text()))


def test_init_writes_the_newest_encoding_unless_told(project: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "new"]).exit_code == 0
    assert runner.invoke(cli, ["init", "old", "--encoding", "1"]).exit_code == 0
    assert config(project / "new")["encoding"] == 2
    assert config(project / "old")["encoding"] == 1
    refused = runner.invoke(cli, ["init", "other", "--encoding", "3"])
    assert refused.exit_code == 2 and "--encoding" in refused.output


def test_a_repository_made_before_encodings_keeps_encoding_1_ids(project: Path) -> None:
    """A config.json as datakeep wrote it before encoding 2: no "encoding" field."""
    repo = Repo.init(project)
    path = project / ".datakeep" / "config.json"
    document = config(project)
    del document["encoding"]
    path.chmod(0o644)
    path.write_text(json.dumps(document))
    table = make_table(3_000)
    write(project / "t.parquet", table)
    repo = Repo.open(project)
    repo.add(project / "t.parquet", name="t", key=["id"])
    repo.commit(message="v1")
    assert repo.manifest("t").id == content_id(table, encoding=1) != content_id(table, encoding=2)
    assert [s.state for s in repo.status()] == ["unchanged"]
    (project / "t.parquet").touch()  # the stat cache misses: status hashes the file, in encoding 1
    assert [s.state for s in repo.status()] == ["unchanged"]


def test_each_encoding_gives_its_own_ids_for_the_same_data(tmp_path: Path) -> None:
    table = make_table(3_000)
    ids = {}
    for encoding in (1, 2):
        root = tmp_path / f"e{encoding}"
        root.mkdir()
        repo = Repo.init(root, encoding=encoding)
        write(root / "t.parquet", table)
        repo.add(root / "t.parquet", name="t")
        repo.commit(message="v1")
        ids[encoding] = repo.manifest("t").id
        assert ids[encoding] == content_id(table, encoding=encoding)
        fsck = CliRunner().invoke(cli, ["-C", str(root), "fsck", "--full"])
        assert fsck.exit_code == 0, fsck.output
    assert ids[1] != ids[2]


def test_an_encoding_this_datakeep_does_not_know_is_refused(project: Path) -> None:
    repo = Repo.init(project)
    write(project / "t.parquet", make_table(100))
    repo.add(project / "t.parquet", name="t")
    path = project / ".datakeep" / "config.json"
    path.chmod(0o644)
    path.write_text(json.dumps({**config(project), "encoding": 3}))
    result = CliRunner().invoke(cli, ["commit", "-m", "v1"])
    assert result.exit_code == 2
    assert "canonical encoding 3" in result.output and "upgrade datakeep" in result.output
