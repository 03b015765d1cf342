"""Opening user Parquet files with errors that say what is wrong and what to do."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datakeep.errors import InputDataError

MAGIC = b"PAR1"


def open_parquet(path: Path) -> pq.ParquetFile:
    """Open ``path`` as Parquet, or raise InputDataError with the reason in one line."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputDataError(
            str(path), "no such file", "check the path (it is relative to the repository root)"
        ) from None
    if size == 0:
        raise InputDataError(
            str(path),
            "is empty (0 bytes)",
            "re-export the file; an empty file is not a Parquet file",
        )
    with open(path, "rb") as handle:
        head = handle.read(4)
        handle.seek(max(0, size - 4))
        tail = handle.read(4)
    if head != MAGIC:
        looks = "text (CSV?)" if _looks_like_text(path) else "some other format"
        raise InputDataError(
            str(path),
            f"is not a Parquet file (it starts with {head!r}; it looks like {looks})",
            "convert it to Parquet first (e.g. `datakeep map` for CSV, or pandas.read_csv(...).to_parquet(...))",
        )
    if tail != MAGIC or size < 12:
        raise InputDataError(
            str(path),
            "is truncated: the Parquet footer is missing",
            "copy or export the file again",
        )
    try:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise InputDataError(str(path), f"is damaged and cannot be read ({exc})") from None
    check_schema(schema, str(path))
    return parquet


def check_schema(schema: pa.Schema, where: str) -> None:
    names = schema.names
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InputDataError(
            where,
            f"has duplicate column names: {', '.join(duplicates)}",
            "rename the columns so each name appears once",
        )


def _looks_like_text(path: Path) -> bool:
    with open(path, "rb") as handle:
        sample = handle.read(512)
    return bool(sample) and b"\x00" not in sample


def iter_batches(parquet: pq.ParquetFile, path: Path, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Record batches of the file, turning mid-file damage into InputDataError."""
    try:
        yield from parquet.iter_batches(batch_size=batch_rows, use_threads=True)
    except (pa.ArrowException, OSError) as exc:
        raise InputDataError(str(path), f"is damaged and cannot be read ({exc})") from None
