"""`schema infer`: plain YAML out, and `validate` passes the schema on the file it came from."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datakeep.cli import cli
from datakeep.errors import InputDataError, SchemaConfigError
from datakeep.schemas import infer_schema, load_entity
from datakeep.validate import render_text, validate_file

N = 6
UTC = dt.timezone.utc


def with_nulls(values: list[object], type_: pa.DataType) -> pa.Array:
    """``values`` cycled to N rows, every third one null."""
    return pa.array([None if i % 3 == 2 else values[i % len(values)] for i in range(N)], type=type_)


def dense(values: list[object], type_: pa.DataType) -> pa.Array:
    return pa.array([values[i % len(values)] for i in range(N)], type=type_)


# One column per kind of Arrow type a Parquet file holds; each must survive infer -> validate.
COLUMNS: dict[str, Callable[[], pa.Array]] = {
    "int8": lambda: dense([-128, 0, 127], pa.int8()),
    "int64_nulls": lambda: with_nulls([-(2**63), 2**63 - 1], pa.int64()),
    "int64_big_nulls": lambda: with_nulls([2**53 + 1, 2**62 + 3], pa.int64()),
    "uint64_extremes": lambda: dense([0, 2**64 - 1], pa.uint64()),
    "uint8_nulls": lambda: with_nulls([0, 255], pa.uint8()),
    "float64_nan_inf": lambda: dense([1.5, math.nan, -math.inf, math.inf, -0.0, None], pa.float64()),
    "float64_only_nan": lambda: dense([math.nan], pa.float64()),
    "float32": lambda: with_nulls([1.1, -3.4e38], pa.float32()),
    "float16": lambda: dense([0.5, -2.0], pa.float16()),
    "string": lambda: with_nulls(["a", "", " x ", "ümlaut ✓"], pa.string()),
    "large_string": lambda: dense(["a", "b"], pa.large_string()),
    "string_view": lambda: with_nulls(["a", "b"], pa.string_view()),
    "category": lambda: with_nulls(["red", "green"], pa.string()).dictionary_encode(),
    "int_dictionary": lambda: dense([3, 1], pa.int64()).dictionary_encode(),
    "bool": lambda: dense([True, False], pa.bool_()),
    "bool_nulls": lambda: with_nulls([True, False], pa.bool_()),
    "date32": lambda: with_nulls([dt.date(2024, 1, 1), dt.date(2024, 2, 29)], pa.date32()),
    "date32_open_end": lambda: dense([dt.date(1, 1, 1), dt.date(9999, 12, 31)], pa.date32()),
    "date32_beyond_python": lambda: pa.array([-(2**31) + 1, 0, 2**31 - 1, None, 1, 2], pa.date32()),
    "date64": lambda: dense([dt.date(2024, 1, 1)], pa.date64()),
    "timestamp_us": lambda: with_nulls([0, 1_700_000_000_123_456], pa.timestamp("us")),
    "timestamp_ns_subsecond": lambda: dense([1, 10**9 + 1], pa.timestamp("ns")),
    "timestamp_s_far": lambda: dense([-62135596800, 253402300799], pa.timestamp("s")),
    "timestamp_ms_beyond_python": lambda: dense([-(2**62), 2**62], pa.timestamp("ms")),
    "timestamp_utc": lambda: with_nulls([0, 10**6], pa.timestamp("us", tz="UTC")),
    "timestamp_berlin_ms": lambda: dense([1_711_846_800_123, 1_729_990_800_999], pa.timestamp("ms", tz="Europe/Berlin")),  # noqa: E501
    "timestamp_offset_ns": lambda: dense([1, 2 * 10**18], pa.timestamp("ns", tz="+05:30")),
    "timestamp_kolkata_1823": lambda: dense([-(2**63) + 1, 0], pa.timestamp("ns", tz="Asia/Kolkata")),
    "duration": lambda: with_nulls([1, 86_400], pa.duration("s")),
    "time64": lambda: with_nulls([0, 86_399_999_999], pa.time64("us")),
    "decimal": lambda: with_nulls([Decimal("1.10"), Decimal("-3.30")], pa.decimal128(10, 2)),
    "decimal_38": lambda: dense([Decimal("-" + "9" * 36 + ".99"), Decimal("0.01")], pa.decimal128(38, 2)),
    "decimal256": lambda: dense([Decimal("1e60"), Decimal("-1")], pa.decimal256(70, 0)),
    "binary": lambda: with_nulls([b"\x00\xff", b"abc"], pa.binary()),
    "large_binary": lambda: dense([b"\x80"], pa.large_binary()),
    "fixed_size_binary": lambda: dense([b"ab", b"\xff\x00"], pa.binary(2)),
    "uuid": lambda: dense([b"0123456789abcdef"], pa.uuid()),
    "list": lambda: with_nulls([["a", "b"], []], pa.list_(pa.string())),
    "large_list": lambda: dense([[1, 2], [None]], pa.large_list(pa.int16())),
    "list_of_struct": lambda: dense([[{"a": 1, "b": "x"}], []], pa.list_(pa.struct([("a", pa.int32()), ("b", pa.string())]))),  # noqa: E501
    "struct": lambda: with_nulls([{"x": 1, "y": "a"}, {"x": None, "y": None}], pa.struct([("x", pa.int64()), ("y", pa.string())])),  # noqa: E501
    "map": lambda: with_nulls([[("k", 1)], []], pa.map_(pa.string(), pa.int64())),
    "all_null": lambda: pa.nulls(N),
}  # fmt: skip


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def infer_then_validate(path: Path, entity: str = "e") -> str:
    """Run both commands through the CLI from the file's folder; return the inferred YAML."""
    inferred = invoke("schema", "infer", str(path), "--entity", entity)
    assert inferred.exit_code == 0, inferred.output
    (path.parent / "schemas").mkdir(exist_ok=True)
    (path.parent / "schemas" / f"{entity}.yaml").write_text(inferred.output)
    checked = invoke("validate", str(path), "--entity", entity, "--root", str(path.parent))
    assert checked.exit_code == 0, inferred.output + checked.output
    assert checked.output.startswith(f"ok  {path}"), checked.output
    return str(inferred.output)


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_infer_then_validate_passes_for_every_column_type(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.parquet"
    pq.write_table(pa.table({"id": pa.array(range(N), pa.int64()), kind: COLUMNS[kind]()}), path)
    text = infer_then_validate(path)
    doc = yaml.safe_load(text)  # plain YAML: safe_load reads every value
    assert doc["datakeep"]["key"] == ["id"]
    assert set(doc["columns"]) == {"id", kind}
    column = pq.read_table(path)[kind]
    nan = pa.types.is_floating(column.type) and pc.any(pc.is_nan(column.cast(pa.float64()))).as_py()
    assert doc["columns"][kind]["nullable"] == (column.null_count > 0 or nan)


def test_every_column_type_in_one_file(tmp_path: Path) -> None:
    path = tmp_path / "all.parquet"
    pq.write_table(pa.table({kind: make() for kind, make in COLUMNS.items()}), path)
    infer_then_validate(path)


@pytest.mark.parametrize(
    "index",
    [
        pd.Index([10, 20, 30], name="idx"),
        pd.Index(["a", "b", "c"]),  # unnamed, not a range: stored as __index_level_0__
        pd.RangeIndex(3, name="row"),  # a range is only metadata: no column
        pd.MultiIndex.from_tuples([(1, "x"), (1, "y"), (2, "x")], names=["k", "sub"]),
        pd.DatetimeIndex(["2024-01-01", "2024-03-31", "2024-10-27"], name="when").tz_localize("Europe/Berlin"),
    ],
)
def test_a_pandas_index_is_the_column_validate_sees(tmp_path: Path, index: pd.Index) -> None:
    frame = pd.DataFrame({"v": [1.0, 2.0, None]}, index=index)
    path = tmp_path / "indexed.parquet"
    pq.write_table(pa.Table.from_pandas(frame), path)
    doc = yaml.safe_load(infer_then_validate(path))
    stored = [name for name in pq.read_schema(path).names if name != "v"]
    assert list(doc["columns"]) == ["v", *stored]
    assert "index" not in doc
    for name in stored:
        assert doc["columns"][name]["description"].startswith("the pandas index")


def test_the_sample_flights_file_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "flights.parquet"
    path.write_bytes((Path(__file__).resolve().parents[1] / "sample_data/flights/2024-01.parquet").read_bytes())
    doc = yaml.safe_load(infer_then_validate(path, "flights"))
    departure = doc["columns"]["departure"]
    assert departure["dtype"] == "datetime64[us, UTC]"
    assert departure["greater_than_or_equal_to"] == dt.datetime(2024, 1, 1, 5, 30, tzinfo=UTC)


def test_bounds_are_plain_yaml_rounded_outward(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    table = pa.table(
        {
            "naive": pa.array([1_500_000, 2_500_000], pa.timestamp("us")),  # 1.5 s and 2.5 s after 1970
            "zoned": pa.array([0, 999], pa.timestamp("ms", tz="Europe/Berlin")),
            "day": pa.array([dt.date(2024, 2, 29)], pa.date32()).take([0, 0]),
            "amount": pa.array([Decimal("1.10"), Decimal("3.30")], pa.decimal128(10, 2)),
            "n": pa.array([1, None], pa.int64()),
        }
    )
    pq.write_table(table, path)
    text = infer_schema(path, "t")
    assert "!!" not in text and "Timestamp" not in text
    columns = yaml.safe_load(text)["columns"]
    assert columns["naive"]["greater_than_or_equal_to"] == dt.datetime(1970, 1, 1, 0, 0, 1)
    assert columns["naive"]["less_than_or_equal_to"] == dt.datetime(1970, 1, 1, 0, 0, 3)
    assert columns["zoned"]["dtype"] == "datetime64[ms, Europe/Berlin]"
    assert columns["zoned"]["less_than_or_equal_to"] == dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)
    assert columns["day"]["dtype"] == "datetime64[ns]"
    assert columns["day"]["greater_than_or_equal_to"] == dt.datetime(2024, 2, 29)
    low, high = columns["amount"]["greater_than_or_equal_to"], columns["amount"]["less_than_or_equal_to"]
    assert isinstance(low, float) and Decimal(low) <= Decimal("1.10") and Decimal(high) >= Decimal("3.30")
    assert columns["n"] == {
        "dtype": "Int64",
        "nullable": True,
        "greater_than_or_equal_to": 1,
        "less_than_or_equal_to": 1,
    }


def test_the_whole_file_is_read_not_a_sample(tmp_path: Path) -> None:
    rows = 300_000  # past one read batch
    ids = pa.array(range(rows), pa.int64())
    values = pa.array([None if i == rows - 1 else i for i in range(rows)], pa.int64())
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"id": ids, "v": values}), path)
    doc = yaml.safe_load(infer_schema(path, "big"))
    assert doc["datakeep"]["key"] == ["id"]
    assert doc["columns"]["id"]["less_than_or_equal_to"] == rows - 1
    assert doc["columns"]["v"]["nullable"] is True


