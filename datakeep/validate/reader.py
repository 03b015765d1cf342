"""Reading raw files in record batches, so memory stays bounded whatever the file's size.

CSV is read with every column as text: the raw values the report quotes are then exactly what is
in the file ("007", "1.203,50"), and turning text into types is the mapping's job, with explicit
formats, not a reader's guess.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from datakeep.errors import InputDataError, UsageError
from datakeep.schemas import CsvOptions
from datakeep.tracking import PARQUET_SUFFIXES, starts_with_magic

BATCH_ROWS = 262_144
CSV_SUFFIXES = (".csv", ".tsv", ".txt")
#: A CSV file that does not parse is read with the wrong options far more often than cut short.
_CSV_HINT = (
    "check csv.delimiter and csv.encoding in the source mapping (e.g. csv: {delimiter: ';', encoding: cp1252}), "
    "and the file's quoting (a field holding the delimiter or a line end is quoted)"
)


def file_kind(path: Path) -> str:
    suffix = path.suffix.lower()
    # The files a folder dataset is made of (`tracking.is_part_file`), so a commit validates
    # every one of them: Hive's part files have no extension, only the Parquet magic.
    if suffix in PARQUET_SUFFIXES or (not suffix and path.is_file() and starts_with_magic(path)):
        return "parquet"
    if suffix in CSV_SUFFIXES:
        return "csv"
    raise UsageError(f"{path}: cannot validate a '{suffix or path.name}' file", "datakeep reads Parquet and CSV")


def open_batches(
    path: Path, csv_options: CsvOptions, *, batch_rows: int = BATCH_ROWS, repeated_names: bool = False
) -> tuple[list[str], Iterator[pa.RecordBatch]]:
    """Return the file's column names and an iterator over its record batches.

    A column name that appears twice is an error, unless ``repeated_names`` (the schema's
    ``unique_column_names: true`` makes it a failure of the data, reported by the engine).
    """
    if not path.is_file():
        raise UsageError(f"{path}: no such file", "check the path")
    if file_kind(path) == "parquet":
        names, batches = _parquet(path, batch_rows)
    else:
        names, batches = _csv(path, csv_options, batch_rows)
    if not repeated_names:
        check_unique_names(str(path), names)
    return names, batches


def check_unique_names(what: str, names: list[str]) -> None:
    """Columns are found by name; a name that appears twice cannot say which one is meant."""
    for name, count in repeated(names).items():
        raise InputDataError(what, f"column '{name}' appears {count} times", "give every column its own name")


def repeated(names: list[str]) -> dict[str, int]:
    """The names that appear more than once, with how often."""
    return {name: count for name, count in Counter(names).items() if count > 1}


def _parquet(path: Path, batch_rows: int) -> tuple[list[str], Iterator[pa.RecordBatch]]:

    from datakeep.parquet_io import streaming_parquet

    try:
        handle = streaming_parquet(path)
    except (OSError, pa.ArrowException) as exc:
        raise InputDataError(str(path), f"cannot read it as Parquet: {exc}") from None

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            if handle.metadata.num_rows == 0:
                # No batch to read, but its columns still have types to check (coerce: false).
                yield empty_batch(handle.schema_arrow)
                return
            yield from handle.iter_batches(batch_size=batch_rows)
        except (OSError, pa.ArrowException) as exc:
            raise InputDataError(str(path), f"cannot read it as Parquet: {exc}") from None

    return list(handle.schema_arrow.names), batches()


def empty_batch(schema: pa.Schema) -> pa.RecordBatch:
    """A batch of no rows with ``schema``'s columns: what a source without rows is checked as."""
    return pa.RecordBatch.from_arrays([pa.array([], type=field.type) for field in schema], schema=schema)


def _csv(path: Path, options: CsvOptions, batch_rows: int) -> tuple[list[str], Iterator[pa.RecordBatch]]:
    import pyarrow.csv as pacsv

    delimiter = "\t" if path.suffix.lower() == ".tsv" else options.delimiter
    try:
        with path.open(encoding=options.encoding, newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter), None)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputDataError(str(path), f"cannot read it as CSV: {exc}", _CSV_HINT) from None
    if not header:
        raise InputDataError(str(path), "the CSV file is empty (no header row)", "re-export it")
    # Excel writes a UTF-8 byte order mark: Python's utf-8 codec keeps it in the first name while
    # Arrow drops it, and the two must agree or the first column is lost (and not read as text).
    header[0] = header[0].removeprefix("\ufeff")
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=16 << 20, encoding=options.encoding),
            parse_options=pacsv.ParseOptions(delimiter=delimiter),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                null_values=list(options.null_values),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
            ),
        )
    except (OSError, pa.ArrowException) as exc:
        if isinstance(exc, pa.ArrowInvalid) and not _has_rows(path, options.encoding, delimiter):
            # A header without a line end after it ("id,name"): Arrow reads no complete line, so
            # no columns. It is the file "id,name\n" is, with no rows.
            return list(header), iter(())
        raise InputDataError(str(path), f"cannot read it as CSV: {exc}", _CSV_HINT) from None
    if reader.schema.names != header:
        # Columns are matched by name: a header the two readers see differently would silently
        # drop or mistype a column, so refuse it instead.
        raise InputDataError(
            str(path),
            f"its header reads as {header} and as {reader.schema.names}",
            "check csv.encoding and csv.delimiter in the source mapping",
        )

    def batches() -> Iterator[pa.RecordBatch]:
        pending: list[pa.RecordBatch] = []
        count = 0
        try:
            for batch in reader:
                pending.append(batch)
                count += batch.num_rows
                if count >= batch_rows:
                    yield _combine(pending)
                    pending, count = [], 0
        except (OSError, pa.ArrowException) as exc:
            raise InputDataError(str(path), f"cannot read it as CSV: {exc}", _CSV_HINT) from None
        if pending:
            yield _combine(pending)

    return list(header), batches()


def _has_rows(path: Path, encoding: str, delimiter: str) -> bool:
    """Whether the CSV file has a record after its header (read as Python's csv module reads it)."""
    try:
        with path.open(encoding=encoding, newline="") as handle:
            records = csv.reader(handle, delimiter=delimiter)
            next(records, None)
            return next(records, None) is not None
    except (OSError, UnicodeDecodeError, csv.Error):
        return True  # let Arrow's error stand


def _combine(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    if len(batches) == 1:
        return batches[0]
    table = pa.Table.from_batches(batches).combine_chunks()
    return table.to_batches()[0]
