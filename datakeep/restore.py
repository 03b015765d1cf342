"""Getting a version back: chunks streamed in order, cast to the exact committed schema.

Each chunk is decoded and written before the next is read, so memory stays at one chunk (plus
the writer's row group) whatever the dataset's size.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pyarrow as pa

from datakeep import kernels
from datakeep.arrow_numpy import no_columns
from datakeep.errors import CorruptObjectError, UsageError
from datakeep.fsutil import atomic_output
from datakeep.parquet_encoding import dictionary_columns, stored_dictionary_columns
from datakeep.parquet_source import ParquetSource
from datakeep.partitions import partition_columns
from datakeep.patches import rebuild_table
from datakeep.records.manifest import ChunkRef, FileEntry, Manifest
from datakeep.snapshot import decode_schema
from datakeep.store.base import ObjectStore, VerifyingStore
from datakeep.unify import conform, union_schema

#: Rows per row group in restored files: pyarrow's own default, so files look like the user's.
RESTORE_ROW_GROUP = 1024 * 1024
#: ...or fewer, once they hold this much decoded: a million rows of 256 KiB images were one
#: row group, held whole while it was written (2.4 GB to restore a 0.5 GB file).
RESTORE_ROW_GROUP_BYTES = 128 * 1024 * 1024


def read_chunk(
    store: ObjectStore,
    chunk: ChunkRef,
    schema: pa.Schema,
    *,
    verify: bool = True,
    columns: list[int] | None = None,
) -> pa.Table:
    """A chunk's rows with ``schema`` (the file's), only the columns at ``columns`` (positions
    in ``schema``, in that order) when given. With ``verify``, each object read (the chain's of a
    patch too) must hash to its id: a damaged byte is a CorruptObjectError, never restored data
    (xxh3 over the bytes, about 1% of a checkout)."""
    if columns is not None:
        schema = pa.schema([schema.field(i) for i in columns], metadata=schema.metadata)
    if verify:
        store = VerifyingStore(store)  # each object checked as it is read, the chain's too
    if chunk.depth:
        table = rebuild_table(store, chunk.object, columns, memo=False)  # a read, not a diff's keys
        if table.num_rows != chunk.rows:
            raise CorruptObjectError(chunk.object, f"patch rebuilds {table.num_rows} rows, manifest says {chunk.rows}")
        return _conform(table, schema)
    data = store.get(chunk.object)
    try:
        # ParquetFile, not pq.read_table: that goes through pyarrow.dataset, which imports pandas.
        parquet = ParquetSource(pa.BufferReader(data))
        names = parquet.schema_arrow.names
        table = parquet.read(columns=None if columns is None else [names[i] for i in columns])
    except (pa.ArrowException, OSError, IndexError) as exc:
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
        table = kernels.cast_table(table, target)
    return table.replace_schema_metadata(schema.metadata)


def iter_file_tables(
    store: ObjectStore,
    entry: FileEntry,
    *,
    verify: bool = True,
    workers: int = 2,
    columns: list[int] | None = None,
) -> Iterator[pa.Table]:
    """The file's chunks in order, decoded ahead of the consumer (the columns at ``columns``)."""
    schema = decode_schema(entry.schema)
    if not entry.chunks:
        return
    read = functools.partial(read_chunk, store, schema=schema, verify=verify, columns=columns)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        window = 2 * workers
        futures = [pool.submit(read, c) for c in entry.chunks[:window]]
        next_index = len(futures)
        while futures:
            table = futures.pop(0).result()
            if next_index < len(entry.chunks):
                futures.append(pool.submit(read, entry.chunks[next_index]))
                next_index += 1
            yield table


def read_file_entry(store: ObjectStore, entry: FileEntry, columns: Sequence[str] | None = None) -> pa.Table:
    """One file of a snapshot; only those of ``columns`` it has, in that order, when given."""
    schema = decode_schema(entry.schema)
    positions = None if columns is None else [schema.get_field_index(n) for n in columns if n in schema.names]
    if positions is not None:
        schema = pa.schema([schema.field(i) for i in positions], metadata=schema.metadata)
    tables = list(iter_file_tables(store, entry, columns=positions))
    if not tables:
        return schema.empty_table()
    return pa.concat_tables(tables).replace_schema_metadata(schema.metadata)


