"""Schema, source mapping and rules files: loading, vetting, fingerprints, pandera round-trips."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datakeep.errors import SchemaConfigError, UsageError
from datakeep.schemas import (
    check_all,
    fingerprint,
    infer_schema,
    load_entity,
    load_rules,
    load_source,
)

REPO = Path(__file__).resolve().parents[1]


def write_parquet(frame, path: Path) -> None:  # type: ignore[no-untyped-def]
    # pandas' own to_parquet is not used: the venv's pandas/pyarrow pairing breaks it.
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copytree(REPO / "schemas", tmp_path / "schemas")
    shutil.copy(REPO / "datakeep.yaml", tmp_path / "datakeep.yaml")
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_schema_loads_with_header_and_key(project: Path) -> None:
    entity = load_entity(project, "customers")
    assert entity.key == ("customer_id",)
    assert entity.strict
    assert "country" in entity.columns
    assert check_all(project).ok


def test_schema_without_header_is_exactly_what_pandera_loads(project: Path) -> None:
    from pandera.io import pandas_io

    doc = yaml.safe_load((project / "schemas/customers.yaml").read_text())
    doc.pop("datakeep")
    assert load_entity(project, "customers").schema == pandas_io.from_yaml(yaml.safe_dump(doc))


def test_schema_round_trips_through_pandera_yaml(project: Path) -> None:
    from pandera.io import pandas_io

    schema = load_entity(project, "customers").schema
    again = pandas_io.from_yaml(pandas_io.to_yaml(schema))
    assert again == schema
    write(project / "schemas/again.yaml", pandas_io.to_yaml(schema))
    assert load_entity(project, "again").schema == schema


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    low=st.integers(-1000, 1000),
    width=st.integers(0, 1000),
    values=st.lists(st.text("abcXYZ", min_size=1, max_size=5), min_size=1, max_size=5, unique=True),
    nullable=st.booleans(),
)
def test_generated_schemas_round_trip(tmp_path: Path, low: int, width: int, values: list[str], nullable: bool) -> None:
    import pandera.pandas as pa
    from pandera.io import pandas_io

    schema = pa.DataFrameSchema(
        {
            "n": pa.Column(int, pa.Check.in_range(low, low + width), nullable=nullable),
            "s": pa.Column(str, pa.Check.isin(values)),
        }
    )
    write(tmp_path / "schemas/gen.yaml", pandas_io.to_yaml(schema))
    assert load_entity(tmp_path, "gen").schema == schema


def test_source_mapping_loads(project: Path) -> None:
    entity, mapping = load_source(project, "legacy")
    assert entity.name == mapping.entity == "customers"
    assert mapping.target_of("land") == "country"
    assert mapping.source_of("height_cm") == "groesse_mm"
    assert mapping.column("groesse_mm").scale == pytest.approx(0.1)
    assert mapping.column("anmeldung").cast.format == "%d/%m/%Y"
    assert mapping.defaults == {"segment": "retail"}


BAD_ENTITY = [
    ("columns:\n  amount: {dtype: float64, in_range: {min_value: 0, max_value: 100}}\n  amount: {dtype: float64}\n",
     "line 3, column 3: the key 'amount' appears twice in one mapping (first on line 2)"),
    ("columns:\n  a: {dtype: int64\n", "invalid YAML at line"),
    (
        "columns:\n  a:\n    dtype: int64\n    is_positive_num: true\n",
        "columns.a.is_positive_num: unknown check 'is_positive_num'",
    ),
    ("columns:\n  a:\n    dtype: strng\n", "columns.a.dtype: unknown dtype 'strng'"),
    (
        "columns:\n  a:\n    dtype: int64\n    checks:\n      - options: {check_name: nope}\n",
        "columns.a.checks[0]: unknown check 'nope'",
    ),
    ("columns:\n  a: {dtype: int64}\nchecks:\n  nope: 1\n", "checks.nope: unknown check 'nope'"),
    ("datakeep:\n  key: [b]\ncolumns:\n  a: {dtype: int64}\n", "datakeep.key[0]: key column 'b'"),
    ("datakeep:\n  keys: [a]\ncolumns:\n  a: {dtype: int64}\n", "datakeep.keys: unknown key 'keys'"),
    ("columns:\n  a:\n    dtype: int64\n    in_range: {lo: 1}\n", "columns.a: pandera cannot build this column"),
    ("columns: {}\n", "columns: the schema declares no columns"),
    # A word where a list is meant is a set of letters to pandera: 'D' would pass, 'DE' fail.
    ("columns:\n  c: {dtype: str, isin: DE}\n", "columns.c.isin: isin needs a list of values, not 'DE'"),
    ("columns:\n  c:\n    dtype: str\n    checks: {notin: X}\n", "columns.c.checks.notin: notin needs a list"),
    ("- a\n- b\n", "expected a mapping"),
    # Schema-level uniqueness naming a column the schema lacks switched the check off.
    ("columns:\n  id: {dtype: int64}\n  x: {dtype: int64}\nunique: [id, x, typo]\n",
     "unique[2]: unique column 'typo' is not a column of the schema"),
    ("columns:\n  id: {dtype: int64}\nunique: typo\n", "unique: unique column 'typo' is not a column of the schema"),
    ("columns:\n  id: {dtype: int64}\nunique: [[id]]\n", "unique: expected a list of column names"),
    # A quoted word is truthy to pandera: `nullable: "no"` made the column nullable.
    ("columns:\n  x: {dtype: float64, nullable: 'no'}\n", "columns.x.nullable: expected true or false, found 'no'"),
    ("columns:\n  x: {dtype: int64, unique: 'false'}\n", "columns.x.unique: expected true or false, found 'false'"),
    ("columns:\n  x: {dtype: int64, required: 0}\n", "columns.x.required: expected true or false, found 0"),
    ("columns:\n  x: {dtype: int64, coerce: ~}\n", "columns.x.coerce: expected true or false, found None"),
    ("columns:\n  x: {dtype: int64}\nstrict: 'yes'\n", "strict: expected true or false, found 'yes'"),
    ("columns:\n  x: {dtype: int64}\nstrict: filter\n", "strict: expected true or false, found 'filter'"),
    ("columns:\n  x: {dtype: int64}\nordered: 1\n", "ordered: expected true or false, found 1"),
    ("columns:\n  x: {dtype: int64}\nindex:\n  - {dtype: int64, nullable: 'no'}\n",
     "index[0].nullable: expected true or false, found 'no'"),
    ("columns:\n  x:\n    dtype: int64\n    in_range: {min_value: 1, max_value: 5, include_min: 'no'}\n",
     "columns.x.in_range.include_min: expected true or false, found 'no'"),
    ("columns:\n  x:\n    dtype: int64\n    greater_than: {min_value: 1, ignore_na: 'false'}\n",
     "columns.x.greater_than.ignore_na: expected true or false, found 'false'"),
    ("columns:\n  x:\n    dtype: int64\n    checks:\n"
     "      - {value: 1, options: {check_name: greater_than, raise_warning: 'no'}}\n",
     "columns.x.checks[0].options.raise_warning: expected true or false, found 'no'"),
    # A check argument the column's values cannot be compared with failed every file with 0 rows.
    ("columns:\n  id: {dtype: int64, greater_than: '5'}\n",
     "columns.id.greater_than: greater_than needs a number (the column's dtype is int64), not '5'"),
    ("columns:\n  id: {dtype: Int64, less_than_or_equal_to: true}\n",
     "columns.id.less_than_or_equal_to: less_than_or_equal_to needs a number (the column's dtype is Int64), not True"),
    ("columns:\n  id:\n    dtype: int64\n    in_range: {min_value: 0, max_value: '9'}\n",
     "columns.id.in_range.max_value: in_range needs a number (the column's dtype is int64), not '9'"),
    ("columns:\n  id:\n    dtype: float64\n    checks: {equal_to: 'x'}\n",
     "columns.id.checks.equal_to: equal_to needs a number (the column's dtype is float64), not 'x'"),
    ("columns:\n  id:\n    dtype: int64\n    checks:\n      - {min_value: '5', options: {check_name: gt}}\n",
     "columns.id.checks[0].min_value: gt needs a number (the column's dtype is int64), not '5'"),
    ("columns:\n  s: {dtype: str, equal_to: 5}\n",
     "columns.s.equal_to: equal_to needs text (the column's dtype is str), not 5"),
    ("columns:\n  b: {dtype: bool, equal_to: 'true'}\n",
     "columns.b.equal_to: equal_to needs true or false (the column's dtype is bool), not 'true'"),
    ("columns:\n  s: {dtype: str, isin: [DE, 1]}\n",
     "columns.s.isin[1]: isin needs text values (the column's dtype is str), not 1"),
    # YAML reads an unquoted yes as a boolean, which a text column never holds.
    ("columns:\n  s: {dtype: str, notin: ['no', yes]}\n", "columns.s.notin[1]: notin needs text values"),
    ("columns:\n  n: {dtype: int64, isin: {allowed_values: [1, '2']}}\n",
     "columns.n.isin.allowed_values[1]: isin needs numbers (the column's dtype is int64), not '2'"),
    ("columns:\n  s:\n    dtype: str\n    str_length: {min_value: '1'}\n",
     "columns.s.str_length.min_value: str_length needs a whole number of characters, not '1'"),
    ("columns:\n  s: {dtype: str, str_length: -1}\n",
     "columns.s.str_length: str_length needs a whole number of characters, not -1"),
    ("columns:\n  s: {dtype: str, str_length: [1, 5]}\n",
     "columns.s.str_length: str_length needs a whole number of characters, not [1, 5]"),
    ("columns:\n  s: {dtype: str, str_matches: 5}\n", "columns.s.str_matches: str_matches needs a regular expression"),
    ("columns:\n  s: {dtype: str, str_matches: '[a-'}\n", "columns.s.str_matches: '[a-' is not a regular expression"),
    ("columns:\n  s: {dtype: str, str_startswith: [a]}\n", "columns.s.str_startswith: str_startswith needs text"),
    ("columns:\n  n: {dtype: int64, str_length: 3}\n",
     "columns.n.str_length: str_length checks text, but the column's dtype is int64"),
    ("columns:\n  d: {dtype: 'datetime64[ns]', greater_than: soon}\n",
     "columns.d.greater_than: greater_than needs a date and time (the column's dtype is datetime64[ns]), not 'soon'"),
    ("columns:\n  d: {dtype: 'datetime64[ns]', greater_than: 2020-01-01 00:00:00+01:00}\n",
     "columns.d.greater_than: greater_than needs a date and time (the column's dtype is datetime64[ns])"),
    ("columns:\n  d: {dtype: 'datetime64[ns, UTC]', less_than: 2020-01-01}\n",
     "columns.d.less_than: less_than needs a date and time (the column's dtype is datetime64[ns, UTC])"),
    ("columns:\n  c: {dtype: str, nullable: true, default: off}\n",
     "columns.c.default: false is a boolean, not text for the column's dtype str: YAML reads an unquoted no, off"),
    # YAML 1.1 reads 010 as octal 8 and 1:30 as 90: no schema means either.
    ("columns:\n  n: {dtype: int64, greater_than: 010}\n",
     "line 2, column 35: 010 has a leading zero, so YAML reads it as the octal number 8; "
     "quote it ('010') for the text, or write 10 for the number"),
    ("columns:\n  s: {dtype: str, isin: [a, 1:30]}\n",
     "line 2, column 29: YAML reads 1:30 as the base-60 number 90, not as a time; quote it ('1:30') for the text"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_ENTITY)
def test_bad_entity_files_name_file_place_and_problem(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path / "schemas/bad.yaml", text)
    with pytest.raises(SchemaConfigError) as err:
        load_entity(tmp_path, "bad")
    assert "bad.yaml" in str(err.value)
    assert message in str(err.value)
    assert err.value.exit_code == 2


BAD_SOURCE = [
    ("entity: customers\ncolumns:\n  v: {to: vip, cast: {type: boolean, true: [], false: [n]}}\n",
     "columns.v.cast.true: an empty list of words"),
    ("entity: customers\ncolumns:\n  g: {to: gender, values: {M: male, F: female, M: female}}\n",
     "the key 'M' appears twice in one mapping (first on line 3)"),
    ("entity: customers\ncolumns:\n  cents: {to: height_cm, scale: 0.01}\n  cents: {to: height_cm, scale: 100}\n",
     "the key 'cents' appears twice in one mapping (first on line 3)"),
    (
        "entity: customers\ncolumns:\n  land: {to: contry}\n",
        "columns.land: renames 'land' to 'contry', which entity 'customers' does not have",
    ),
    (
        "entity: customers\ncolumns:\n  land:\n    values: {Deutschland: DE}\n",
        "columns.land: 'land' is not a column of entity 'customers'",
    ),
    (
        "entity: customers\ncolumns:\n  land: {to: country, unmapped: ignore}\n",
        "columns.land.unmapped: unknown policy 'ignore'",
    ),
    (
        "entity: customers\ncolumns:\n  d: {to: signup_date, cast: {type: date}}\n",
        "columns.d.cast.format: a date cast needs an explicit strptime format",
    ),
    # A format is for times: on a number cast it would be ignored; a date cast cannot make an integer.
    ("entity: customers\ncolumns:\n  n: {to: customer_id, cast: {type: integer, format: '%Y%m%d'}}\n",
     "columns.n.cast.format: an integer cast takes no format — a format is read by date and datetime casts only"),
    (
        "entity: customers\ncolumns:\n  d: {to: signup_date, cast: {type: when, format: '%Y'}}\n",
        "columns.d.cast.type: unknown cast type 'when'",
    ),
    ("entity: customers\ncolumns:\n  h: {to: height_cm, scale: 0}\n",
     "columns.h.scale: expected a finite non-zero number (the factor raw → canonical), not 0"),
    ("entity: customers\ncolumns:\n  n: {to: name, scale: 2}\n", "columns.n.scale: scale needs a numeric column"),
    (
        "entity: customers\ncolumns:\n  n: {to: customer_id, cast: {type: date, format: '%Y'}}\n",
        "columns.n.cast.type: a date cast cannot produce",
    ),
    (
        "entity: customers\ncolumns:\n  g:\n    to: gender\n    values: {yes: male}\n",
        "columns.g.values: key True is a YAML boolean",
    ),
    # A key 010 was the octal 8: raw '8' became vip and raw '010' matched nothing.
    ("entity: customers\ncolumns:\n  s:\n    to: segment\n    values: {'001': retail, 010: vip}\n",
     "bad.yaml: line 5, column 29: 010 has a leading zero, so YAML reads it as the octal number 8; "
     "quote it ('010') for the text, or write 10 for the number"),
    ("entity: customers\ncolumns:\n  s:\n    to: segment\n    values: {-007: retail}\n",
     "-007 has a leading zero, so YAML reads it as the octal number -7; quote it ('-007') for the text, "
     "or write -7 for the number"),
    ("entity: customers\ndefaults:\n  colour: red\n", "defaults.colour: 'colour' is not a column"),
    # A default the column cannot hold was dropped at every file, leaving its cells null.
    ("entity: customers\ndefaults:\n  height_cm: tall\n", "defaults.height_cm: 'tall' is not a value of"),
    ("entity: customers\ndefaults:\n  customer_id: 1.5\n", "defaults.customer_id: 1.5 is not a value of"),
    ("entity: customers\ndefaults:\n  signup_date: soon\n", "defaults.signup_date: 'soon' is not a value of"),
    # An unquoted NO (Norway) was YAML's false and went into a text column as the text 'False'.
    ("entity: customers\ndefaults:\n  country: NO\n",
     "defaults.country: false is a boolean, not text for the column's dtype"),
    ("entity: customers\ncolumns:\n  land:\n    to: country\n    values: {Deutschland: DE, Norwegen: NO}\n",
     "columns.land.values.Norwegen: 'Norwegen' maps to the boolean false, not to text for the column's dtype "
     "string[pyarrow]: YAML reads an unquoted no, off or false (in any letter case) as a boolean — "
     "quote the value, e.g. 'NO' or 'yes'"),
    # A target the column cannot hold failed every cell mapped to it, at every file.
    ("entity: customers\ncolumns:\n  h:\n    to: height_cm\n    values: {gross: tall, klein: 150}\n",
     "columns.h.values.gross: 'gross' maps to 'tall', which is not a value of the column's dtype float64"),
    ("entity: customers\ncolumns:\n  d:\n    to: signup_date\n    cast: {type: date, format: '%d.%m.%Y'}\n"
     "    values: {nie: '2024-01-01'}\n",
     "columns.d.values.nie: 'nie' maps to '2024-01-01', which is not a value of the column's dtype "
     "datetime64[ns] as its cast reads it"),
    ("entity: customers\nrenames: {}\n", "renames: unknown key 'renames'"),
    ("entity: customers\ncsv: {encoding: utf8-sig-typo}\n", "csv.encoding: unknown encoding 'utf8-sig-typo'"),
    (
        "entity: customers\ncolumns:\n  h: {to: height_cm, cast: {type: number, decimal: ',', thousands: ','}}\n",
        "columns.h.cast.thousands: decimal and thousands are both ','",
    ),
    (
        "entity: customers\ncolumns:\n  h: {to: height_cm, cast: {type: number, thousands: '.'}}\n",
        "columns.h.cast.thousands: decimal and thousands are both '.'",
    ),
    ("entity: nobody\n", "nobody.yaml: no such schema file"),
    ("columns: {}\n", "entity: expected a non-empty string"),
    ("entity: customers\ncolumns: [a\n", "invalid YAML at line 3, column 1"),
    # A factor of nan or inf turned every value into a null or an infinity, and the file passed.
    ("entity: customers\ncolumns:\n  h: {to: height_cm, scale: .nan}\n",
     "columns.h.scale: expected a finite non-zero number (the factor raw → canonical), not nan"),
    ("entity: customers\ncolumns:\n  h: {to: height_cm, scale: .inf}\n", "columns.h.scale: expected a finite non-zero"),
    ("entity: customers\ncolumns:\n  h: {to: height_cm, scale: -.inf}\n", "columns.h.scale: expected a finite"),
    # A directive the cast code cannot read made every cell cast_failed: data blamed for the mapping.
    ("entity: customers\ncolumns:\n  d: {to: signup_date, cast: {type: date, format: '%Y-%Q-%d'}}\n",
     "columns.d.cast.format: '%Q' in '%Y-%Q-%d' is not a strptime directive datakeep reads"),
    ("entity: customers\ncolumns:\n  d: {to: signup_date, cast: {type: date, format: '%Y-%m-%'}}\n",
     "columns.d.cast.format: '%Y-%m-%' ends in a lone '%'"),
    ("entity: customers\ncolumns:\n  d: {to: signup_date, cast: {type: date, format: '%G-W%V-%u'}}\n",
     "columns.d.cast.format: '%G' in '%G-W%V-%u' is not a strptime directive datakeep reads"),
    ("entity: customers\ncolumns:\n  d: {to: signup_date, cast: {type: date, format: '%e.%m.%Y'}}\n",
     "columns.d.cast.format: '%e' in '%e.%m.%Y' is not a strptime directive datakeep reads"),
    ("entity: customers\ncolumns:\n  d: {to: signup_date, cast: {type: datetime, format: '%F %T.%f'}}\n",
     "columns.d.cast.format: '%F' in '%F %T.%f' cannot be used with %f or %z"),
    ("entity: customers\ncolumns:\n  d: {to: signup_date, cast: {type: datetime, format: '%Y %d.%m.%Y%z'}}\n",
     "columns.d.cast.format: '%Y %d.%m.%Y%z' reads a field twice"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), BAD_SOURCE)
def test_bad_source_files_name_file_place_and_problem(project: Path, text: str, message: str) -> None:
    write(project / "schemas/sources/bad.yaml", text)
    with pytest.raises(SchemaConfigError) as err:
        load_source(project, "bad")
    assert message in str(err.value)
    assert ("bad.yaml" in str(err.value)) or ("nobody.yaml" in str(err.value))
    assert err.value.exit_code == 2


def test_numbers_whose_spelling_yaml_reads_as_written_still_load(project: Path, tmp_path: Path) -> None:
    # 0, hexadecimal and binary say what they are; 08 is text to YAML 1.1; quoted codes are text.
    write(
        project / "schemas/sources/codes.yaml",
        "entity: customers\ncolumns:\n  s:\n    to: segment\n"
        "    values: {'001': retail, '010': vip, 08: business, 0: retail, 0x1F: vip, 0b11: business, 1_000: vip}\n",
    )
    _, mapping = load_source(project, "codes")
    values = mapping.columns[0].values
    assert values is not None
    assert list(values) == ["001", "010", "08", 0, 31, 3, 1000]


def test_value_map_targets_that_go_through_the_cast_load(project: Path) -> None:
    write(
        project / "schemas/sources/targets.yaml",
        "entity: customers\ncolumns:\n"
        "  land: {to: country, values: {Norwegen: 'NO', Deutschland: DE, Nirgends: null}}\n"
        "  d: {to: signup_date, cast: {type: date, format: '%d.%m.%Y'}, values: {nie: 01.01.1970}}\n"
        "  h: {to: height_cm, cast: {type: number, decimal: ','}, scale: 0.1,\n"
        "      values: {gross: '1900,5', klein: 1500}}\n",
    )
    _, mapping = load_source(project, "targets")
    assert [c.target for c in mapping.columns] == ["country", "signup_date", "height_cm"]


def test_a_leading_zero_is_refused_in_a_rules_file_too(project: Path) -> None:
    write(project / "datakeep.yaml", "rules:\n  - {glob: 010, entity: customers}\n")
    with pytest.raises(SchemaConfigError) as err:
        load_rules(project)
    assert "datakeep.yaml: line 2, column 12: 010 has a leading zero" in str(err.value)


def test_check_all_lists_every_bad_file(project: Path) -> None:
    write(project / "schemas/broken.yaml", "columns:\n  a: {dtype: nope}\n")
    write(project / "schemas/sources/broken.yaml", "entity: customers\ncolumns:\n  x: {to: y}\n")
    result = check_all(project)
    assert not result.ok
    assert len(result.errors) == 2
    assert any("unknown dtype 'nope'" in e for e in result.errors)
    assert any("renames 'x' to 'y'" in e for e in result.errors)


def test_check_all_says_an_entitys_problem_once_not_again_for_each_source(project: Path) -> None:
    write(project / "schemas/customers.yaml", "columns:\n  customer_id: {dtype: int64, nullable: 'no'}\n")
    result = check_all(project)
    said = [e for e in result.errors if "customer_id.nullable" in e]
    assert len(said) == 1 and "customers.yaml" in said[0]
    assert len(result.failed) == 1 and result.failed[0].endswith("customers.yaml")


def test_check_all_lists_a_sources_own_problems_while_its_entity_is_broken(project: Path) -> None:
    write(project / "schemas/customers.yaml", "columns:\n  customer_id: {dtype: int64, nullable: 'no'}\n")
    write(
        project / "schemas/sources/odd.yaml",
        "entity: customers\ncolumns:\n  cid: {to: customer_id, unmapped: sometimes}\ncsv: {delimiter: ';;'}\n",
    )
    result = check_all(project)
    own = [e for e in result.errors if "odd.yaml" in e]
    assert len(own) == 2
    assert "unknown policy 'sometimes'" in own[0] and "csv.delimiter" in own[1]
    assert sum("customer_id.nullable" in e for e in result.errors) == 1
    assert any(f.endswith("odd.yaml") for f in result.failed)


def test_rules_match_globs_first_rule_wins(project: Path) -> None:
    rules = load_rules(project)
    assert rules.match("sample_data/incoming/crm_2024.csv") == ("customers", "crm")
    assert rules.match("./sample_data/incoming/legacy_export.parquet") == ("customers", "legacy")
    assert rules.match("sample_data/incoming/sub/crm_2024.csv") is None
    assert rules.match("elsewhere.csv") is None
    assert rules.unmatched == "pass"
    write(project / "datakeep.yaml", "rules:\n  - {glob: 'data/**/*.csv', entity: customers}\nunmatched: fail\n")
    rules = load_rules(project)
    assert rules.match("data/a/b/c.csv") == ("customers", None)
    assert rules.match("data/c.csv") == ("customers", None)
    assert rules.unmatched == "fail"


def test_no_rules_file_means_no_rules(tmp_path: Path) -> None:
    rules = load_rules(tmp_path)
    assert rules.path is None and rules.match("x.csv") is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n  - {entity: customers}\n", "rules[0].glob: expected a non-empty string"),
        ("rules:\n  - {glob: a}\n", "rules[0]: a rule needs an entity, a source, or both"),
        ("rules:\n  - {glob: a, entity: c, colour: r}\n", "rules[0].colour: unknown key"),
        ("unmatched: maybe\n", "unmatched: expected pass or fail"),
        ("rules: {glob: a}\n", "rules: expected a list"),
        ("rules:\n  - {glob: a, source: nope}\n", "nope.yaml: no such source mapping file"),
        ("rules:\n  - {glob: a, entity: nosuch}\n", "rules[0].entity: no schema file schemas/nosuch.yaml"),
        (
            "rules:\n  - {glob: a, entity: other, source: crm}\n",
            "rules[0]: source 'crm' feeds entity 'customers', not 'other'",
        ),
        ("rules:\n  - {glob: a, entity: customers}\n  - {glob: a, entity: customers}\n", None),
    ],
)
def test_bad_rules_files(project: Path, text: str, message: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    write(project / "schemas/other.yaml", "columns:\n  id: {dtype: int64}\n")
    write(project / "datakeep.yaml", text)
    if message is None:  # well formed
        assert len(load_rules(project).rules) == 2
        return
    with pytest.raises(SchemaConfigError) as err:
        load_rules(project)
    assert message in str(err.value)


def test_an_unquoted_null_policy_is_the_null_policy(project: Path) -> None:
    """``unmapped: null``, as the docs write it, is YAML's null, not the text 'null'."""
    write(
        project / "schemas/sources/plain.yaml",
        "entity: customers\ncolumns:\n  g: {to: gender, values: {M: male}, unmapped: null}\n",
    )
    _, mapping = load_source(project, "plain")
    assert [c.unmapped for c in mapping.columns if c.source == "g"] == ["null"]


