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
from typing import Any

import yaml

from datakeep.errors import InputDataError, UsageError
from datakeep.schemas._files import check_name

BATCH_ROWS = 262_144
# What `validate` parses CSV text as without a mapping (times._ISO_FORMATS), so that no type is
# inferred for a CSV column that validate would then fail to read.
_CSV_DATETIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S"]


def infer_schema(path: str | Path, entity: str) -> str:
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

    Returns:
        YAML text for `schemas/<entity>.yaml`.

    Raises:
        InputDataError: The file cannot be read.
        UsageError: The file type is not supported.
    """
    import pyarrow as pa

    from datakeep.schemas._profile import Profile

    check_name("entity", entity)
    path = Path(path)
    fields, batches = _open(path)
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
        raise InputDataError(str(path), f"cannot read it: {exc}") from None
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


def _open(path: Path) -> tuple[Any, Iterator[Any]]:
    """The file's Arrow schema and an iterator over its record batches."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from datakeep.schemas.mapping import CsvOptions

    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".pq", ".csv", ".tsv", ".txt"):
        raise UsageError(f"{path}: cannot infer a schema from a '{suffix}' file", "use Parquet or CSV")
    if not path.is_file():
        raise InputDataError(str(path), "no such file", "check the path")
    try:
        if suffix in (".parquet", ".pq"):
            handle = pq.ParquetFile(path)
            return handle.schema_arrow, handle.iter_batches(batch_size=BATCH_ROWS)
        # The null markers `validate` uses for a source without CSV options.
        options = CsvOptions()
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(encoding=options.encoding),
            parse_options=pacsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else options.delimiter),
            convert_options=pacsv.ConvertOptions(
                null_values=list(options.null_values),
                strings_can_be_null=True,
                quoted_strings_can_be_null=False,
                timestamp_parsers=_CSV_DATETIME_FORMATS,
            ),
        )
        return reader.schema, iter(reader)
    except (OSError, pa.ArrowException) as exc:
        raise InputDataError(str(path), f"cannot read it: {exc}") from None