def test_key_is_guessed_only_for_a_unique_never_null_id(tmp_path: Path) -> None:
    path = tmp_path / "k.parquet"
    columns = {"order_id": [1, 1, 2], "user_id": ["a", None, "b"], "tags_id": [[1], [2], [3]], "sku_id": list("xyz")}
    pq.write_table(pa.table(columns), path)
    assert yaml.safe_load(infer_schema(path, "k"))["datakeep"]["key"] == ["sku_id"]


def test_csv_round_trips_through_validates_own_parsing(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "id,n,x,big,s,b,d,t,z,e,frac\n"
        "1,10,+1.5,9223372036854775807,a,true,2024-01-01,2024-01-01 05:30:00,2024-01-01T00:00:00Z,,0.5\n"
        "2,,inf,-9223372036854775808,,false,2024-02-29,2024-01-01T05:30:00,,,nan\n"
        '3,-4,,1,"c, d",True,,,,,NA\n'
    )
    doc = yaml.safe_load(infer_then_validate(path))
    dtypes = {name: column.get("dtype") for name, column in doc["columns"].items()}
    assert dtypes == {
        "id": "int64", "n": "Int64", "x": "float64", "big": "int64", "s": "str", "b": "bool",
        "d": "datetime64[ns]", "t": "datetime64[ns]", "z": "str", "e": "object", "frac": "str",
    }  # fmt: skip


