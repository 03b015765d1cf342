"""`datakeep schema infer`: a first canonical schema from real data, for a person to edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from datakeep.errors import InputDataError, UsageError
from datakeep.schemas._files import check_name

SAMPLE_ROWS = 100_000


def infer_schema(path: str | Path, entity: str) -> str:
    """Infer a canonical schema from a Parquet or CSV file, as YAML text.

    pandera infers dtypes, nullability and value ranges from the first rows of the file; datakeep
    adds its header with a guessed key (a unique, non-null ``id``-like column). The result is a
    starting point to review, not a verdict.

    Args:
        path: A Parquet or CSV file.
        entity: The entity name written into the header comment.

    Returns:
        YAML text for `schemas/<entity>.yaml`.

    Raises:
        InputDataError: The file cannot be read.
        UsageError: The file type is not supported.
    """
    import pandera.pandas as pa
    from pandera.io import pandas_io

    check_name("entity", entity)
    df = _sample(Path(path))
    schema = pa.infer_schema(df)
    body = pandas_io.to_yaml(schema)
    header: dict[str, object] = {"description": f"{entity} (inferred from {Path(path).name})"}
    key = _guess_key(df)
    if key:
        header["key"] = [key]
    head = yaml.safe_dump({"datakeep": header}, sort_keys=False)
    return (
        f"# Canonical schema of entity '{entity}', inferred by `datakeep schema infer`.\n"
        "# A starting point: review dtypes, nullability and checks before relying on it.\n"
        f"{head}{body}"
    )


def _sample(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            batches = pq.ParquetFile(path).iter_batches(batch_size=SAMPLE_ROWS)
            first = next(batches, None)
            table = pa.Table.from_batches([first]) if first is not None else pq.read_schema(path).empty_table()
        elif suffix in (".csv", ".tsv", ".txt"):
            parse = pacsv.ParseOptions(delimiter="\t" if suffix == ".tsv" else ",")
            reader = pacsv.open_csv(path, parse_options=parse)
            rows: list[pa.RecordBatch] = []
            count = 0
            for batch in reader:
                rows.append(batch)
                count += batch.num_rows
                if count >= SAMPLE_ROWS:
                    break
            table = pa.Table.from_batches(rows, schema=reader.schema).slice(0, SAMPLE_ROWS)
        else:
            raise UsageError(f"{path}: cannot infer a schema from a '{suffix}' file", "use Parquet or CSV")
    except (OSError, pa.ArrowException) as exc:
        raise InputDataError(str(path), f"cannot read it: {exc}") from None
    return table.to_pandas()


def _guess_key(df: Any) -> str | None:
    for column in df.columns:
        name = str(column).lower()
        if (name == "id" or name.endswith("_id") or name.endswith("id")) and (
            df[column].notna().all() and df[column].is_unique
        ):
            return str(column)
    return None
