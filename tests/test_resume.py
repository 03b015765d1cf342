"""Resumed commits (datakeep/resume.py): a file that grew by an append is decoded only from its
last committed row group on, and what the commit builds is exactly what reading the whole file
builds — the same snapshot id, the same chunks, the same statistics — and restores exactly.
Real Parquet files and repositories in tmp_path."""

from __future__ import annotations

import os
import pickle
import tempfile
import threading
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datakeep.api import Repo
from datakeep.records.manifest import Manifest
from tests.conftest import SMALL_CHUNKS, make_table
from tests.conftest import write as write_now

ROWS = 150_000
GROUP = 70_000  # row groups that do not line up with the 65,536-row blocks


def write(path: Path, table: pa.Table, **options: object) -> Path:
    """Write ``table`` as a file last modified a second ago: a commit keeps no resume record of a
    file written within the last moments (it could still be being written)."""
    return settle(write_now(path, table, **options))


def settle(path: Path) -> Path:
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - 1_000_000_000))
    return path


def commit(repo: Repo, message: str) -> dict[str, int]:
    return dict(repo.commit(message=message).written)


def same_snapshot(resumed: Manifest, scratch: Manifest) -> None:
    """Everything a snapshot says about its content, equal; only how chunks are stored may differ
    (a resumed commit has a parent to patch against, a scratch one has none)."""
    assert resumed.id == scratch.id
    assert resumed.rows == scratch.rows
    assert resumed.columns == scratch.columns
    assert [(c.id, c.rows) for c in resumed.chunks] == [(c.id, c.rows) for c in scratch.chunks]
    assert resumed.stats == scratch.stats
    assert [f.stats for f in resumed.files] == [f.stats for f in scratch.files]


def scratch_manifest(root: Path, table: pa.Table, key: list[str], **write_options: object) -> Manifest:
    """The snapshot of ``table`` committed into a new repository: nothing to resume from."""
    root.mkdir()
    repo = Repo.init(root, chunk_bytes=SMALL_CHUNKS)
    write(root / "t.parquet", table, **write_options)
    repo.add(root / "t.parquet", name="t", key=key)
    repo.commit(message="scratch")
    return repo.manifest("t")


def committed(
    tmp_path: Path, v1: pa.Table, key: list[str] | None = ("id",), *, written_now: bool = False, encoding: int = 2
) -> tuple[Repo, Path]:
    """A repository at ``tmp_path/p`` with ``v1`` committed as dataset t (t.parquet, in row groups
    of GROUP rows); ``written_now``: with the file's own fresh mtime, not one a second ago."""
    project = tmp_path / "p"
    project.mkdir()
    repo = Repo.init(project, chunk_bytes=SMALL_CHUNKS, encoding=encoding)
    (write_now if written_now else write)(project / "t.parquet", v1, row_group_size=GROUP)
    repo.add(project / "t.parquet", name="t", key=list(key or ()))
    assert commit(repo, "v1")["rows_resumed"] == 0
    return repo, project


def test_an_appended_file_is_read_from_its_last_row_group_on(tmp_path: Path) -> None:
    v1 = make_table(ROWS)
    repo, project = committed(tmp_path, v1)
    v2 = pa.concat_tables([v1, make_table(3_000, seed=1, start_id=ROWS)])
    write(project / "t.parquet", v2, row_group_size=GROUP)
    written = commit(repo, "v2")
    # The point is the start of v1's last row group (140,000): the block boundary before the
    # chunk cut before it is 131,072.
    assert written["rows_resumed"] == 2 * 65_536
    # The decoding the commit started from the first row, before it knew it could resume, is
    # stopped, not left running.
    assert not [t for t in threading.enumerate() if t.name.startswith("datakeep-read-ahead")]
    same_snapshot(repo.manifest("t"), scratch_manifest(tmp_path / "s", v2, ["id"], row_group_size=GROUP))
    assert repo.read("t").equals(v2)
    assert repo.read("t", rev="HEAD~1").equals(v1)