def test_duplicate_column_names_are_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"]), path)
    with pytest.raises(InputDataError, match="column 'x' appears 2 times"):
        infer_schema(path, "dup")
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas/dup.yaml").write_text("columns:\n  x: {dtype: int64}\n")
    result = CliRunner().invoke(cli, ["validate", str(path), "--entity", "dup", "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert "column 'x' appears 2 times — give every column its own name" in result.stderr


def test_a_named_pandas_index_in_a_schema_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas/e.yaml").write_text("columns:\n  v: {dtype: float64}\nindex:\n- {dtype: int64, name: idx}\n")
    with pytest.raises(SchemaConfigError, match="index\\[0\\]: declares a pandas index named 'idx'") as caught:
        load_entity(tmp_path, "e")
    assert "declare 'idx' under columns instead" in str(caught.value)
    (tmp_path / "schemas/e.yaml").write_text(
        "columns:\n  v: {dtype: float64}\nindex:\n- {dtype: int64}\n- {dtype: str}\n"
    )
    result = CliRunner().invoke(cli, ["schema", "check", "--root", str(tmp_path)])
    assert result.exit_code == 2 and "declares 2 index levels" in result.stderr
    # What earlier versions of `schema infer` wrote still loads: it describes the row numbers.
    (tmp_path / "schemas/e.yaml").write_text(
        "columns:\n  v: {dtype: float64}\nindex:\n- {dtype: int64}\ncoerce: true\n"
    )
    assert load_entity(tmp_path, "e").columns == ("v",)


# Hypothesis: random columns of random values, nulls included, always round-trip.

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
KINDS: dict[str, tuple[pa.DataType, st.SearchStrategy[object]]] = {
    "int64": (pa.int64(), st.integers(-(2**63), 2**63 - 1)),
    "uint64": (pa.uint64(), st.integers(0, 2**64 - 1)),
    "int16": (pa.int16(), st.integers(-(2**15), 2**15 - 1)),
    "float64": (pa.float64(), st.floats()),
    "float32": (pa.float32(), st.floats(width=32)),
    "text": (pa.string(), _TEXT),
    "bool": (pa.bool_(), st.booleans()),
    "date": (pa.date32(), st.dates()),
    "naive": (pa.timestamp("us"), st.datetimes()),
    "naive_ns": (pa.timestamp("ns"), st.datetimes(dt.datetime(1678, 1, 1), dt.datetime(2261, 12, 31))),
    "utc": (pa.timestamp("us", tz="UTC"), st.datetimes(timezones=st.just(UTC))),
    "tokyo": (pa.timestamp("s", tz="Asia/Tokyo"), st.datetimes(timezones=st.just(UTC))),
    "decimal": (pa.decimal128(12, 3), st.decimals(min_value=-(10**8), max_value=10**8, places=3, allow_nan=False)),
    "binary": (pa.binary(), st.binary(max_size=6)),
    "list": (pa.list_(pa.int32()), st.lists(st.none() | st.integers(-(2**31), 2**31 - 1), max_size=3)),
    "struct": (pa.struct([("a", pa.string())]), st.fixed_dictionaries({"a": st.none() | _TEXT})),
    "map": (pa.map_(pa.string(), pa.float64()), st.lists(st.tuples(_TEXT, st.floats()), max_size=2)),
}


@st.composite
def tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(0, 12))
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=4, unique=True))
    columns = {}
    for kind in kinds:
        type_, values = KINDS[kind]
        cells = draw(st.lists(st.none() | values, min_size=rows, max_size=rows))
        columns[kind] = pa.array(cells, type=type_)
    return pa.table(columns)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=tables())