def read_manifest(
    store: ObjectStore, manifest: Manifest, *, columns: Sequence[str] | None = None, partitions: bool = False
) -> pa.Table:
    """The whole snapshot as one table (files concatenated in order for a folder dataset, with
    the union of their columns: see `unify`). With ``partitions``, a folder's hive partition
    values follow as columns, as `pyarrow.dataset` gives them, unless a file holds a column of
    that name (see `partitions`). ``columns`` picks columns (in that order): only they are
    decoded, as with pyarrow's ``read_table(columns=...)``."""
    paths, rows = [e.path for e in manifest.files], [e.rows for e in manifest.files]
    hive = partition_columns(paths, rows) if partitions and manifest.kind == "folder" else {}
    if columns is not None:
        _check_columns(manifest, list(columns), hive)
        if not columns:  # the count, without decoding a chunk
            return no_columns(sum(entry.rows for entry in manifest.files))
    stored = None if columns is None else [n for n in columns if n in {c["name"] for c in manifest.columns}]
    tables = [read_file_entry(store, entry, stored) for entry in manifest.files]
    if len(tables) == 1 and (stored is None or tables[0].column_names == stored):
        table = tables[0]
    else:
        union = union_schema(
            [(e.path, t.schema) for e, t in zip(manifest.files, tables, strict=True)], f"dataset '{manifest.name}'"
        )
        tables = [conform(t, union, stored, exact=True) for t in tables]
        table = pa.concat_tables(tables, promote_options="default").replace_schema_metadata(union.metadata)
    for name, column in hive.items():
        if name not in table.column_names and (columns is None or name in columns):
            table = table.append_column(name, column)
    return table if columns is None else table.select(list(columns))


def _check_columns(manifest: Manifest, wanted: list[str], hive: dict[str, pa.ChunkedArray]) -> None:
    known = [c["name"] for c in manifest.columns] + [n for n in hive if n not in {c["name"] for c in manifest.columns}]
    unknown = [n for n in wanted if n not in known]
    if unknown or len(set(wanted)) != len(wanted):
        what = f"no column {', '.join(map(repr, unknown))}" if unknown else "a column asked for twice"
        raise UsageError(
            f"dataset '{manifest.name}' has {what} (it has: {', '.join(known)})",
            "name columns as the snapshot has them (`datakeep show REV:NAME` lists them)",
        )


def write_file_entry(store: ObjectStore, entry: FileEntry, target: Path, *, durable: bool = True) -> None:
    """Write one file of a snapshot to ``target`` atomically, streaming chunk by chunk; fsynced
    unless ``durable`` is False."""
    import pyarrow.parquet as pq  # here: reading needs only `ParquetSource` (see there)

    schema = decode_schema(entry.schema)
    dictionary = _stored_dictionary(store, entry)
    with atomic_output(target, durable=durable) as tmp:
        writer: pq.ParquetWriter | None = None
        try:
            for group in _row_groups(iter_file_tables(store, entry), schema):
                if writer is None:
                    # Opened on the first row group: which columns get dictionary pages is what
                    # the stored chunks have, else judged from real rows (see parquet_encoding).
                    writer = pq.ParquetWriter(
                        tmp,
                        schema,
                        compression="snappy",
                        store_schema=True,
                        use_dictionary=dictionary if dictionary is not None else dictionary_columns(group),
                    )
                writer.write_table(group, row_group_size=RESTORE_ROW_GROUP)
        finally:
            if writer is not None:
                writer.close()


def _stored_dictionary(store: ObjectStore, entry: FileEntry) -> list[str] | None:
    """The dictionary columns of the file's first whole stored chunk (a patched chunk's rows
    come from one), when it has one with the file's own columns."""
    whole = next((chunk for chunk in entry.chunks if not chunk.depth and chunk.rows), None)
    if whole is None:
        return None
    try:
        parquet = ParquetSource(pa.BufferReader(store.get(whole.object)))
    except (pa.ArrowException, OSError):
        return None  # read_chunk names a damaged chunk as it reads it
    if parquet.schema_arrow.names != decode_schema(entry.schema).names:
        return None  # shared with a snapshot of other columns: judge this file's own
    return stored_dictionary_columns(parquet)


def _row_groups(tables: Iterator[pa.Table], schema: pa.Schema) -> Iterator[pa.Table]:
    """The chunks regrouped into row groups of ``RESTORE_ROW_GROUP`` rows, or fewer when they
    hold ``RESTORE_ROW_GROUP_BYTES`` (one empty group for a 0-row file, so it keeps its schema)."""
    buffered: list[pa.Table] = []
    buffered_rows = buffered_bytes = 0
    produced = False
    for table in tables:
        buffered.append(table)
        buffered_rows += table.num_rows
        buffered_bytes += table.nbytes
        if buffered_rows >= RESTORE_ROW_GROUP or buffered_bytes >= RESTORE_ROW_GROUP_BYTES:
            yield pa.concat_tables(buffered)
            produced = True
            buffered, buffered_rows, buffered_bytes = [], 0, 0
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