def test_a_file_written_just_now_gets_no_record(tmp_path: Path) -> None:
    v1 = make_table(ROWS)
    repo, project = committed(tmp_path, v1, written_now=True)
    records = project / ".datakeep" / "cache" / "resume"
    assert not records.exists() or not list(records.iterdir())
    v2 = pa.concat_tables([v1, make_table(3_000, seed=1, start_id=ROWS)])
    write(project / "t.parquet", v2, row_group_size=GROUP)
    assert commit(repo, "v2")["rows_resumed"] == 0
    assert repo.read("t").equals(v2)


def test_a_file_written_by_pandas_resumes_though_its_metadata_changed(tmp_path: Path) -> None:
    """pandas stores its RangeIndex (with the row count) in the schema metadata."""
    project = tmp_path / "p"
    project.mkdir()
    repo = Repo.init(project, chunk_bytes=SMALL_CHUNKS)
    frame = make_table(ROWS + 2_000).to_pandas()
    frame.iloc[:ROWS].to_parquet(project / "t.parquet", row_group_size=GROUP)
    settle(project / "t.parquet")
    repo.add(project / "t.parquet", name="t", key=["id"])
    commit(repo, "v1")
    frame.to_parquet(project / "t.parquet", row_group_size=GROUP)
    settle(project / "t.parquet")
    assert b"pandas" in pq.read_schema(project / "t.parquet").metadata
    assert commit(repo, "v2")["rows_resumed"] > 0
    assert repo.read("t").equals(pq.read_table(project / "t.parquet"))


def test_a_change_before_the_last_row_group_reads_the_whole_file(tmp_path: Path) -> None:
    v1 = make_table(ROWS)
    repo, project = committed(tmp_path, v1)
    amounts = v1.column("amount").to_pylist()
    amounts[10] = -1.0  # in the first row group
    v2 = pa.concat_tables([v1, make_table(10, seed=2, start_id=ROWS)]).set_column(
        3, "amount", pa.array(amounts + make_table(10, seed=2, start_id=ROWS).column("amount").to_pylist())
    )
    write(project / "t.parquet", v2, row_group_size=GROUP)
    assert commit(repo, "v2")["rows_resumed"] == 0
    same_snapshot(repo.manifest("t"), scratch_manifest(tmp_path / "s", v2, ["id"], row_group_size=GROUP))


def test_an_edit_leaves_a_record_the_next_append_resumes_from(tmp_path: Path) -> None:
    """The edit's commit fingerprints only its first row group to learn that it cannot resume;
    the record it leaves still needs every group's fingerprint (computed on a thread meanwhile),
    or the append after it would read the whole file again."""
    v1 = make_table(ROWS)
    repo, project = committed(tmp_path, v1)
    amounts = v1.column("amount").to_pylist()
    amounts[10] = -1.0  # in the first row group
    v2 = v1.set_column(3, "amount", pa.array(amounts))
    write(project / "t.parquet", v2, row_group_size=GROUP)
    assert commit(repo, "v2")["rows_resumed"] == 0
    v3 = pa.concat_tables([v2, make_table(3_000, seed=1, start_id=ROWS)])
    write(project / "t.parquet", v3, row_group_size=GROUP)
    assert commit(repo, "v3")["rows_resumed"] == 2 * 65_536
    same_snapshot(repo.manifest("t"), scratch_manifest(tmp_path / "s", v3, ["id"], row_group_size=GROUP))
    assert repo.read("t").equals(v3)


def test_a_new_column_reads_the_whole_file(tmp_path: Path) -> None:
    v1 = make_table(ROWS)
    repo, project = committed(tmp_path, v1)
    v2 = v1.append_column("extra", pa.array(range(ROWS)))
    write(project / "t.parquet", v2, row_group_size=GROUP)
    assert commit(repo, "v2")["rows_resumed"] == 0
    assert repo.read("t").equals(v2)


