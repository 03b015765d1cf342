"""`datakeep schema infer`: a first canonical schema from real data, for a person to edit.

The schema is read off the file's Arrow columns, the way `validate` reads the file, and not off a
pandas frame: pandas turns an integer column with nulls into floats and a time of day into an
object pandera then calls a datetime, restores a pandas index that `validate` sees as an ordinary
column, and holds values (zoned timestamps, Decimals, bytes) that YAML cannot write.

Every row is read, in batches, so ranges, nullability and the guessed key hold for the whole file
and the schema passes `datakeep validate` on the file it came from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from datakeep.errors import InputDataError, UsageError
from datakeep.schemas._files import check_name

if TYPE_CHECKING:
    from datakeep.schemas.mapping import CsvOptions

BATCH_ROWS = 262_144
# What `validate` parses CSV text as without a mapping (times._ISO_FORMATS), so that no type is
# inferred for a CSV column that validate would then fail to read.
_CSV_DATETIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def infer_schema(
    path: str | Path,
    entity: str,
    *,
    root: str | Path = ".",
    source: str | None = None,
    delimiter: str | None = None,
    encoding: str | None = None,
) -> str:
    """Infer a canonical schema from a Parquet or CSV file, as YAML text.

    Each column's dtype comes from its Arrow type; its nullability and range (numbers, decimals,
    dates, timestamps) from all of its values. Columns pandas holds as Python objects (lists,
    structs, maps, bytes, times of day) are declared ``object``, with no value checks, and a
    pandas index stored in the file is declared as the column it is stored as. datakeep's header
    adds a guessed key (a unique, never null, ``id``-like integer or text column). The result is
    a starting point to review, not a verdict; it passes `validate` on the file it came from.

    Args:
        path: A Parquet or CSV file.
        entity: The entity name written into the header comment.
        root: The project folder holding `schemas/`, where ``source`` is looked up.
        source: A source whose mapping's ``csv:`` options (delimiter, encoding, null values)
            read a CSV file, as `validate --source` reads it.
        delimiter: The CSV delimiter (default ',' or the source's; a tab for .tsv).
        encoding: The CSV encoding, over the source's (default utf-8).

    Returns:
        YAML text for `schemas/<entity>.yaml`.

    Raises:
        InputDataError: The file cannot be read.
        UsageError: The file type is not supported, or a CSV option is not one.
        SchemaConfigError: The source's mapping file is missing or invalid.
    """
    import pyarrow as pa

    from datakeep.schemas._profile import Profile

    check_name("entity", entity)
    path = Path(path)
    csv = _csv_options(path, root, source, delimiter, encoding)
    fields, batches = _open(path, csv)
    for name, count in Counter(field.name for field in fields).items():
        if count > 1:
            # A schema maps names to columns; validate refuses such a file for the same reason.
            raise InputDataError(str(path), f"column '{name}' appears {count} times", "give every column its own name")
    profiles = [Profile(field.name, field.type) for field in fields]
    index = _pandas_index(fields)
    for profile in profiles:
        if profile.name in index:
            profile.note = "the pandas index, stored in the file as a column"
    try:
        for batch in batches:
            for profile, column in zip(profiles, batch.columns, strict=True):
                profile.add(column)
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, csv, exc) from None
    header: dict[str, object] = {"description": f"{entity} (inferred from {path.name})"}
    key = next((p.name for p in profiles if p.is_key()), None)
    if key:
        header["key"] = [key]
    body = {
        "schema_type": "dataframe",
        "api": "pandas",
        "columns": {p.name: p.declaration() for p in profiles},
        "coerce": True,
    }
    text = yaml.safe_dump({"datakeep": header}, sort_keys=False, allow_unicode=True)
    text += yaml.safe_dump(body, sort_keys=False, allow_unicode=True)
    return (
        f"# Canonical schema of entity '{entity}', inferred by `datakeep schema infer`.\n"
        "# A starting point: review dtypes, nullability and checks before relying on it.\n"
        f"{text}"
    )


def _pandas_index(fields: Any) -> set[str]:
    """The columns pandas wrote its index into (a RangeIndex is only metadata: no column)."""
    metadata = getattr(fields, "pandas_metadata", None) or {}
    return {name for name in metadata.get("index_columns", []) if isinstance(name, str)}


_PARQUET = (".parquet", ".pq")


def _csv_options(
    path: Path, root: str | Path, source: str | None, delimiter: str | None, encoding: str | None
) -> CsvOptions | None:
    """How ``path`` is read as CSV, as `validate` reads it: the source's ``csv:`` options, then
    the ones given; None for a Parquet file (refusing CSV options for one: they would do nothing)."""
    import codecs
    import dataclasses

    from datakeep.schemas.mapping import CsvOptions, source_csv

    suffix = path.suffix.lower()
    if suffix not in (*_PARQUET, ".csv", ".tsv", ".txt"):
        raise UsageError(f"{path}: cannot infer a schema from a '{suffix}' file", "use Parquet or CSV")
    if suffix in _PARQUET:
        if delimiter is not None or encoding is not None:
            raise UsageError(f"{path}: --delimiter and --encoding read CSV files; this is Parquet", "leave them out")
        return None
    options = source_csv(root, source) if source is not None else CsvOptions()
    if suffix == ".tsv":
        options = dataclasses.replace(options, delimiter="\t")  # as validate reads one, whatever the source
    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
        if len(delimiter) != 1:
            raise UsageError(f"delimiter {delimiter!r} is not one character", "e.g. --delimiter ';' (or tab)")
        options = dataclasses.replace(options, delimiter=delimiter)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise UsageError(f"unknown encoding {encoding!r}", "e.g. utf-8, utf-8-sig, cp1252, latin-1") from None
        options = dataclasses.replace(options, encoding=encoding)
    return options


def _unreadable(path: Path, csv: CsvOptions | None, exc: Exception) -> InputDataError:
    """The error for a file that cannot be read, with advice for its kind: a CSV file that does
    not parse is read with the wrong delimiter, encoding or quoting far more often than cut short."""
    if csv is None:
        return InputDataError(str(path), f"cannot read it as Parquet: {exc}")
    return InputDataError(
        str(path),
        f"cannot read it as CSV with delimiter {csv.delimiter!r} and encoding {csv.encoding}: {exc}",
        "give the file's delimiter and encoding (e.g. --delimiter ';' --encoding cp1252), or --source S to "
        "read it with that source's csv options; check its quoting (a field holding the delimiter is quoted)",
    )


def _open(path: Path, csv: CsvOptions | None) -> tuple[Any, Iterator[Any]]:
    """The file's Arrow schema and an iterator over its record batches (``csv`` None: Parquet)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if not path.is_file():
        raise InputDataError(str(path), "no such file", "check the path")
    try:
        if csv is None:
            handle = pq.ParquetFile(path)
            return handle.schema_arrow, handle.iter_batches(batch_size=BATCH_ROWS)
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=csv.encoding),
            parse_options=pacsv.ParseOptions(delimiter=csv.delimiter),
            convert_options=pacsv.ConvertOptions(
                null_values=list(csv.null_values),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                timestamp_parsers=_CSV_DATETIME_FORMATS,
            ),
        )
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(path, csv, exc) from None
    for field in reader.schema:
        if pa.types.is_binary(field.type):
            # Arrow infers bytes for a column that is not text in the encoding given: validate
            # reads it as text, and fails; the schema would declare an object column of bytes.
            raise _unreadable(path, csv, ValueError(f"column '{field.name}' is not {csv.encoding} text"))
    return reader.schema, iter(reader)
