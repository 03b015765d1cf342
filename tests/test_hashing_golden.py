"""Golden vectors: the canonical encodings are pinned. If one of these fails, every snapshot id in
every existing repository of that encoding would change — add an encoding instead."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest

from datakeep.hashing import BLOCK_ROWS, ENCODING_VERSION, ENCODINGS, StreamHasher, content_id
from datakeep.rowhash import row_hashes

TABLES = {
    "empty_int64": lambda: pa.table({"a": pa.array([], pa.int64())}),
    "ints": lambda: pa.table({"a": pa.array([1, None, -3], pa.int64())}),
    "floats": lambda: pa.table({"f": pa.array([0.0, -0.0, float("nan"), float("inf"), None])}),
    "strings": lambda: pa.table({"s": pa.array(["", None, "héllo", "a\x00b"])}),
    "bools": lambda: pa.table({"b": pa.array([True, False, None])}),
    "timestamp_tz": lambda: pa.table(
        {"t": pa.array([0, 1_700_000_000_000_000_000], pa.timestamp("ns", tz="Europe/Berlin"))}
    ),
    "dates": lambda: pa.table({"d": pa.array([dt.date(1, 1, 1), dt.date(9999, 12, 31)])}),
    "decimal": lambda: pa.table({"d": pa.array([decimal.Decimal("1.23"), None], pa.decimal128(10, 2))}),
    "nested": lambda: pa.table(
        {"l": pa.array([[1, 2], None, []]), "s": pa.array([{"x": 1, "y": "a"}, None, {"x": None, "y": "b"}])}
    ),
    "map": lambda: pa.table({"m": pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int64()))}),
}

GOLDEN = {
    "empty_int64": ("99897c3c896bd5f2bff8d86074a615f0", []),
    "ints": ("87d0eca3dbbb9047c4c37e2ece6b418b", [9218754312307845022, 1331712257032399846, 10242715889242837126]),
    "floats": (
        "171e756cc46371c52adbcde584be71f0",
        [11051832250127767302, 6174788803563957259, 13835795207407162730, 633779820405392920, 1331712257032399846],
    ),
    "strings": (
        "56abf2510d5c04b2b4e55afcf3752d68",
        [1595756402790649722, 1331712257032399846, 6592969153282353048, 11502894667256302035],
    ),
    "bools": ("4fff0816577b62c422d3556fc295aa1e", [342336192373866759, 1595756402790649722, 1331712257032399846]),
    "timestamp_tz": ("e7f0c92f328b0b3386ce9055d97576e2", [11051832250127767302, 13195393688487701779]),
    "dates": ("b06d5cdf7573323dee72793d41db14c9", [16188115418511671243, 13899919121575030341]),
    "decimal": ("4a4c2421d586470e89908a3ec1953018", [17767625569487901011, 1331712257032399846]),
    "nested": ("19c94cc47d0b4275011c6a99a16b8888", [5338201079792511475, 4393405359423662594, 13833713322644274035]),
    "map": ("deadaf813b887a1a9db1ea046badc292", [13276489611688757751, 1331712257032399846]),
}


GOLDEN_ENCODING_2 = {
    "bools": "7415f8504490aa0377dd0b6968e48441",
    "dates": "0bed459f9d73813071ee81ddcf671f99",
    "decimal": "d255889db468a6bce18496c8bde60545",
    "empty_int64": "5f5384a00ee9a40b9a2baf61ff101d77",
    "floats": "f880406f684423ac6c003ff66830c07e",
    "ints": "08a139aafc5a6f3a11c6413613389621",
    "map": "825566842efd44d223956553de24422f",
    "nested": "a035a1fea186e6dd8cd7004700050efa",
    "strings": "6ad8992936d69be7738048b2e4a0eaac",
    "timestamp_tz": "b551070d54cd92219fb8b86db8f632da",
}


def test_new_repositories_use_encoding_two() -> None:
    assert ENCODING_VERSION == 2 and ENCODINGS == (1, 2) and BLOCK_ROWS == 65536


@pytest.mark.parametrize("name", sorted(TABLES))
def test_golden_content_ids(name: str) -> None:
    expected_id, _ = GOLDEN[name]
    assert content_id(TABLES[name](), encoding=1) == expected_id


@pytest.mark.parametrize("name", sorted(TABLES))
def test_golden_content_ids_encoding_2(name: str) -> None:
    assert content_id(TABLES[name](), encoding=2) == GOLDEN_ENCODING_2[name]


def test_golden_encoding_2_over_several_blocks() -> None:
    """Past one block the id is made of block digests: pinned on 150,000 rows (three blocks)."""
    rows = 150_000
    table = pa.table({"n": pa.array(range(rows), pa.int64()), "s": pa.array([str(i % 97) for i in range(rows)])})
    hasher = StreamHasher(table.schema, 2)
    hasher.update(table)
    assert len(hasher.blocks) == rows // BLOCK_ROWS
    assert hasher.hexdigest() == content_id(table) == "36e6f586e3268042e3567c35d6085297"


@pytest.mark.parametrize("name", sorted(TABLES))
def test_golden_row_hashes(name: str) -> None:
    _, expected_hashes = GOLDEN[name]
    assert [int(h) for h in row_hashes(TABLES[name]())] == expected_hashes
