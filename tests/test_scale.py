"""`scale` in a source mapping: a unit's decimal factor gives the decimal result (1999 cents are
19.99 euros, 19.99 euros are 1999 cents), not binary floating point's near miss."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
from hypothesis import given
from hypothesis import strategies as st

from datakeep.validate import map_file, validate_file
from datakeep.validate.scaling import SCALED_DIGITS, round_significant

SCHEMA = """\
datakeep: {key: [id]}
columns:
  id: {dtype: int64}
  amount_eur: {dtype: float64, nullable: true, in_range: {min_value: 0, max_value: 19.99}}
  amount_cents: {dtype: int64, nullable: true}
  height_cm: {dtype: float64, nullable: true}
"""

MAPPING = """\
entity: pay
columns:
  cents: {to: amount_eur, scale: 0.01}
  eur: {to: amount_cents, scale: 100}
  mm: {to: height_cm, scale: 0.1}
"""


def project(tmp_path: Path, csv: str) -> Path:
    (tmp_path / "schemas" / "sources").mkdir(parents=True)
    (tmp_path / "schemas" / "pay.yaml").write_text(SCHEMA)
    (tmp_path / "schemas" / "sources" / "feed.yaml").write_text(MAPPING)
    (tmp_path / "in.csv").write_text(csv)
    return tmp_path


def test_decimal_factors_give_the_decimal_results(tmp_path: Path) -> None:
    root = project(tmp_path, "id,cents,eur,mm\n1,1999,12.34,1876\n2,1150,0.29,\n3,57,1.15,1501\n4,,19.99,1999\n")
    report = validate_file(root / "in.csv", source="feed", root=root)
    assert report.ok, report.problems  # 19.99 euros within max 19.99; 0.29 euros whole cents
    map_file(root / "in.csv", output=root / "out.parquet", source="feed", root=root)
    out = pq.read_table(root / "out.parquet").to_pydict()
    assert out["amount_eur"] == [19.99, 11.5, 0.57, None]
    assert out["amount_cents"] == [1234, 29, 115, 1999]
    assert out["height_cm"] == [187.6, None, 150.1, 199.9]


def test_a_scaled_value_that_is_not_whole_still_fails_an_integer_column(tmp_path: Path) -> None:
    root = project(tmp_path, "id,cents,eur,mm\n1,1,0.295,1\n")
    report = validate_file(root / "in.csv", source="feed", root=root)
    (problem,) = report.problems
    assert (problem.kind, problem.column) == ("cast_failed", "amount_cents")


# At most 15 significant digits (11 + 4), as many as a float64 holds for every decimal.
decimals = st.decimals(min_value=Decimal("-99999999999.9999"), max_value=Decimal("99999999999.9999"), places=4)


@given(decimals, st.sampled_from([-3, -2, -1, 1, 2, 3]))
def test_a_decimal_scaled_by_a_power_of_ten_is_that_decimal_s_float(value: Decimal, power: int) -> None:
    scaled = float(value) * 10.0**power
    (rounded,) = round_significant(np.array([scaled]), SCALED_DIGITS)
    assert rounded == float(value.scaleb(power))


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_rounding_moves_a_float_by_at_most_its_sixteenth_digit(value: float) -> None:
    (rounded,) = round_significant(np.array([value]), SCALED_DIGITS)
    assert math.isclose(rounded, value, rel_tol=1e-14, abs_tol=0.0) or rounded == value
    assert (rounded == 0) == (value == 0)


def test_special_values_are_left_alone() -> None:
    values = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308])
    rounded = round_significant(values, SCALED_DIGITS)
    assert np.array_equal(rounded, values, equal_nan=True)
    assert math.copysign(1, rounded[1]) == -1
