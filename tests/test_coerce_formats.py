"""Text read as the docs promise: casts follow Python's strptime, integers fill their dtype, and a
zoned column's ISO text fails per cell at a clock change. Through `map_file`, `validate_file` and
the CLI, asserting the values written and every failed cell (row, column, reason)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datakeep.cli import cli
from datakeep.errors import SchemaConfigError
from datakeep.validate import ValidationReport, map_file, render_text, validate_file

BERLIN = "Europe/Berlin"


def make_project(root: Path, schema: str, mapping: str = "") -> None:
    """An entity ``t`` with ``schema`` as its columns, fed by source ``s`` mapping ``mapping``."""
    (root / "schemas" / "sources").mkdir(parents=True, exist_ok=True)
    (root / "schemas" / "t.yaml").write_text(f"columns:\n{schema}")
    (root / "schemas" / "sources" / "s.yaml").write_text(f"entity: t\ncolumns:\n{mapping or '  {}'}\n")


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def failures(report: ValidationReport) -> set[tuple[str, str | None, int, str]]:
    """Every reported cell as (kind, canonical column, row, reason)."""
    return {(p.kind, p.column, s.row, p.detail) for p in report.problems for s in p.samples}


def mapped(root: Path, data: Path) -> tuple[ValidationReport, pa.Table]:
    """``data`` mapped through source ``s``: the report and the canonical table written."""
    out = root / "out.parquet"
    report = map_file(data, source="s", root=root, output=out, max_samples=50)
    return report, pq.read_table(out)


# --- fractions of a second (%f) ---------------------------------------------------------------

FRACTION = "%Y-%m-%d %H:%M:%S.%f"
NOT_FRACTION = f"not a datetime in format '{FRACTION}'"


def test_fractions_of_a_second_are_read_to_the_microsecond(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  d: {dtype: 'datetime64[ns]', nullable: true}\n",
        f"  d: {{cast: {{type: datetime, format: '{FRACTION}'}}}}",
    )
    texts = [
        "2024-01-31 10:00:00.123456",
        "2024-01-31 10:00:00.5",  # one digit is tenths, as Python reads it
        "2024-01-31 10:00:00.000001",
        "2024-1-5 1:2:3.04",  # unpadded fields, as Python reads them
        "2024-01-31 10:00:00.1234567",  # Python reads at most 6 digits
        "2024-01-31 10:00:00.",
        "2024-02-30 10:00:00.5",
        "2024-01-31 10:00:00",
    ]
    write_csv(tmp_path / "d.csv", ["id", "d"], [[str(i), text] for i, text in enumerate(texts)])
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert failures(report) == {("cast_failed", "d", row, NOT_FRACTION) for row in (4, 5, 6, 7)}
    assert table.schema.field("d").type == pa.timestamp("ns")
    assert table.column("d").to_pylist()[:4] == [
        pd.Timestamp("2024-01-31 10:00:00.123456"),
        pd.Timestamp("2024-01-31 10:00:00.5"),
        pd.Timestamp("2024-01-31 10:00:00.000001"),
        pd.Timestamp("2024-01-05 01:02:03.04"),
    ]


# Formats with %f, and how each cell's letters are written: Python reads them in any case.
FRACTION_FORMATS = [FRACTION, "%d.%m.%Y %H:%M:%S,%f", "%Y%m%dT%H%M%S%f", "%d-%b-%Y %I:%M:%S.%f %p"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.tuples(
            st.datetimes(min_value=dt.datetime(1678, 1, 1), max_value=dt.datetime(2261, 12, 31)),
            st.booleans(),  # trailing zeros of the fraction dropped ('.5' for '.500000')
            st.sampled_from([str.upper, str.lower, str]),
        ),
        min_size=1,
        max_size=30,
    ),
    st.sampled_from(FRACTION_FORMATS),
)
def test_formatted_times_with_fractions_read_back_exactly(
    tmp_path: Path, cells: list[tuple[dt.datetime, bool, object]], fmt: str
) -> None:
    make_project(
        tmp_path,
        "  d: {dtype: 'datetime64[ns]'}\n",
        f"  d: {{cast: {{type: datetime, format: '{fmt}'}}}}",
    )
    texts = []
    for moment, short, case in cells:
        text = moment.strftime(fmt)
        if short:
            fraction = f"{moment.microsecond:06d}"
            text = text.replace(fraction, fraction.rstrip("0") or "0", 1)
        texts.append(case(text))  # type: ignore[operator]
    assert [dt.datetime.strptime(text, fmt) for text in texts] == [moment for moment, _, _ in cells]
    write_csv(tmp_path / "d.csv", ["d"], [[text] for text in texts])
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert report.ok, render_text(report)
    assert table.column("d").to_pylist() == [pd.Timestamp(moment) for moment, _, _ in cells]


# --- names and letters in any case (%b, %B, %p) -----------------------------------------------


def test_names_and_letters_are_read_in_any_case(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  d: {dtype: 'datetime64[ns]', nullable: true}\n"
        "  m: {dtype: 'datetime64[ns]', nullable: true}\n  t: {dtype: 'datetime64[ns]', nullable: true}\n",
        "  d: {cast: {type: datetime, format: '%d-%b-%Y %I:%M %p'}}\n"
        "  m: {cast: {type: date, format: '%B %d, %Y'}}\n"
        "  t: {cast: {type: datetime, format: '%Y-%m-%dT%H:%M'}}",
    )
    rows = [
        ["0", "01-Jan-2024 10:00 PM", "January 05, 2024", "2024-01-31T10:00"],
        ["1", "01-JAN-2024 10:00 PM", "JANUARY 5, 2024", "2024-01-31t10:00"],
        ["2", "01-jan-2024 10:00 pm", "january 05, 2024", ""],
        ["3", "01-jAn-2024 12:00 aM", "", ""],
        ["4", "31-feb-2024 10:00 pm", "Janu 05, 2024", "2024-01-31x10:00"],  # no such day, name, letter
        ["5", "01-jan-2024 13:00 pm", "", ""],  # no 13 o'clock on a 12-hour clock
    ]
    write_csv(tmp_path / "d.csv", ["id", "d", "m", "t"], rows)
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert failures(report) == {
        ("cast_failed", "d", 4, "not a datetime in format '%d-%b-%Y %I:%M %p'"),
        ("cast_failed", "d", 5, "not a datetime in format '%d-%b-%Y %I:%M %p'"),
        ("cast_failed", "m", 4, "not a date in format '%B %d, %Y'"),
        ("cast_failed", "t", 4, "not a datetime in format '%Y-%m-%dT%H:%M'"),
    }
    columns = table.to_pydict()
    assert columns["d"][:4] == [pd.Timestamp("2024-01-01 22:00")] * 3 + [pd.Timestamp("2024-01-01 00:00")]
    assert columns["m"][:3] == [pd.Timestamp("2024-01-05")] * 3
    assert columns["t"][:2] == [pd.Timestamp("2024-01-31 10:00")] * 2


# --- zone names (%Z) --------------------------------------------------------------------------

ZONE = "%Y-%m-%d %H:%M:%S %Z"
NOT_ZONE = f"not a datetime in format '{ZONE}' (%Z reads UTC or GMT)"


def test_a_zone_name_format_validates_instead_of_crashing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  d: {dtype: 'datetime64[ns]'}\n",
        f"  d: {{cast: {{type: datetime, format: '{ZONE}'}}}}",
    )
    (tmp_path / "d.csv").write_text("id,d\n1,2024-01-31 10:00:00 UTC\n")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["validate", "d.csv", "--source", "s"], catch_exceptions=False)
    assert (result.exit_code, result.output) == (0, "ok  d.csv (entity=t source=s): 1 row, no problems\n")


def test_zone_names_utc_and_gmt_are_read_as_utc_and_others_fail_per_cell(tmp_path: Path) -> None:
    """Python's %Z also reads the machine's own zone names (CET on a machine in Berlin) and
    drops them: a file would pass on one machine and fail on another, so only UTC and GMT pass."""
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  naive: {dtype: 'datetime64[ns]', nullable: true}\n"
        f"  zoned: {{dtype: 'datetime64[ns, {BERLIN}]', nullable: true}}\n",
        f"  naive: {{cast: {{type: datetime, format: '{ZONE}'}}}}\n"
        f"  zoned: {{cast: {{type: datetime, format: '{ZONE}'}}}}",
    )
    texts = [
        "2024-01-31 10:00:00 UTC",
        "2024-07-31 10:00:00 gmt",
        "2024-01-31 10:00:00 Utc",
        "2024-01-31 10:00:00 CET",
        "2024-01-31 10:00:00 XYZ",
        "2024-01-31 10:00:00",  # Arrow's own %Z reads no name at all
    ]
    write_csv(tmp_path / "d.csv", ["id", "naive", "zoned"], [[str(i), text, text] for i, text in enumerate(texts)])
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert failures(report) == {
        ("cast_failed", column, row, NOT_ZONE) for column in ("naive", "zoned") for row in (3, 4, 5)
    }
    columns = table.to_pydict()
    winter, summer = pd.Timestamp("2024-01-31 10:00"), pd.Timestamp("2024-07-31 10:00")
    assert columns["naive"][:3] == [winter, summer, winter]  # UTC times, as zoned values become
    # The same instants in Berlin: an hour ahead in winter, two in summer.
    assert columns["zoned"][:3] == [
        pd.Timestamp("2024-01-31 11:00", tz=BERLIN),
        pd.Timestamp("2024-07-31 12:00", tz=BERLIN),
        pd.Timestamp("2024-01-31 11:00", tz=BERLIN),
    ]


def test_a_zone_name_after_a_fraction(tmp_path: Path) -> None:
    fmt = "%Y-%m-%d %H:%M:%S.%f %Z"
    make_project(tmp_path, "  d: {dtype: 'datetime64[ns]'}\n", f"  d: {{cast: {{type: datetime, format: '{fmt}'}}}}")
    write_csv(tmp_path / "d.csv", ["d"], [["2024-01-31 10:00:00.25 UTC"], ["2024-01-31 10:00:00.25 CET"]])
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert failures(report) == {("cast_failed", "d", 1, f"not a datetime in format '{fmt}' (%Z reads UTC or GMT)")}
    assert table.column("d").to_pylist()[0] == pd.Timestamp("2024-01-31 10:00:00.25")


# --- which directives a format may use -------------------------------------------------------

# A format for every directive a mapping may use, and the same format as Python's strptime writes
# it (C's %F, %T, %D, %R, %r, %h and %C%y spelt out), which says what each text means.
EVERY_DIRECTIVE = [
    ("%Y-%m-%d %H:%M:%S", None),
    ("%Y-%m-%d %H:%M:%S.%f", None),
    ("%Y-%m-%d %H:%M:%S%z", None),
    ("%Y-%m-%d %H:%M:%S %Z", None),
    ("%d.%m.%y %I:%M:%S %p", None),
    ("%a %d %b %Y", None),
    ("%A %d %B %Y", None),
    ("%Y-%j", None),
    ("%Y-%U-%w", None),
    ("%Y-%W-%u", None),
    ("%c", None),
    ("%x %X", None),
    ("%Y-%m-%d 100%%", None),
    ("%F %T", "%Y-%m-%d %H:%M:%S"),
    ("%D %R", "%m/%d/%y %H:%M"),
    ("%r %d %h %C%y", "%I:%M:%S %p %d %b %Y"),
]
MOMENTS = [
    dt.datetime(1969 + 7 * i, 1 + i % 12, 1 + (5 * i) % 28, (7 * i) % 24, (13 * i) % 60, (29 * i) % 60)
    for i in range(14)
]


def test_every_directive_not_read_is_refused_when_the_mapping_loads() -> None:
    """The formats above use every directive `format_problem` lets through, so each one is shown
    to read as documented by the test below; any other fails every cell, and is refused."""
    import string

    from datakeep.validate.times import directives, format_problem

    covered = set().union(*(directives(fmt) for fmt, _ in EVERY_DIRECTIVE))
    for letter in string.ascii_letters + "%:-+":
        if format_problem(f"%Y-%m-%d %{letter}") is None:
            assert letter in covered, f"%{letter} is accepted but no test reads it"


@pytest.mark.parametrize(("fmt", "python_fmt"), EVERY_DIRECTIVE)
def test_every_directive_a_mapping_may_use_is_read(tmp_path: Path, fmt: str, python_fmt: str | None) -> None:
    zone = dt.timezone(dt.timedelta(hours=2)) if "%z" in fmt else dt.timezone.utc if "%Z" in fmt else None
    texts = [moment.replace(tzinfo=zone).strftime(fmt) for moment in MOMENTS]
    expected = []
    for text in texts:
        moment = dt.datetime.strptime(text, python_fmt or fmt)
        if moment.tzinfo is not None:  # an instant, in a naive column: its UTC time
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
        expected.append(pd.Timestamp(moment))
    make_project(tmp_path, "  d: {dtype: 'datetime64[ns]'}\n", f"  d: {{cast: {{type: datetime, format: '{fmt}'}}}}")
    write_csv(tmp_path / "d.csv", ["d"], [[text] for text in texts])
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert report.ok, render_text(report)
    assert table.column("d").to_pylist() == expected


# --- integers past int64 ------------------------------------------------------------------------

NOT_HELD = "not an integer the column's dtype holds"


def test_uint64_text_past_int64_is_read_exactly(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  u: {dtype: uint64, nullable: true}\n  n: {dtype: UInt64, nullable: true}\n",
    )
    texts = [
        "18446744073709551615",  # 2**64 - 1
        "9223372036854775808",  # 2**63
        "+42",
        "18446744073709551616",  # 2**64
        "-1",
        "99999999999999999999",
        "",
    ]
    write_csv(tmp_path / "d.csv", ["id", "u", "n"], [[str(i), text, text] for i, text in enumerate(texts)])
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert failures(report) == {("cast_failed", column, row, NOT_HELD) for column in ("u", "n") for row in (3, 4, 5)}
    for column in ("u", "n"):
        assert table.schema.field(column).type == pa.uint64()
        assert table.column(column).to_pylist()[:3] == [2**64 - 1, 2**63, 42], column
    assert table.column("n").to_pylist()[6] is None


def test_a_uint64_default_past_int64_fills_the_column(tmp_path: Path) -> None:
    make_project(tmp_path, "  id: {dtype: int64}\n  u: {dtype: uint64}\n")
    (tmp_path / "schemas" / "sources" / "s.yaml").write_text("entity: t\ndefaults: {u: 18446744073709551615}\n")
    write_csv(tmp_path / "d.csv", ["id"], [["1"], ["2"]])
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert report.ok and table.column("u").to_pylist() == [2**64 - 1] * 2


def test_integer_text_with_a_number_cast_is_read_exactly(tmp_path: Path) -> None:
    """Integers are not read through a float, which holds them exactly only up to 2**53."""
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  u: {dtype: uint64, nullable: true}\n  i: {dtype: int64, nullable: true}\n",
        "  u: {cast: {type: number, thousands: ','}}\n  i: {cast: {type: number, thousands: ','}}",
    )
    rows = [
        ["0", "18,446,744,073,709,551,615", "9,007,199,254,740,993"],  # 2**53 + 1
        ["1", "9223372036854775808", "-9223372036854775808"],
        ["2", "1e3", "5.0"],
        ["3", "-5", "5.5"],
    ]
    write_csv(tmp_path / "d.csv", ["id", "u", "i"], rows)
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    reason = (
        "not an integer the column's dtype holds, written with decimal '.' and thousands ',' "
        "(a value holding ',' groups its integer digits in threes: 1,234,567.5)"
    )
    assert failures(report) == {("cast_failed", "u", 3, reason), ("cast_failed", "i", 3, reason)}
    assert table.column("u").to_pylist()[:3] == [2**64 - 1, 2**63, 1000]
    assert table.column("i").to_pylist()[:3] == [2**53 + 1, -(2**63), 5]


# --- decimal marks and thousands separators -----------------------------------------------------


def _amounts(root: Path, cast: str, texts: list[str]) -> tuple[ValidationReport, list[object]]:
    """``texts`` in a float column ``a`` read with ``cast`` (none when empty): report and values."""
    make_project(
        root, "  id: {dtype: int64}\n  a: {dtype: float64, nullable: true}\n", f"  a: {{cast: {cast}}}" if cast else ""
    )
    write_csv(root / "d.csv", ["id", "a"], [[str(i), text] for i, text in enumerate(texts)])
    report, table = mapped(root, root / "d.csv")
    return report, table.column("a").to_pylist()


def test_a_dot_is_no_decimal_point_when_the_decimal_mark_is_a_comma(tmp_path: Path) -> None:
    """German '1.234' is 1234 with its thousands unmarked: it was read as 1.234, silently."""
    texts = ["1.234", "12.5", "1.234,5", "7,25", "-3,5", "1,5e3", "1 234,5", "abc"]
    stray = (
        "'.' is neither the decimal mark (',') nor the thousands separator ({}), so the value is not read as "
        "a number; set thousands: '.' in the cast if it groups thousands in this source (1.234,5)"
    )
    report, values = _amounts(tmp_path, "{type: number, decimal: ','}", texts)
    assert failures(report) == {
        *(("cast_failed", "a", row, stray.format("none declared")) for row in (0, 1, 2)),
        ("cast_failed", "a", 6, "not a number with decimal ',' (and no thousands separator)"),
        ("cast_failed", "a", 7, "not a number with decimal ',' (and no thousands separator)"),
    }
    assert {p.check for p in report.problems} == {"separator", "number"}
    assert values == [None, None, None, 7.25, -3.5, 1500.0, None, None]

    report, values = _amounts(tmp_path, "{type: number, decimal: ',', thousands: ' '}", texts)
    assert {(row, detail) for _, _, row, detail in failures(report) if row < 3} == {
        (row, stray.format("' '")) for row in (0, 1, 2)
    }
    assert values[3:7] == [7.25, -3.5, 1500.0, 1234.5]

    # Declared, '.' groups thousands, in threes only.
    report, values = _amounts(tmp_path, "{type: number, decimal: ',', thousands: '.'}", texts)
    grouped = (
        "not a number with decimal ',' and thousands '.' "
        "(a value holding '.' groups its integer digits in threes: 1.234.567,5)"
    )
    assert failures(report) == {("cast_failed", "a", row, grouped) for row in (1, 6, 7)}
    assert values[:6] == [1234.0, None, 1234.5, 7.25, -3.5, 1500.0]


def test_a_comma_is_named_when_the_decimal_mark_is_a_dot(tmp_path: Path) -> None:
    texts = ["1,234", "12,5", "1,234.5", "7.25"]
    report, values = _amounts(tmp_path, "", texts)
    no_cast = (
        "',' is neither the decimal mark ('.') nor the thousands separator (none declared), so the value is not "
        "read as a number; declare a cast in the source mapping: {type: number, thousands: ','} if it groups "
        "thousands, {type: number, decimal: ','} if it is the decimal mark"
    )
    assert failures(report) == {("cast_failed", "a", row, no_cast) for row in (0, 1, 2)}
    assert values == [None, None, None, 7.25]
    report, values = _amounts(tmp_path, "{type: number}", texts)
    assert {detail for *_, detail in failures(report)} == {
        "',' is neither the decimal mark ('.') nor the thousands separator (none declared), so the value is not "
        "read as a number; set thousands: ',' in the cast if it groups thousands, or decimal: ',' if it is the "
        "decimal mark"
    }
    report, values = _amounts(tmp_path, "{type: number, thousands: ','}", texts)
    assert [row for _, _, row, _ in failures(report)] == [1]  # 12,5 groups no thousands
    assert values == [1234.0, None, 1234.5, 7.25]


def test_a_scaled_value_an_integer_column_cannot_hold_is_named_as_such(tmp_path: Path) -> None:
    """0,005 euros × 100 is 0.5 cents: it was "not a number with decimal ','", which it is."""
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  cents: {dtype: int64, nullable: true}\n  small: {dtype: int8, nullable: true}\n",
        "  cents: {cast: {type: number, decimal: ',', thousands: '.'}, scale: 100}\n"
        "  small: {cast: {type: number, decimal: ','}, scale: 100}",
    )
    rows = [
        ["0", "19,99", "1"],
        ["1", "0,005", "0,01"],
        ["2", "1.234,56", "2"],
        ["3", "abc", "0,5"],
        ["4", "1,0001", ""],
    ]
    write_csv(tmp_path / "d.csv", ["id", "cents", "small"], rows)
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    not_whole = (
        "not a whole number once scaled (e.g. '0,005' × 100 = 0.5), which the int64 column 'cents' needs; "
        "correct the value, or the scale"
    )
    assert failures(report) == {
        ("cast_failed", "cents", 1, not_whole),
        ("cast_failed", "cents", 4, not_whole),
        ("cast_failed", "cents", 3, "not a number with decimal ',' and thousands '.' "
         "(a value holding '.' groups its integer digits in threes: 1.234.567,5)"),
        ("cast_failed", "small", 2, "outside the range int8 holds once scaled × 100; correct the value, or the scale"),
    }  # fmt: skip
    assert {(p.column, p.check) for p in report.problems} == {
        ("cents", "scale"),
        ("cents", "number"),
        ("small", "range"),
    }
    assert table.column("cents").to_pylist() == [1999, None, 123456, None, None]
    assert table.column("small").to_pylist() == [100, 1, None, 50, None]


# --- integers holding dates (yyyymmdd) ---------------------------------------------------------


def test_a_format_reads_the_digits_of_an_integer_column(tmp_path: Path) -> None:
    """Old dumps write dates as integers: the declared format was ignored, every row failed with
    "a number, not a time: its unit and origin are unknown"."""
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  d: {dtype: 'datetime64[ns]', nullable: true}\n"
        f"  z: {{dtype: 'datetime64[ns, {BERLIN}]', nullable: true}}\n",
        "  d: {cast: {type: date, format: '%Y%m%d'}}\n  z: {cast: {type: date, format: '%Y%m%d'}}",
    )
    days = [20240131, 20190314, 20240230, 2024131, 99991231, None]
    pq.write_table(
        pa.table({"id": list(range(6)), "d": pa.array(days, pa.int64()), "z": pa.array(days[:2] * 3, pa.int32())}),
        tmp_path / "d.parquet",
    )
    report, table = mapped(tmp_path, tmp_path / "d.parquet")
    not_format = "not a date in format '%Y%m%d' (the integer's digits read as text)"
    assert failures(report) == {
        ("cast_failed", "d", 2, not_format),
        ("cast_failed", "d", 3, not_format),
        ("cast_failed", "d", 4, "outside the range datetime64[ns] holds (1677-09-21 to 2262-04-11); correct the "
         "value (a placeholder for 'no date', such as 9999-12-31, is better left empty, in a nullable column)"),
    }  # fmt: skip
    assert table.column("d").to_pylist()[:2] == [pd.Timestamp("2024-01-31"), pd.Timestamp("2019-03-14")]
    assert table.column("d").to_pylist()[5] is None
    assert table.column("z").to_pylist()[:2] == [
        pd.Timestamp("2024-01-31", tz=BERLIN),
        pd.Timestamp("2019-03-14", tz=BERLIN),
    ]


def test_a_format_on_a_float_column_says_it_reads_text_or_integers(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  d: {dtype: 'datetime64[ns]'}\n",
        "  d: {cast: {type: date, format: '%Y%m%d'}}",
    )
    pq.write_table(pa.table({"id": [0], "d": pa.array([20240131.0])}), tmp_path / "d.parquet")
    report, _ = mapped(tmp_path, tmp_path / "d.parquet")
    assert failures(report) == {
        ("cast_failed", "d", 0, "a double number, which a format cannot read: it reads text, or an integer's "
         "digits (20240131 with '%Y%m%d'); write the column as integers or as text at the source"),
    }  # fmt: skip


# --- ISO text in a zoned column, without a cast ------------------------------------------------

CLOCK_CHANGE = (
    "a local time that Europe/Berlin skips or repeats at a clock change, so it names no single instant; "
    "write such times with their offset (+01:00) or in UTC"
)
NOT_ISO_TIME = "not an ISO time (YYYY-MM-DD, optionally with THH:MM:SS, a fraction and an offset)"


def zoned_project(root: Path) -> None:
    make_project(root, f"  id: {{dtype: int64}}\n  ts: {{dtype: 'datetime64[ns, {BERLIN}]', nullable: true}}\n")


def test_zoned_iso_text_fails_per_cell_at_a_clock_change(tmp_path: Path) -> None:
    zoned_project(tmp_path)
    texts = [
        "2024-07-01 12:00:00",
        "2024-03-31 02:30:00",  # skipped: clocks went from 02:00 to 03:00
        "2024-01-01 08:00:00",
        "2024-10-27 02:30:00",  # repeated: clocks went from 03:00 back to 02:00
        "2024-01-01",
        "2024-01-01T08:00:00.5",
        "2024-01-01T08:00:00Z",  # an offset keeps its instant
        "2024-03-31T02:30:00+02:00",
        "01.02.2024",  # not ISO: never pandas' guess
        "",
    ]
    write_csv(tmp_path / "gap.csv", ["id", "ts"], [[str(i), text] for i, text in enumerate(texts)])
    report, table = mapped(tmp_path, tmp_path / "gap.csv")
    assert failures(report) == {
        ("cast_failed", "ts", 1, CLOCK_CHANGE),
        ("cast_failed", "ts", 3, CLOCK_CHANGE),
        ("cast_failed", "ts", 8, NOT_ISO_TIME),
    }
    assert table.schema.field("ts").type == pa.timestamp("ns", tz=BERLIN)
    values = table.column("ts").to_pylist()
    assert [values[row] for row in (0, 2, 4, 5, 6, 7, 9)] == [
        pd.Timestamp("2024-07-01 12:00", tz=BERLIN),
        pd.Timestamp("2024-01-01 08:00", tz=BERLIN),
        pd.Timestamp("2024-01-01 00:00", tz=BERLIN),
        pd.Timestamp("2024-01-01 08:00:00.5", tz=BERLIN),
        pd.Timestamp("2024-01-01 09:00", tz=BERLIN),
        pd.Timestamp("2024-03-31 01:30", tz=BERLIN),
        None,
    ]


def test_zoned_text_fails_the_cells_naive_timestamps_fail(tmp_path: Path) -> None:
    """Text and Parquet timestamps of the same local times are judged alike."""
    zoned_project(tmp_path)
    moments = [dt.datetime(2024, 7, 1, 12), dt.datetime(2024, 3, 31, 2, 30), dt.datetime(2024, 10, 27, 2, 30)]
    ids = pa.array([1, 2, 3], pa.int64())
    pq.write_table(pa.table({"id": ids, "ts": pa.array(moments, pa.timestamp("us"))}), tmp_path / "ts.parquet")
    texts = pa.array([m.isoformat(sep=" ") for m in moments])
    pq.write_table(pa.table({"id": ids, "ts": texts}), tmp_path / "text.parquet")
    by_timestamp = validate_file(tmp_path / "ts.parquet", source="s", root=tmp_path)
    by_text = validate_file(tmp_path / "text.parquet", source="s", root=tmp_path)
    assert failures(by_text) == failures(by_timestamp) == {("cast_failed", "ts", row, CLOCK_CHANGE) for row in (1, 2)}


def test_map_writes_a_timestamp_column_for_zoned_text_through_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zoned_project(tmp_path)
    (tmp_path / "gap.csv").write_text("id,ts\n1,2024-07-01 12:00:00\n2,2024-03-31 02:30:00\n3,2024-01-01 08:00:00\n")
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    result = runner.invoke(cli, ["validate", "gap.csv", "--source", "s"], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"cast_failed source=s value='2024-03-31 02:30:00' → ts: {CLOCK_CHANGE}, 1 row, e.g. row 1" in result.output
    assert "1 of 3 rows failing" in result.output
    result = runner.invoke(cli, ["map", "gap.csv", "--source", "s", "-o", "out.parquet"], catch_exceptions=False)
    assert pq.read_table(tmp_path / "out.parquet").column("ts").to_pylist() == [
        pd.Timestamp("2024-07-01 12:00", tz=BERLIN),
        None,
        pd.Timestamp("2024-01-01 08:00", tz=BERLIN),
    ]


# --- numbers, far years and clock changes going to time columns -------------------------------

NUMBER_NOT_TIME = (
    "a number, not a time: its unit and origin are unknown (epoch seconds? days?); "
    "write the column as a timestamp or as ISO text at the source"
)


@pytest.mark.parametrize("dtype", ["datetime64[ns]", f"datetime64[ns, {BERLIN}]", "datetime64[us, UTC]"])
def test_a_number_going_to_a_time_column_fails_rather_than_counting_nanoseconds(tmp_path: Path, dtype: str) -> None:
    """Epoch seconds and Excel serials named no time; pandas read them as nanoseconds (1970)."""
    make_project(tmp_path, f"  id: {{dtype: int64}}\n  at: {{dtype: '{dtype}', nullable: true}}\n")
    seconds = pa.array([1_735_639_200, None, 1_700_000_000], pa.int64())
    pq.write_table(pa.table({"id": [1, 2, 3], "at": seconds}), tmp_path / "epoch.parquet")
    pq.write_table(pa.table({"id": [1, 2, 3], "at": [45657.0, None, 45292.5]}), tmp_path / "serial.parquet")
    for name in ("epoch.parquet", "serial.parquet"):
        report, table = mapped(tmp_path, tmp_path / name)
        assert failures(report) == {("cast_failed", "at", row, NUMBER_NOT_TIME) for row in (0, 2)}
        assert table.column("at").null_count == 3


def test_a_number_going_to_a_duration_column_fails(tmp_path: Path) -> None:
    make_project(tmp_path, "  id: {dtype: int64}\n  took: {dtype: 'timedelta64[ns]', nullable: true}\n")
    pq.write_table(pa.table({"id": [1, 2], "took": pa.array([90, None], pa.int64())}), tmp_path / "n.parquet")
    report, _ = mapped(tmp_path, tmp_path / "n.parquet")
    (problem,) = report.problems
    assert (problem.kind, problem.column, problem.rows) == ("cast_failed", "took", 1)
    assert problem.detail.startswith("a number, not a duration")


def test_a_year_before_1000_in_text_is_a_range_failure_not_a_format_one(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  born: {dtype: 'datetime64[ns]', nullable: true}\n"
        f"  seen: {{dtype: 'datetime64[us, {BERLIN}]', nullable: true}}\n",
        "  born: {cast: {type: date, format: '%d/%m/%Y'}}\n",
    )
    write_csv(
        tmp_path / "d.csv",
        ["id", "born", "seen"],
        [["1", "01/01/0001", "0001-01-01"], ["2", "31/12/2024", "2024-12-31"]],
    )
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert {(p.column, p.check, p.rows) for p in report.problems} == {("born", "range", 1), ("seen", "range", 1)}
    assert all("0001-01-01" in p.detail for p in report.problems)
    assert table.column("born").to_pylist()[1] == dt.datetime(2024, 12, 31)


def test_a_clock_change_is_named_with_a_cast_format_too(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        f"  id: {{dtype: int64}}\n  at: {{dtype: 'datetime64[ns, {BERLIN}]', nullable: true}}\n",
        "  at: {cast: {type: datetime, format: '%d.%m.%Y %H:%M'}}\n",
    )
    rows = [["1", "31.03.2024 02:30"], ["2", "27.10.2024 02:30"], ["3", "31.03.2024 03:30"], ["4", "31/03/2024"]]
    write_csv(tmp_path / "d.csv", ["id", "at"], rows)
    report, _ = mapped(tmp_path, tmp_path / "d.csv")
    assert failures(report) == {
        ("cast_failed", "at", 0, CLOCK_CHANGE),
        ("cast_failed", "at", 1, CLOCK_CHANGE),
        ("cast_failed", "at", 3, "not a datetime in format '%d.%m.%Y %H:%M'"),
    }
    assert {p.check for p in report.problems} == {"clock_change", "datetime"}


def test_naive_iso_text_with_a_fraction_of_a_second_is_read(tmp_path: Path) -> None:
    make_project(tmp_path, "  id: {dtype: int64}\n  at: {dtype: 'datetime64[ns]'}\n")
    write_csv(tmp_path / "d.csv", ["id", "at"], [["1", "2024-12-31T10:00:00.123456"], ["2", "2024-12-31 10:00:00.5"]])
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert report.ok
    assert table.column("at").to_pylist() == [
        pd.Timestamp("2024-12-31 10:00:00.123456"),
        pd.Timestamp("2024-12-31 10:00:00.5"),
    ]


# --- value maps in any letter case (ignore_case) ------------------------------------------------


def test_a_value_map_with_ignore_case_matches_raw_text_in_any_case(tmp_path: Path) -> None:
    make_project(
        tmp_path,
        "  id: {dtype: int64}\n  c: {dtype: str, nullable: true}\n",
        "  c: {values: {DE: DE, Fr: FR}, ignore_case: true, unmapped: keep}",
    )
    write_csv(tmp_path / "d.csv", ["id", "c"], [["0", "de"], ["1", "De"], ["2", "FR"], ["3", "fR"], ["4", "Xy"]])
    report, table = mapped(tmp_path, tmp_path / "d.csv")
    assert report.ok
    assert table.column("c").to_pylist() == ["DE", "DE", "FR", "FR", "Xy"]  # unmapped: kept as it came

    (tmp_path / "schemas/sources/s.yaml").write_text(
        "entity: t\ncolumns:\n  c: {values: {de: DE, DE: GERMANY}, ignore_case: true}\n"
    )
    with pytest.raises(SchemaConfigError, match="differ only in letter case"):
        validate_file(tmp_path / "d.csv", source="s", root=tmp_path)