def test_infer_then_validate_round_trips_any_table(tmp_path: Path, table: pa.Table) -> None:
    path = tmp_path / "h.parquet"
    pq.write_table(table, path)
    (tmp_path / "schemas").mkdir(exist_ok=True)
    (tmp_path / "schemas/h.yaml").write_text(infer_schema(path, "h"))
    report = validate_file(path, entity="h", root=tmp_path)
    assert report.ok, render_text(report)


# --- CSV exports with their own delimiter and encoding ----------------------------------------

GERMAN = "Kundennummer;Name;Umsatz\n1;Jürgen;1.051,99\n2;Zoë;402,22\n"


def test_a_semicolon_cp1252_export_is_read_with_the_options_given(tmp_path: Path) -> None:
    """No option could say how to read such a file, and the error advised a cut-short Parquet file."""
    path = tmp_path / "crm.csv"
    path.write_text(GERMAN, encoding="cp1252")
    plain = CliRunner().invoke(cli, ["schema", "infer", str(path), "--entity", "customers"])
    assert plain.exit_code == 2
    assert "cannot read it as CSV with delimiter ',' and encoding utf-8: CSV parse error" in plain.stderr
    assert "give the file's delimiter and encoding (e.g. --delimiter ';' --encoding cp1252)" in plain.stderr
    assert "Parquet" not in plain.stderr
    # The right delimiter alone: the text is not utf-8, which validate would fail on too.
    half = CliRunner().invoke(cli, ["schema", "infer", str(path), "--entity", "customers", "--delimiter", ";"])
    assert half.exit_code == 2 and "column 'Name' is not utf-8 text" in half.stderr
    given = invoke("schema", "infer", str(path), "--entity", "customers", "--delimiter", ";", "--encoding", "cp1252")
    assert given.exit_code == 0
    columns = yaml.safe_load(given.output)["columns"]
    assert {name: column["dtype"] for name, column in columns.items()} == {
        "Kundennummer": "int64",
        "Name": "str",
        "Umsatz": "str",
    }


