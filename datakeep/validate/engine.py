"""One pass over a file: read a batch, map it, check it, remember keys; then report."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from datakeep.errors import UsageError
from datakeep.fsutil import naming
from datakeep.schemas import (
    EntitySchema,
    SourceMapping,
    fingerprint,
    identity_mapping,
    load_entity,
    load_rules,
    load_source,
)
from datakeep.validate.collect import Collector, Pending
from datakeep.validate.reader import file_kind, open_batches
from datakeep.validate.report import ValidationReport

Sink = Callable[[Any], None]  # receives each mapped batch (`apply.Canonical`)


def resolve(path: Path, *, entity: str | None, source: str | None, root: Path) -> tuple[EntitySchema, SourceMapping]:
    """Find the entity and mapping for a file: from the arguments, else from datakeep.yaml."""
    if source is not None:
        return load_source(root, source, load_entity(root, entity) if entity else None)
    if entity is not None:
        return load_entity(root, entity), identity_mapping(entity)
    rules = load_rules(root)
    relative = relative_to_root(path, root)
    hit = rules.match(relative)
    if hit is None:
        where = "datakeep.yaml" if rules.path is not None else "a datakeep.yaml (there is none)"
        raise UsageError(
            f"{relative}: no rule in {where} says which schema it follows",
            "pass --entity or --source, or add a rule to datakeep.yaml",
        )
    matched_entity, matched_source = hit
    return resolve(path, entity=matched_entity, source=matched_source, root=root)


def relative_to_root(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def run(
    batches: Iterable[Any],
    raw_columns: list[str],
    entity: EntitySchema,
    mapping: SourceMapping,
    *,
    label: str | None,
    root: Path,
    max_samples: int,
    sink: Sink | None = None,
    typed: bool = True,
) -> ValidationReport:
    """Validate record batches of raw data against ``entity`` through ``mapping``. ``typed``:
    the data's columns carry types (Parquet, a frame), unlike CSV, whose every cell is text."""
    from datakeep.validate.checks import prepare, run_pandera
    from datakeep.validate.keys import RawKeys, UniqueTracker
    from datakeep.validate.plan import make_plan

    collector = Collector(max_samples=max_samples)
    raw_columns, batches = _first_of_each_name(raw_columns, batches, entity, mapping, collector, label)
    plan = make_plan(entity, mapping, raw_columns, collector)
    trackers = [
        UniqueTracker(
            columns,
            kind="duplicate_key" if columns == plan.key else "duplicate_value",
            source_columns=", ".join(plan.source_of(c) or c for c in columns),
            report=report,
        )
        for columns, report in zip(plan.unique_sets, plan.report_duplicates, strict=True)
    ]
    raw_keys = RawKeys(plan) if plan.key and trackers else None
    rows = 0
    for canonical, pending in _mapped(plan, batches, lambda: prepare(plan)):
        pending.flush(collector)
        if rows == 0 and typed:  # a file's columns have one type in every batch
            _check_types(plan, canonical.raw, collector)
        run_pandera(plan, canonical, collector)
        for tracker in trackers:
            tracker.add(canonical)
        if raw_keys is not None:
            raw_keys.add(canonical)
        if sink is not None:
            sink(canonical)
        rows += canonical.raw.num_rows
    for tracker in trackers:
        tracker.finish(collector, raw_keys.lookup if raw_keys is not None else None)
    source = mapping.name or None
    return ValidationReport(
        path=label,
        entity=entity.name,
        source=source,
        fingerprint=fingerprint(root, entity.name, source),
        key=entity.key,
        rows_checked=rows,
        rows_failing=collector.failing_rows,
        problems=collector.problems(),
    )