def test_a_damaged_or_planted_record_is_ignored(tmp_path: Path) -> None:
    v1 = make_table(ROWS)
    repo, project = committed(tmp_path, v1, None)
    (record,) = (project / ".datakeep" / "cache" / "resume").iterdir()

    class Planted:
        """Unpickling this would create a file: a record must never be able to run code."""

        def __reduce__(self) -> tuple[object, tuple[str, str]]:
            return (Path.write_text, (str(tmp_path / "owned"), "x"))  # type: ignore[return-value]

    for damage in (b"not a pickle", pickle.dumps({"format": 1, "relpath": "t\nt.parquet", "point": Planted()})):
        record.chmod(0o644)
        record.write_bytes(damage)
        v2 = pa.concat_tables([v1, make_table(500, seed=3, start_id=ROWS)])
        write(project / "t.parquet", v2, row_group_size=GROUP)
        assert commit(repo, f"after {damage[:5]!r}")["rows_resumed"] == 0
        assert repo.read("t").equals(v2)
        v1 = v2
    assert not (tmp_path / "owned").exists()


def test_an_encoding_1_repository_keeps_its_ids_and_leaves_no_record(tmp_path: Path) -> None:
    table = make_table(ROWS)
    repo, project = committed(tmp_path, table, None, encoding=1)
    from datakeep.hashing import content_id

    assert repo.manifest("t").id == content_id(table, encoding=1)
    assert not (project / ".datakeep" / "cache" / "resume").exists()


def test_a_part_file_of_a_folder_resumes_too(tmp_path: Path) -> None:
    project = tmp_path / "p"
    repo_folder = project / "events"
    repo_folder.mkdir(parents=True)
    repo = Repo.init(project, chunk_bytes=SMALL_CHUNKS)
    small = make_table(100, seed=5)
    big = make_table(ROWS, seed=6, start_id=1_000)
    write(repo_folder / "part-0.parquet", small)
    write(repo_folder / "part-1.parquet", big, row_group_size=GROUP)
    repo.add(repo_folder, name="events", key=["id"])
    commit(repo, "v1")
    grown = pa.concat_tables([big, make_table(777, seed=7, start_id=500_000)])
    write(repo_folder / "part-1.parquet", grown, row_group_size=GROUP)
    written = commit(repo, "v2")
    assert written["rows_resumed"] > 0 and written["files_cached"] == 1
    scratch = tmp_path / "s"
    (scratch / "events").mkdir(parents=True)
    other = Repo.init(scratch, chunk_bytes=SMALL_CHUNKS)
    write(scratch / "events" / "part-0.parquet", small)
    write(scratch / "events" / "part-1.parquet", grown, row_group_size=GROUP)
    other.add(scratch / "events", name="events", key=["id"])
    other.commit(message="scratch")
    same_snapshot(repo.manifest("events"), other.manifest("events"))


@st.composite
def chains(draw: st.DrawFn) -> tuple[pa.Table, list[int], int, bool]:
    """A base table, the rows each later version appends, the row-group size, keyed or not."""
    rows = draw(st.integers(135_000, 160_000))
    appends = draw(st.lists(st.integers(1, 40_000), min_size=1, max_size=3))
    group = draw(st.sampled_from([50_000, 65_536, 70_001, 131_072]))
    keyed = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    table = make_table(rows + sum(appends), seed=seed).select(["id", "region", "amount", "note", "when"])
    return table, [rows, *appends], group, keyed