def test_names_cannot_escape_the_schemas_folder(project: Path) -> None:
    with pytest.raises(UsageError):
        load_entity(project, "../etc/passwd")


def test_fingerprint_hashes_content_not_formatting(project: Path) -> None:
    before = fingerprint(project, "customers", "legacy")
    assert len(before) == 32 and before == fingerprint(project, "customers", "legacy")
    assert before != fingerprint(project, "customers")
    assert before != fingerprint(project, "customers", "crm")
    path = project / "schemas/customers.yaml"
    doc = yaml.safe_load(path.read_text())
    path.write_text("# a comment\n" + yaml.safe_dump(doc, sort_keys=True, indent=4))
    assert fingerprint(project, "customers", "legacy") == before
    doc["columns"]["country"]["isin"].append("CH")
    path.write_text(yaml.safe_dump(doc))
    assert fingerprint(project, "customers", "legacy") != before


def test_infer_schema_gives_a_loadable_schema(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame({"customer_id": [1, 2, 3], "name": ["a", "b", "c"], "h": [1.5, 2.0, None]})
    write_parquet(frame, tmp_path / "c.parquet")
    text = infer_schema(tmp_path / "c.parquet", "customers")
    write(tmp_path / "schemas/customers.yaml", text)
    entity = load_entity(tmp_path, "customers")
    assert entity.key == ("customer_id",)
    assert entity.schema.columns["h"].nullable
    assert entity.schema.validate(frame) is not None


def test_check_all_lists_every_problem_of_one_file(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)  # files are named relative to the working directory
    write(
        project / "schemas/sources/many.yaml",
        "entity: customers\ncolumns:\n  x: {to: y}\n  h: {to: height_cm, scale: abc}\n"
        "defaults: {zz: 1}\ncsv: {encoding: nope}\n",
    )
    write(project / "schemas/many.yaml", "columns:\n  a: {dtype: nope}\n  b: {dtype: int64, is_even: true}\n")
    result = check_all(project)
    assert result.failed == ("schemas/many.yaml", "schemas/sources/many.yaml")
    assert [e.split(" — ")[0] for e in result.errors] == [
        "schemas/many.yaml: columns.a.dtype: unknown dtype 'nope'",
        "schemas/many.yaml: columns.b.is_even: unknown check 'is_even'",
        "schemas/sources/many.yaml: columns.x: renames 'x' to 'y', which entity 'customers' does not have",
        "schemas/sources/many.yaml: columns.h.scale: "
        "expected a finite non-zero number (the factor raw → canonical), not 'abc'",
        "schemas/sources/many.yaml: defaults.zz: 'zz' is not a column of entity 'customers'",
        "schemas/sources/many.yaml: csv.encoding: unknown encoding 'nope'",
    ]
    with pytest.raises(SchemaConfigError) as err:  # a command stops at the first, carrying them all
        load_source(project, "many")
    assert "columns.x: renames 'x' to 'y'" in str(err.value)
    assert len(err.value.problems) == 4


def test_fingerprint_of_a_mapping_whose_keys_mix_types(project: Path) -> None:
    """YAML gives a value map {1: retail, X: vip} int and str keys, and a cast's unquoted
    `true:` a boolean one: hashing them must not fail on sorting them."""
    mixed = project / "schemas" / "sources" / "mixed.yaml"
    mixed.write_text(
        "entity: customers\ncolumns:\n"
        "  seg: {to: segment, values: {1: retail, X: vip}}\n"
        "  ok: {to: name, cast: {type: boolean, true: [ja], false: [nein]}}\n"
    )
    first = fingerprint(project, "customers", "mixed")
    assert len(first) == 32 and first == fingerprint(project, "customers", "mixed")
    mixed.write_text(mixed.read_text().replace("X: vip", "Y: vip"))
    assert fingerprint(project, "customers", "mixed") != first


def test_check_arguments_of_the_columns_type_and_boolean_flags_load(tmp_path: Path) -> None:
    """What the vetting of check arguments and flags must still let through."""
    write(
        tmp_path / "schemas/ok.yaml",
        "columns:\n"
        "  n: {dtype: int64, greater_than: 0.5, isin: [1, 2.5, null], nullable: false, unique: true}\n"
        "  f: {dtype: Float64, in_range: {min_value: -1, max_value: 1000.5, include_min: false}}\n"
        "  s: {dtype: str, isin: ['yes', 'no'], str_length: {min_value: 1, max_value: 9, exact_value: null}}\n"
        "  t: {dtype: str, str_length: 3, str_matches: '^[a-z]+$', greater_than: a, required: false}\n"
        "  b: {dtype: bool, equal_to: true, coerce: true}\n"
        "  d: {dtype: 'datetime64[ns]', in_range: {min_value: 2020-01-01, max_value: '2030-01-01 00:00:00'}}\n"
        "  e: {dtype: 'datetime64[ns]', greater_than: '2020-01-01'}\n"
        "  z: {dtype: 'datetime64[ns, UTC]', greater_than: 2020-01-01 00:00:00+00:00, less_than: '2030-01-01'}\n"
        "  o: {dtype: object, equal_to: anything}\n"
        "  c:\n"
        "    dtype: int64\n"
        "    checks:\n"
        "      - {min_value: 1, options: {check_name: ge, ignore_na: false, raise_warning: false}}\n"
        "      - {value: [1, 2], options: {check_name: notin}}\n"
        "checks: {str_length: 1}\n"
        "unique: [n, s]\n"
        "strict: true\ncoerce: false\nordered: false\nunique_column_names: false\n"
        "index:\n  - {dtype: int64, nullable: false}\n",
    )
    entity = load_entity(tmp_path, "ok")
    assert entity.schema.unique == ["n", "s"]
    assert entity.schema.columns["f"].checks[0].statistics["include_min"] is False
    write(tmp_path / "schemas/one.yaml", "columns:\n  id: {dtype: int64}\n  x: {dtype: int64}\nunique: id\n")
    assert load_entity(tmp_path, "one").schema.unique == ["id"]


@pytest.mark.parametrize(
    "fmt",
    [
        "%Y-%m-%d",
        "%d/%m/%Y %H:%M:%S.%f %Z",
        "%Y-%m-%dT%H:%M:%S%z",
        "%b %d %Y %I%p",
        "%A %d %B %Y",
        "%Y-%W-%w",
        "%Y-%j",
        "%c",
        "%x %X",
        "%d.%m.%y 100%%",
        "%F %T",  # C's strptime directives, which Arrow reads: in a format without %f or %z
        "%D %r",
        "%d %h %C%y %R",
    ],
)
def test_every_format_the_cast_code_reads_loads(project: Path, fmt: str) -> None:
    write(
        project / "schemas/sources/dates.yaml",
        f"entity: customers\ncolumns:\n  d: {{to: signup_date, cast: {{type: datetime, format: '{fmt}'}}}}\n",
    )
    assert load_source(project, "dates")[1].column("d").cast.format == fmt


@pytest.mark.parametrize(
    ("cast", "message"),
    [
        # One raw word under both true and false silently read as true.
        ("true: [ja, J], false: [nein, J]", "columns.v.cast: 'J' is listed under both true and false"),
        ("true: [J], false: [nein, j]", "columns.v.cast: 'j' is listed under both true and false (as 'J'"),
        ("true: [ja, n]", "columns.v.cast: 'n' is listed under true and is one of the default false words"),
        ("false: ['no', 'yes']", "columns.v.cast: 'yes' is listed under false and is one of the default true words"),
    ],
)
def test_a_boolean_cast_word_may_mean_only_one_thing(project: Path, cast: str, message: str) -> None:
    write(project / "schemas/members.yaml", "columns:\n  vip: {dtype: bool}\n")
    write(
        project / "schemas/sources/flags.yaml",
        f"entity: members\ncolumns:\n  v: {{to: vip, cast: {{type: boolean, {cast}}}}}\n",
    )
    with pytest.raises(SchemaConfigError) as err:
        load_source(project, "flags")
    assert "flags.yaml" in str(err.value) and message in str(err.value)
    assert err.value.exit_code == 2


def test_boolean_casts_may_list_words_apart(project: Path) -> None:
    write(project / "schemas/members.yaml", "columns:\n  vip: {dtype: bool}\n")
    write(
        project / "schemas/sources/flags.yaml",
        "entity: members\ncolumns:\n  v: {to: vip, cast: {type: boolean, true: [ja, J, yes], false: [nein, N]}}\n",
    )
    cast = load_source(project, "flags")[1].column("v").cast
    assert cast.true_values == ("ja", "j", "true", "yes", "on")
    assert cast.false_values == ("nein", "n")


def test_check_all_lists_a_columns_bad_flag_and_bad_check_at_once(project: Path) -> None:
    """The check argument used to show only once the flag was fixed, on the next run."""
    write(
        project / "schemas/customers.yaml",
        "columns:\n  customer_id: {dtype: int64, greater_than: '5', nullable: 'no'}\n",
    )
    errors = [e for e in check_all(project).errors if "customer_id" in e]
    assert len(errors) == 2
    assert any("nullable: expected true or false" in e for e in errors)
    assert any("greater_than needs a number" in e for e in errors)


def test_project_root_looks_no_higher_than_the_top_of_a_git_work_tree(tmp_path: Path) -> None:
    from datakeep.schemas import project_root

    write(tmp_path / "datakeep.yaml", "rules: []\n")  # someone else's project, above the clone
    clone = tmp_path / "clone"
    (clone / ".git").mkdir(parents=True)
    (clone / "data").mkdir()
    assert project_root(clone / "data") == clone / "data"
    write(clone / "datakeep.yaml", "rules: []\n")
    assert project_root(clone / "data") == clone
    assert project_root(tmp_path / "elsewhere") == tmp_path  # outside git the walk goes on