def _first_of_each_name(
    raw_columns: list[str],
    batches: Iterable[Any],
    entity: EntitySchema,
    mapping: SourceMapping,
    collector: Collector,
    label: str | None,
) -> tuple[list[str], Iterable[Any]]:
    """A file's column names and batches with only the first column of each repeated name.

    datakeep finds columns by name, so a repeated name is an error (exit 2); with pandera's
    ``unique_column_names: true`` it is what the schema forbids, a failure of the data that is
    reported here, and the rest of the file is still validated.
    """
    from datakeep.validate.reader import check_unique_names, repeated

    again = repeated(raw_columns)
    if not again:
        return raw_columns, batches
    if not entity.schema.unique_column_names:
        check_unique_names(label or "<frame>", raw_columns)
    for name, count in again.items():
        target = mapping.target_of(name)
        collector.structural(
            "check_failed",
            column=target if target in entity.schema.columns else None,
            source_column=name,
            check="dataframe_column_labels_unique",
            detail=f"column '{name}' appears {count} times; only the first was validated",
        )
    keep = [i for i, name in enumerate(raw_columns) if raw_columns.index(name) == i]
    names = [raw_columns[i] for i in keep]

    def firsts() -> Iterator[Any]:
        import pyarrow as pa

        for batch in batches:
            yield pa.RecordBatch.from_arrays([batch.column(i) for i in keep], names=names)

    return names, firsts()


def _check_types(plan: Any, batch: Any, collector: Collector) -> None:
    """``coerce: false``: a column whose values the file does not already hold in its dtype
    fails, as pandera's dtype check fails it, rather than being converted. A conversion the
    source mapping declares (a cast, a value map, a scale) is asked for, so it still applies.
    Not for CSV, which holds text only: its cells are read into the dtype, as pandas' reader
    reads them before pandera sees the frame."""
    from datakeep.validate.coerce import same_type

    for step in plan.steps:
        spec = step.spec
        if step.convert or step.raw is None or step.dtype is None:
            continue
        if spec is not None and (spec.cast is not None or spec.values is not None or spec.scale is not None):
            continue
        source = batch.column(step.raw).type
        if not same_type(source, step.dtype):
            detail = f"the file's column is {source}, not {step.dtype}, and coerce is false: values are not converted"
            collector.structural(
                "check_failed", column=step.column, source_column=step.raw, check="dtype", detail=detail
            )


def _mapped(plan: Any, batches: Iterable[Any], meanwhile: Callable[[], None]) -> Iterator[tuple[Any, Pending]]:
    """Read and map batches on a worker thread, one batch ahead of the caller.

    Reading Parquet and mapping are Arrow compute, which runs without the GIL, so they overlap
    with pandera's checks of the previous batch on the other core. One batch ahead keeps memory
    bounded (two mapped batches at most); findings wait in `Pending` until their batch's turn.
    ``meanwhile`` runs on the calling thread while the first batch is read.
    """
    from concurrent.futures import ThreadPoolExecutor

    from datakeep.validate.apply import apply_batch

    source = iter(batches)

    def read_and_map(start: int) -> tuple[Any, Pending] | None:
        batch = next(source, None)
        if batch is None:
            return None
        pending = Pending()
        return apply_batch(plan, batch, start, pending), pending

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="datakeep-map") as pool:
        ahead = pool.submit(read_and_map, 0)
        meanwhile()
        while (done := ahead.result()) is not None:
            canonical, _ = done
            ahead = pool.submit(read_and_map, canonical.start + canonical.raw.num_rows)
            yield done


def validate_file(
    path: str | Path,
    *,
    entity: str | None = None,
    source: str | None = None,
    root: str | Path = ".",
    max_samples: int = 5,
    label: str | None = None,
) -> ValidationReport:
    """Validate a Parquet or CSV file against its entity's schema, through its source's mapping.

    The file is read once, in batches; every problem is found (nothing stops at the first).

    Args:
        path: The data file.
        entity: The entity; taken from the source when only ``source`` is given.
        source: The source whose mapping turns the file into the entity.
        root: The project folder holding `schemas/` and `datakeep.yaml`. With neither
            ``entity`` nor ``source``, the rules in `datakeep.yaml` decide.
        max_samples: Sample rows kept per problem.
        label: What the report calls the data (default: ``path``), e.g. ``HEAD:crm`` for a
            committed version written out to validate.

    Returns:
        The report; ``report.ok`` is true when the file is clean.

    Raises:
        SchemaConfigError: A schema, mapping or rules file is unusable.
        UsageError: The file is missing or of an unknown type, or no rule matches it.
        InputDataError: The file cannot be read.
    """
    path, root = Path(path), Path(root)
    ent, mapping = resolve(path, entity=entity, source=source, root=root)
    columns, batches = open_batches(path, mapping.csv, repeated_names=ent.schema.unique_column_names)
    return run(
        batches,
        columns,
        ent,
        mapping,
        label=label or str(path),
        root=root,
        max_samples=max_samples,
        typed=file_kind(path) == "parquet",
    )


