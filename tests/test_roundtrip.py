"""Exact restore: what comes back is the committed table, bit for bit, in the same order."""

from __future__ import annotations

import datetime as dt
import decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datakeep.api import Repo
from datakeep.errors import InputDataError
from tests.conftest import write


def _bits_equal(a: pa.Table, b: pa.Table) -> bool:
    """Equal including NaN positions and the sign of zero (pa.Table.equals treats NaN != NaN)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for left, right in zip(a.columns, b.columns, strict=True):
        if pa.types.is_floating(left.type):
            x = left.to_numpy(zero_copy_only=False)
            y = right.to_numpy(zero_copy_only=False)
            if not np.array_equal(x.view(np.uint8), y.view(np.uint8)):
                same_nulls = np.array_equal(pd.isna(x), pd.isna(y))
                if not same_nulls or not np.array_equal(np.signbit(x), np.signbit(y)):
                    return False
                if not np.allclose(x[~pd.isna(x)], y[~pd.isna(y)], rtol=0, atol=0):
                    return False
        elif not left.equals(right):
            return False
    return True


def _commit_and_read(repo: Repo, table: pa.Table, path: Path) -> tuple[pa.Table, pa.Table]:
    write(path, table)
    repo.add(path, name="t")
    result = repo.commit(message="v1")
    restored_file = path.parent / "restored.parquet"
    repo.checkout(result.id, name="t", output=restored_file)
    return repo.read("t", rev=result.id), pq.read_table(restored_file)


SPECIAL = {
    "floats": pa.table({"f": pa.array([np.nan, None, -0.0, 0.0, np.inf, -np.inf, 1e308])}),
    "nested": pa.table(
        {
            "l": pa.array([[1, None], None, [], [4]], pa.list_(pa.int64())),
            "s": pa.array([{"a": 1, "b": [1.5]}, None, {"a": None, "b": None}, {"a": 2, "b": []}]),
            "m": pa.array([[("x", 1)], None, [], [("y", None)]], pa.map_(pa.string(), pa.int32())),
        }
    ),
    "decimals": pa.table(
        {
            "d128": pa.array([decimal.Decimal("123.45"), None], pa.decimal128(20, 2)),
            "d256": pa.array([decimal.Decimal("1" * 60 + ".5"), decimal.Decimal("-0.5")], pa.decimal256(70, 1)),
        }
    ),
    "times": pa.table(
        {
            "ns_tz": pa.array([1, 2**62], pa.timestamp("ns", tz="America/New_York")),
            "dates": pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31)]),
            "dur": pa.array([1, -5], pa.duration("us")),
            "t64": pa.array([1, 86_399_999_999_999], pa.time64("ns")),
        }
    ),
    "binary": pa.table({"b": pa.array([b"\x00\x01\x00", b"", None], pa.binary()), "big": ["x" * (1 << 20), "y", ""]}),
    "large_and_dict": pa.table(
        {"ls": pa.array(["a", None], pa.large_string()), "dict": pa.array(["p", "q"]).dictionary_encode()}
    ),
    "empty": pa.table({"a": pa.array([], pa.int64()), "s": pa.array([], pa.string())}),
    # Arrow's own extension types, as DuckDB and others write them: not ``pa.ExtensionType``.
    "extensions": pa.table(
        {
            "json": pa.array(['{"a": 1}', None, "[]"], pa.json_()),
            "uuid": pa.array([bytes(range(16)), None, bytes(16)], pa.uuid()),
            "tensor": pa.ExtensionArray.from_storage(
                pa.fixed_shape_tensor(pa.int32(), [2, 2]),
                pa.array([[1, 2, 3, 4], None, [5, 6, 7, 8]], pa.list_(pa.int32(), 4)),
            ),
            "opaque": pa.ExtensionArray.from_storage(
                pa.opaque(pa.binary(), "geometry", "vendor"), pa.array([b"\x00", None, b"wkb"])
            ),
        }
    ),
}


@pytest.mark.parametrize("name", sorted(SPECIAL))
def test_special_values_come_back_exactly(repo: Repo, project: Path, name: str) -> None:
    table = SPECIAL[name]
    read_back, restored = _commit_and_read(repo, table, project / "data" / "t.parquet")
    original = pq.read_table(project / "data" / "t.parquet")
    assert _bits_equal(read_back, original)
    assert _bits_equal(restored, original)
    assert restored.schema.names == table.schema.names


def test_extension_columns_known_before_keep_their_ids(repo: Repo, project: Path) -> None:
    """uuid and bool8 columns committed before extension types were unwrapped generally: the
    ids they got then (pinned here) must not change."""
    table = pa.table(
        {
            "k": [1, 2, 3],
            "uuid": pa.array([(1).to_bytes(16, "big"), None, (2).to_bytes(16, "big")], pa.uuid()),
            "bool8": pa.ExtensionArray.from_storage(pa.bool8(), pa.array([1, 0, None], pa.int8())),
        }
    )
    write(project / "u.parquet", table.select(["k", "uuid"]))
    write(project / "b.parquet", table.select(["k", "bool8"]))
    repo.add(project / "u.parquet", name="u", key=["k"])
    repo.add(project / "b.parquet", name="b", key=["k"])
    repo.commit(message="extensions")
    assert repo.manifest("u").id == "e2f9350efa1926845e1cedde2f2b9224"
    assert repo.manifest("b").id == "4bf574baf76edfca01c1686716073673"


def test_pandas_metadata_survives(repo: Repo, project: Path) -> None:
    frame = pd.DataFrame(
        {"x": [1, 2, 3], "cat": pd.Categorical(["a", "b", "a"])}, index=pd.Index([10, 20, 30], name="row")
    )
    frame.to_parquet(project / "f.parquet")
    repo.add(project / "f.parquet", name="f")
    repo.commit(message="pandas")
    back = repo.read("f").to_pandas()
    pd.testing.assert_frame_equal(back, frame)


def test_folder_dataset_keeps_its_layout(repo: Repo, project: Path) -> None:
    for year in (2023, 2024):
        for part in range(2):
            write(project / "events" / f"year={year}" / f"part-{part}.parquet", pa.table({"v": [year * 10 + part]}))
    repo.add(project / "events", name="events")
    commit = repo.commit(message="events").id
    repo.checkout(commit, name="events", output=project / "copy")
    files = sorted(p.relative_to(project / "copy").as_posix() for p in (project / "copy").rglob("*.parquet"))
    assert files == [f"year={y}/part-{p}.parquet" for y in (2023, 2024) for p in range(2)]
    assert pq.read_table(project / "copy" / "year=2024" / "part-1.parquet").column("v").to_pylist() == [20241]
    assert repo.read("events").column("v").to_pylist() == [20230, 20231, 20240, 20241]


_scalar = st.sampled_from(
    [
        (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
        (pa.int8(), st.integers(-128, 127)),
        (pa.float64(), st.floats(allow_nan=True)),
        (pa.float32(), st.floats(width=32, allow_nan=True)),
        (pa.string(), st.text(max_size=20)),
        (pa.binary(), st.binary(max_size=20)),
        (pa.bool_(), st.booleans()),
        (pa.list_(pa.int32()), st.lists(st.one_of(st.none(), st.integers(-(2**31), 2**31 - 1)), max_size=4)),
        (pa.timestamp("ms", tz="UTC"), st.integers(-(2**40), 2**40)),
    ]
)


@st.composite
def arrow_tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, 40))
    columns = {}
    for index in range(draw(st.integers(1, 4))):
        data_type, values = draw(_scalar)
        column = draw(st.lists(st.one_of(st.none(), values), min_size=rows, max_size=rows))
        columns[f"c{index}"] = pa.array(column, type=data_type)
    return pa.table(columns)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=arrow_tables())
def test_random_tables_round_trip(tmp_path_factory: pytest.TempPathFactory, table: pa.Table) -> None:
    root = tmp_path_factory.mktemp("rt")
    repo = Repo.init(root)
    write(root / "t.parquet", table)
    repo.add(root / "t.parquet", name="t")
    commit = repo.commit(message="random").id
    assert _bits_equal(repo.read("t", rev=commit), pq.read_table(root / "t.parquet"))


def test_chunks_shared_across_encodings_restore_with_each_snapshots_types(repo: Repo, project: Path) -> None:
    from tests.conftest import make_table

    table = make_table(30_000)
    write(project / "a.parquet", table)
    large = table.cast(
        pa.schema([f.with_type(pa.large_string()) if f.type == pa.string() else f for f in table.schema])
    )
    write(project / "b.parquet", large)
    repo.add(project / "a.parquet", name="a")
    repo.add(project / "b.parquet", name="b")
    result = repo.commit(message="same rows, two string encodings")
    assert repo.manifest("a").id == repo.manifest("b").id
    assert result.written["chunks_reused"] > 0  # b's chunks are a's
    assert repo.read("b").schema == pq.read_schema(project / "b.parquet")
    assert repo.read("b").equals(pq.read_table(project / "b.parquet"))
    assert repo.read("a").equals(pq.read_table(project / "a.parquet"))


def test_view_columns_commit_patch_and_restore_exactly(tmp_path: Path) -> None:
    # string_view and binary_view are encodings of string and binary (docs/hashing.md): the same
    # snapshot, patched like any other column, restored with the file's own view types.
    from tests.conftest import SMALL_CHUNKS

    repo = Repo.init(tmp_path, chunk_bytes=SMALL_CHUNKS)
    rng = np.random.default_rng(0)
    names = [f"name-{i}-{rng.integers(10**9)}" for i in range(20_000)]

    def views(values: list[str]) -> pa.Table:
        return pa.table(
            {
                "id": np.arange(len(values)),
                "s": pa.array(values, pa.string_view()),
                "b": pa.array([v.encode() + b"\x00" for v in values], pa.binary_view()),
                "nested": pa.array([[v] for v in values], pa.list_(pa.string_view())),
            }
        )

    first = views(names)
    path = tmp_path / "v.parquet"
    pq.write_table(first, path)
    repo.add(path, name="v", key=("id",))
    repo.commit(message="views")
    edited = list(names)
    for i in rng.choice(len(names), 200, replace=False):
        edited[i] = "edited " + edited[i]
    second = views(edited)
    pq.write_table(second, path)
    repo.commit(message="edited")
    assert [s.state for s in repo.status()] == ["unchanged"]
    assert any(chunk.depth for chunk in repo.manifest("v").chunks)  # stored as patches
    assert repo.read("v", rev="HEAD~1").equals(first)
    assert repo.read("v").equals(second)
    assert repo.read("v").schema == second.schema
    plain = second.cast(
        pa.schema([("id", pa.int64()), ("s", pa.string()), ("b", pa.binary()), ("nested", pa.list_(pa.string()))])
    )
    pq.write_table(plain, path)
    assert [s.state for s in repo.status()] == ["unchanged"]
    assert repo.diff("HEAD~1", "HEAD").dataset("v").rows.modified == 200
    assert not repo.fsck(full=True).problems


def test_files_written_by_polars_round_trip(repo: Repo, project: Path) -> None:
    polars = pytest.importorskip("polars")
    frame = polars.DataFrame(
        {
            "id": [1, 2, 3],
            "cat": polars.Series(["a", "b", "a"], dtype=polars.Categorical),
            "level": polars.Series(["lo", "hi", "lo"], dtype=polars.Enum(["lo", "hi"])),
            "tags": [["x"], [], None],
            "at": polars.Series([dt.datetime(2024, 1, 1)] * 3).dt.replace_time_zone("Europe/Berlin"),
        }
    )
    frame.write_parquet(project / "p.parquet")
    repo.add(project / "p.parquet", name="p", key=["id"])
    repo.commit(message="polars")
    assert repo.read("p").equals(pq.read_table(project / "p.parquet"))


def test_a_type_pyarrow_cannot_read_is_named_as_such(repo: Repo, project: Path) -> None:
    """Not 'damaged': re-copying a file of 128-bit integers would not help."""
    polars = pytest.importorskip("polars")
    polars.DataFrame({"big": polars.Series([1, 2], dtype=polars.Int128)}).write_parquet(project / "wide.parquet")
    with pytest.raises(InputDataError, match="cannot read") as caught:
        repo.add(project / "wide.parquet", name="wide")
    assert "damaged" not in str(caught.value) and "int64 or decimal" in str(caught.value)