@settings(max_examples=6, deadline=None)
@given(chains())
def test_resumed_commits_equal_whole_reads_and_restore_exactly(chain: tuple[pa.Table, list[int], int, bool]) -> None:
    table, steps, group, keyed = chain
    key = ["id"] if keyed else []
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        project = root / "p"
        project.mkdir()
        repo = Repo.init(project, chunk_bytes=SMALL_CHUNKS)
        end = 0
        versions = []
        for number, step in enumerate(steps):
            end += step
            version = table.slice(0, end)
            write(project / "t.parquet", version, row_group_size=group)
            if number == 0:
                repo.add(project / "t.parquet", name="t", key=key)
            written = repo.commit(message=f"v{number}").written
            if number == 0:
                assert written["rows_resumed"] == 0
            else:
                # The earlier version's last row group starts at a multiple of ``group``; when the
                # chunk cut before it (at most max_rows back) is past the first block, it resumes.
                last_group_start = (end - step - 1) // group * group
                if last_group_start >= 65_536 + repo.manifest("t").chunking["max_rows"]:
                    assert written["rows_resumed"] > 0
            versions.append(version)
            same_snapshot(repo.manifest("t"), scratch_manifest(root / f"s{number}", version, key, row_group_size=group))
        for back, version in enumerate(reversed(versions)):
            assert repo.read("t", rev=f"HEAD~{back}").equals(version)
        assert pq.read_table(project / "t.parquet").equals(versions[-1])


def test_nested_dictionary_and_view_columns_resume_exactly(tmp_path: Path) -> None:
    rows = ROWS + 5_000

    def table(n: int) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(range(n), pa.int64()),
                "tags": pa.array([[i % 3, None] if i % 5 else None for i in range(n)], pa.list_(pa.int32())),
                "point": pa.array([{"x": float(i), "y": None if i % 7 else "y"} for i in range(n)]),
                "kind": pa.array([("a", "b", "c")[i % 3] for i in range(n)]).dictionary_encode(),
                "text": pa.array([f"row {i}" for i in range(n)], pa.string_view()),
                "when": pa.array(range(n), pa.timestamp("ns", tz="Europe/Berlin")),
            }
        )

    project = tmp_path / "p"
    project.mkdir()
    repo = Repo.init(project, chunk_bytes=SMALL_CHUNKS)
    write(project / "t.parquet", table(ROWS), row_group_size=GROUP)
    repo.add(project / "t.parquet", name="t", key=["id"])
    commit(repo, "v1")
    write(project / "t.parquet", table(rows), row_group_size=GROUP)
    assert commit(repo, "v2")["rows_resumed"] > 0
    same_snapshot(repo.manifest("t"), scratch_manifest(tmp_path / "s", table(rows), ["id"], row_group_size=GROUP))
    assert repo.read("t").equals(pq.read_table(project / "t.parquet").cast(repo.read("t").schema))
    out = tmp_path / "out.parquet"
    repo.checkout("HEAD", name="t", output=out)
    assert pq.read_table(out).equals(pq.read_table(project / "t.parquet"))