def validate_frame(
    df: Any,
    *,
    entity: str,
    source: str | None = None,
    root: str | Path = ".",
    max_samples: int = 5,
) -> ValidationReport:
    """Validate a pandas DataFrame, as `validate_file` does a file.

    Args:
        df: The data, in the source's raw shape (or canonical, when ``source`` is None).
        entity: The entity whose schema applies.
        source: The source mapping to apply first, if any.
        root: The project folder holding `schemas/`.
        max_samples: Sample rows kept per problem.

    Returns:
        The report; sample rows are numbered by position in ``df``.
    """
    import pyarrow as pa

    from datakeep.validate.reader import BATCH_ROWS, empty_batch

    root = Path(root)
    ent, mapping = resolve(Path("<frame>"), entity=entity, source=source, root=root)
    table = pa.Table.from_pandas(df, preserve_index=False)
    batches = table.combine_chunks().to_batches(max_chunksize=BATCH_ROWS) if len(table) else [empty_batch(table.schema)]
    return run(
        batches,
        [str(c) for c in table.column_names],
        ent,
        mapping,
        label=None,
        root=root,
        max_samples=max_samples,
    )


def map_file(
    path: str | Path,
    *,
    source: str,
    root: str | Path = ".",
    output: str | Path,
    max_samples: int = 5,
) -> ValidationReport:
    """Apply a source mapping to a file and write the canonical data as Parquet.

    The output is written whole or not at all (temp file, then rename). Cells that could not be
    mapped (no mapping, failed cast) are null in it; the returned report lists them.

    Args:
        path: The raw data file.
        source: The source whose mapping applies.
        root: The project folder holding `schemas/`.
        output: Where the canonical Parquet file goes.
        max_samples: Sample rows kept per problem.

    Returns:
        The validation report of the mapped data.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path, root, output = Path(path), Path(root), Path(output)
    ent, mapping = resolve(path, entity=None, source=source, root=root)
    columns, batches = open_batches(path, mapping.csv, repeated_names=ent.schema.unique_column_names)
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    os.close(fd)
    writer: list[Any] = []

    def sink(batch: Any) -> None:
        import pyarrow.compute as pc

        table = pa.Table.from_pandas(batch.frame, preserve_index=False)
        # Judged cells hold placeholders where the dtype has no null (numpy ints); write null.
        for name, judged in batch.judged.items():
            if judged.any():
                i = table.schema.get_field_index(name)
                column = pc.if_else(pa.array(judged), pa.scalar(None, table.field(i).type), table.column(i))
                table = table.set_column(i, table.field(i), column)
        if not writer:
            with naming(output):  # pyarrow's disk-full error names no file
                writer.append(pq.ParquetWriter(tmp, table.schema))
        else:
            table = table.cast(writer[0].schema)
        with naming(output):
            writer[0].write_table(table)

    try:
        report = run(
            batches,
            columns,
            ent,
            mapping,
            label=str(path),
            root=root,
            max_samples=max_samples,
            sink=sink,
            typed=file_kind(path) == "parquet",
        )
        with naming(output):
            if writer:
                writer[0].close()
            else:
                pq.write_table(pa.table({c: pa.array([]) for c in ent.columns}), tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, output)
    except BaseException:
        if writer:
            writer[0].close()
        Path(tmp).unlink(missing_ok=True)
        raise
    return report
