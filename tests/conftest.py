"""Fixtures shared by the core tests: real repositories and real Parquet files in tmp_path."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from datakeep.api import Repo

#: Chunk size for test repositories: small, so tables of a few ten thousand rows span many chunks
#: and sharing, patching and boundaries are exercised (the default is sized for real data).
SMALL_CHUNKS = 256 * 1024


def make_table(rows: int, seed: int = 0, start_id: int = 0) -> pa.Table:
    """A table shaped like real data: key, strings of high and low cardinality, numbers, times."""
    rng = np.random.default_rng(seed)
    ids = np.arange(start_id, start_id + rows, dtype=np.int64)
    categories = np.array(["north", "south", "east", "west", "centre"])
    nullable = pa.array(
        [None if i % 7 == 0 else f"note-{i % 97}" for i in range(start_id, start_id + rows)], type=pa.string()
    )
    return pa.table(
        {
            "id": ids,
            "email": pa.array([f"user{i}@example.com" for i in ids]),
            "region": pa.array(categories[rng.integers(0, len(categories), rows)]),
            "amount": rng.normal(100, 15, rows),
            "count": rng.integers(0, 1000, rows, dtype=np.int32),
            "when": pa.array(
                (np.datetime64("2024-01-01T00:00:00") + rng.integers(0, 10**6, rows).astype("timedelta64[s]")).astype(
                    "datetime64[us]"
                )
            ),
            "flag": rng.random(rows) > 0.5,
            "note": nullable,
        }
    )


def write(path: Path, table: pa.Table, **options: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path, **options)  # type: ignore[arg-type]
    return path


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """An empty project folder that is also the working directory."""
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        yield tmp_path
    finally:
        os.chdir(old)


@pytest.fixture
def repo(project: Path) -> Repo:
    return Repo.init(project, chunk_bytes=SMALL_CHUNKS)


def objects_size(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / ".datakeep" / "objects").rglob("*") if p.is_file())
