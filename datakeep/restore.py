"""Getting a version back: chunks streamed in order, cast to the exact committed schema.

Each chunk is decoded and written before the next is read, so memory stays at one chunk (plus
the writer's row group) whatever the dataset's size.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from datakeep.errors import CorruptObjectError
from datakeep.fsutil import atomic_output
from datakeep.parquet_encoding import dictionary_columns
from datakeep.partitions import partition_columns
from datakeep.patches import rebuild_table
from datakeep.records.manifest import ChunkRef, FileEntry, Manifest
from datakeep.snapshot import decode_schema
from datakeep.store.base import ObjectStore
from datakeep.unify import conform, union_schema

#: Rows per row group in restored files: pyarrow's own default, so files look like the user's.
RESTORE_ROW_GROUP = 1024 * 1024


def read_chunk(store: ObjectStore, chunk: ChunkRef, schema: pa.Schema, *, verify: bool = False) -> pa.Table:
    if chunk.depth:
        if verify:
            for oid in chunk.objects():
                store.get_verified(oid)
        table = rebuild_table(store, chunk.object)
        if table.num_rows != chunk.rows:
            raise CorruptObjectError(chunk.object, f"patch rebuilds {table.num_rows} rows, manifest says {chunk.rows}")
        return _conform(table, schema)
    data = store.get_verified(chunk.object) if verify else store.get(chunk.object)
    try:
        # ParquetFile, not pq.read_table: that goes through pyarrow.dataset, which imports pandas.
        table = pq.ParquetFile(pa.BufferReader(data)).read()
    except (pa.ArrowException, OSError) as exc:
        raise CorruptObjectError(chunk.object, f"not a readable Parquet chunk ({exc})") from None
    if table.num_rows != chunk.rows:
        raise CorruptObjectError(chunk.object, f"holds {table.num_rows} rows, manifest says {chunk.rows}")
    return _conform(table, schema)


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    # A chunk may be shared with a snapshot that wrote the same content with another encoding
    # (large_string vs string, dictionary vs plain): cast it to this snapshot's own schema.
    table = table.replace_schema_metadata(None)
    target = schema.remove_metadata()
    if not table.schema.equals(target):
        table = table.cast(target)
    return table.replace_schema_metadata(schema.metadata)


def iter_file_tables(
    store: ObjectStore, entry: FileEntry, *, verify: bool = False, workers: int = 2
) -> Iterator[pa.Table]:
    """The file's chunks in order, decoded ahead of the consumer."""
    schema = decode_schema(entry.schema)
    if not entry.chunks:
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        window = 2 * workers
        futures = [pool.submit(read_chunk, store, c, schema, verify=verify) for c in entry.chunks[:window]]
        next_index = len(futures)
        while futures:
            table = futures.pop(0).result()
            if next_index < len(entry.chunks):
                futures.append(pool.submit(read_chunk, store, entry.chunks[next_index], schema, verify=verify))
                next_index += 1
            yield table


def read_file_entry(store: ObjectStore, entry: FileEntry) -> pa.Table:
    schema = decode_schema(entry.schema)
    tables = list(iter_file_tables(store, entry))
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables).replace_schema_metadata(schema.metadata)


def read_manifest(store: ObjectStore, manifest: Manifest, *, partitions: bool = False) -> pa.Table:
    """The whole snapshot as one table (files concatenated in order for a folder dataset, with
    the union of their columns: see `unify`). With ``partitions``, a folder's hive partition
    values follow as columns, as `pyarrow.dataset` gives them, unless a file holds a column of
    that name (see `partitions`)."""
    tables = [read_file_entry(store, entry) for entry in manifest.files]
    if len(tables) == 1:
        table = tables[0]
    else:
        union = union_schema(
            [(e.path, t.schema) for e, t in zip(manifest.files, tables, strict=True)], f"dataset '{manifest.name}'"
        )
        tables = [conform(t, union, exact=True) for t in tables]
        table = pa.concat_tables(tables, promote_options="default").replace_schema_metadata(union.metadata)
    if not partitions or manifest.kind != "folder":
        return table
    paths, rows = [e.path for e in manifest.files], [e.rows for e in manifest.files]
    for name, column in partition_columns(paths, rows).items():
        if name not in table.column_names:
            table = table.append_column(name, column)
    return table


def write_file_entry(store: ObjectStore, entry: FileEntry, target: Path, *, durable: bool = True) -> None:
    """Write one file of a snapshot to ``target`` atomically, streaming chunk by chunk; fsynced
    unless ``durable`` is False."""
    schema = decode_schema(entry.schema)
    with atomic_output(target, durable=durable) as tmp:
        writer: pq.ParquetWriter | None = None
        try:
            for group in _row_groups(iter_file_tables(store, entry), schema):
                if writer is None:
                    # Opened on the first row group: which columns get dictionary pages is
                    # judged from real rows (see parquet_encoding).
                    writer = pq.ParquetWriter(
                        tmp,
                        schema,
                        compression="snappy",
                        store_schema=True,
                        use_dictionary=dictionary_columns(group),
                    )
                writer.write_table(group, row_group_size=RESTORE_ROW_GROUP)
        finally:
            if writer is not None:
                writer.close()


def _row_groups(tables: Iterator[pa.Table], schema: pa.Schema) -> Iterator[pa.Table]:
    """The chunks regrouped into row groups of ``RESTORE_ROW_GROUP`` rows (one empty group for a
    0-row file, so it keeps its schema)."""
    buffered: list[pa.Table] = []
    buffered_rows = 0
    produced = False
    for table in tables:
        buffered.append(table)
        buffered_rows += table.num_rows
        if buffered_rows >= RESTORE_ROW_GROUP:
            yield pa.concat_tables(buffered)
            produced = True
            buffered, buffered_rows = [], 0
    if buffered:
        yield pa.concat_tables(buffered)
    elif not produced:
        yield pa.Table.from_batches([], schema=schema)  # empty_table() would import pandas


def write_manifest(store: ObjectStore, manifest: Manifest, target: Path, *, durable: bool = True) -> list[Path]:
    """Restore a snapshot at ``target`` (a file, or a folder with the same relative layout)."""
    written: list[Path] = []
    for entry in manifest.files:
        path = target if manifest.kind == "file" else target / entry.path
        write_file_entry(store, entry, path, durable=durable)
        written.append(path)
    return written