def test_a_sources_csv_options_read_the_file_as_validate_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "crm.csv"
    path.write_text(GERMAN, encoding="cp1252")
    (tmp_path / "schemas/sources").mkdir(parents=True)
    (tmp_path / "schemas/sources/crm.yaml").write_text("entity: customers\ncsv: {delimiter: ';', encoding: cp1252}\n")
    args = ["schema", "infer", str(path), "--entity", "customers", "--source", "crm", "--root", str(tmp_path)]
    inferred = invoke(*args)
    assert inferred.exit_code == 0, inferred.output
    (tmp_path / "schemas/customers.yaml").write_text(inferred.output)
    checked = invoke("validate", str(path), "--source", "crm", "--root", str(tmp_path))
    assert checked.exit_code == 0, checked.output


def test_csv_options_are_refused_for_parquet_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1]}), path)
    runner = CliRunner()
    parquet = runner.invoke(cli, ["schema", "infer", str(path), "--entity", "t", "--delimiter", ";"])
    assert parquet.exit_code == 2 and "--delimiter and --encoding read CSV files; this is Parquet" in parquet.stderr
    (tmp_path / "t.csv").write_text("a\n1\n")
    for option, value, message in (
        ("--delimiter", ";;", "delimiter ';;' is not one character"),
        ("--encoding", "utf8-typo", "unknown encoding 'utf8-typo'"),
    ):
        result = runner.invoke(cli, ["schema", "infer", str(tmp_path / "t.csv"), "--entity", "t", option, value])
        assert result.exit_code == 2 and message in result.stderr
    tab = invoke("schema", "infer", str(tmp_path / "t.csv"), "--entity", "t", "--delimiter", "tab")
    assert tab.exit_code == 0 and "a:" in tab.output


def test_a_tsv_file_is_read_with_tabs_whatever_the_sources_delimiter(tmp_path: Path) -> None:
    (tmp_path / "schemas/sources").mkdir(parents=True)
    (tmp_path / "schemas/sources/s.yaml").write_text("entity: t\ncsv: {delimiter: ';'}\n")
    (tmp_path / "t.tsv").write_text("a\tb;c\n1\tx;y\n")
    inferred = invoke(
        "schema", "infer", str(tmp_path / "t.tsv"), "--entity", "t", "--source", "s", "--root", str(tmp_path)
    )
    assert list(yaml.safe_load(inferred.output)["columns"]) == ["a", "b;c"]