def test_status_hashes_an_appended_file_from_its_last_row_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datakeep.snapshot as snapshot

    v1 = make_table(ROWS)
    repo, project = committed(tmp_path, v1)
    v2 = pa.concat_tables([v1, make_table(2_000, seed=4, start_id=ROWS)])
    write(project / "t.parquet", v2, row_group_size=GROUP)
    starts: list[int] = []
    real = snapshot.iter_batches

    def recording(*args: object, **options: object) -> object:
        starts.append(int(options.get("first_row", 0)))  # type: ignore[call-overload]
        return real(*args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(snapshot, "iter_batches", recording)
    (status,) = repo.status()
    assert status.state == "modified" and starts == [2 * 65_536]
    commit(repo, "v2")
    assert repo.manifest("t").id == status.working


def test_the_commit_line_says_how_many_rows_were_not_read_again(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from datakeep.cli import cli

    v1 = make_table(ROWS)
    _, project = committed(tmp_path, v1)
    write(project / "t.parquet", pa.concat_tables([v1, make_table(100, seed=8, start_id=ROWS)]), row_group_size=GROUP)
    result = CliRunner().invoke(cli, ["-C", str(project), "commit", "-m", "appended"])
    assert result.exit_code == 0, result.output
    assert "131,072 unchanged row(s) not read again" in result.output.splitlines()[0]
    write(project / "t.parquet", make_table(ROWS, seed=9), row_group_size=GROUP)
    rewritten = CliRunner().invoke(cli, ["-C", str(project), "commit", "-m", "rewritten"])
    assert rewritten.exit_code == 0 and "not read again" not in rewritten.output


def test_values_that_equal_oddly_are_counted_alike_after_a_resume(tmp_path: Path) -> None:
    """NaN equals nothing, -0.0 equals 0.0, 1 equals 1.0 and True: the value counts resumed from a
    record (which pickles its NaN as a new float object) must merge with the rows after it as the
    counts of one whole read do, over two resumes in a row."""
    nan, inf = float("nan"), float("inf")
    floats = [nan, -0.0, 0.0, inf, -inf, 1.5, None]

    def table(n: int) -> pa.Table:
        return pa.table(
            {
                "id": pa.array(range(n), pa.int64()),
                "f64": pa.array([floats[i % 7] for i in range(n)], pa.float64()),
                "f32": pa.array([floats[i % 5] for i in range(n)], pa.float32()),
                "f16": pa.array(np.array([floats[i % 3] for i in range(n)], dtype=np.float16)),
                "dec": pa.array(
                    [Decimal("1.50") if i % 2 else Decimal("-0.00") for i in range(n)], pa.decimal128(5, 2)
                ),
                "flag": pa.array([i % 3 == 0 for i in range(n)]),
                "text": pa.array([("nan", "NaN", "-0.0", "0")[i % 4] for i in range(n)]),
            }
        )

    project = tmp_path / "p"
    project.mkdir()
    repo = Repo.init(project, chunk_bytes=SMALL_CHUNKS)
    write(project / "t.parquet", table(ROWS), row_group_size=GROUP)
    repo.add(project / "t.parquet", name="t", key=["id"])
    commit(repo, "v1")
    for number, rows in enumerate((ROWS + 5_000, ROWS + 10_000), start=2):
        write(project / "t.parquet", table(rows), row_group_size=GROUP)
        assert commit(repo, f"v{number}")["rows_resumed"] > 0
        scratch = scratch_manifest(tmp_path / f"s{number}", table(rows), ["id"], row_group_size=GROUP)
        same_snapshot(repo.manifest("t"), scratch)
        stats = repo.manifest("t").stats
        assert stats["f64"]["distinct"] == 5  # NaN, one zero, inf, -inf, 1.5
        assert [value for value, _ in stats["f64"]["top"]].count("nan") == 1
        assert stats["f32"]["distinct"] == 4 and stats["f16"]["distinct"] == 2


def test_times_beyond_pythons_datetime_resume_exactly(tmp_path: Path) -> None:
    """A record's statistics state keeps a date's or a timestamp's range as its integers and its
    text, so the range and counts of years Python cannot hold go on from it as a whole read's."""

    def table(n: int) -> pa.Table:
        far = [19_723, 2_933_263, -800_000, None]  # 2024, year 10001, year -221 (days since 1970)
        return pa.table(
            {
                "id": pa.array(range(n), pa.int64()),
                "day": pa.array([far[i % 4] for i in range(n)], pa.date32()),
                "at": pa.array([i * 10**10 if i % 3 else -i for i in range(n)], pa.timestamp("ms", tz="Europe/Berlin")),
            }
        )

    project = tmp_path / "p"
    project.mkdir()
    repo = Repo.init(project, chunk_bytes=SMALL_CHUNKS)
    write(project / "t.parquet", table(ROWS), row_group_size=GROUP)
    repo.add(project / "t.parquet", name="t", key=["id"])
    commit(repo, "v1")
    write(project / "t.parquet", table(ROWS + 5_000), row_group_size=GROUP)
    assert commit(repo, "v2")["rows_resumed"] > 0
    same_snapshot(
        repo.manifest("t"), scratch_manifest(tmp_path / "s", table(ROWS + 5_000), ["id"], row_group_size=GROUP)
    )
    day = repo.manifest("t").stats["day"]
    assert (day["min"], day["max"], day["distinct"]) == ("-0221-09-04", "+10001-01-01", 3)
