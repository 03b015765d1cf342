"""The two sides of a diff: a committed snapshot, or Parquet files on disk.

A side is a list of *units* (a stored chunk, or one row group of a file) that can each give
(key columns, per-row hashes) cheaply and, later, full rows at given positions. A committed
snapshot answers the first from its row-hash sidecars plus a projection of the key columns, so
only small metadata columns are read; a plain file has no sidecars, so its rows are hashed
(and its column statistics gathered) as it streams past.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from datakeep import kernels
from datakeep import stats as column_stats
from datakeep.arrow_numpy import arrow_array, no_columns
from datakeep.hashing import canonical_type, is_text, schema_columns
from datakeep.ids import ObjectId
from datakeep.parquet_io import open_parquet, scratch_reader, streaming_parquet, take_columns, views_widened
from datakeep.parquet_source import ParquetSource
from datakeep.partitions import file_partitions
from datakeep.records.manifest import Manifest
from datakeep.rowcache import RowIndex
from datakeep.rowhash import column_hashes, combine_hashes, mix, row_hashes
from datakeep.snapshot import BATCH_ROWS, file_schemas
from datakeep.store.base import ObjectStore
from datakeep.unify import conform, same_columns, union_schema

#: One hash-column spec: (column name on this side, Arrow type to cast to first, or None).
HashSpec = Sequence[tuple[str, "pa.DataType | None"]]

# Cells a cast loses get hashes no other cell can have, so they always count as changed.
_UNCASTABLE = np.uint64(0xD1B54A32D192ED03)


@dataclass(frozen=True, slots=True)
class Unit:
    id: str | None  # logical chunk id when the unit is a stored chunk (equal ids ⇒ equal rows)
    rows: int


class Side:
    """Base class: what the row diff needs from a version."""

    label: str
    snapshot_id: str | None
    columns: list[dict[str, Any]]
    schema: pa.Schema
    key: tuple[str, ...]
    rows: int
    units: list[Unit]
    #: True when every file has exactly the side's columns (names, order, canonical types), so
    #: stored and whole-row hashes are those of the side's rows; False for a folder whose files
    #: differ (its columns are their union, see `unify`): then rows are hashed column by column.
    uniform: bool = True
    #: Each file's own columns (name, canonical type), by its path inside the dataset.
    file_columns: dict[str, list[tuple[str, str]]]
    #: A folder's hive partition values (`partitions`), by key, one per file: columns after the
    #: files' own, as `Repo.read` and pyarrow.dataset give them (a row moved to another
    #: partition is modified). Whole-row hashes, stored over the files' ``data_columns``, are
    #: extended by them (`_partitioned`).
    partitions: dict[str, pa.Array]
    data_columns: int
    unit_files: list[int]  # the file (position) each unit belongs to

    def stats(self) -> dict[str, Any]:
        raise NotImplementedError

    def hashes(self, index: int, key: Sequence[str], spec: HashSpec | None) -> tuple[pa.Table, np.ndarray]:
        """(key columns, per-row hashes over ``spec`` or over all columns) of one unit."""
        raise NotImplementedError

    def read(self, index: int, columns: Sequence[str]) -> pa.Table:
        """Columns of one unit, every row."""
        raise NotImplementedError

    def can_index(self, key: Sequence[str], spec: HashSpec | None) -> bool:
        """Whether `indexed` answers for this key and hash spec."""
        return False

    def indexed(
        self, units: Sequence[int], key: Sequence[str], spec: HashSpec | None
    ) -> tuple[pa.Table, np.ndarray] | None:
        """(keys, row hashes) of all rows of ``units``, in order, at once when an index holds them;
        None means: ask `hashes` unit by unit."""
        return None

    def take(self, index: int, columns: Sequence[str], rows: np.ndarray) -> pa.Table:
        """Columns of one unit, only the rows at ``rows`` (in that order)."""
        return kernels.take(self.read(index, columns), arrow_array(rows))

    def _find_partitions(self, paths: Sequence[str]) -> None:
        """Set `partitions` from the files' ``paths`` inside the dataset, and add them to the
        side's schema (a key a file holds as a column of its own stays that column)."""
        self.partitions = file_partitions(paths, held=self.schema.names)
        self.data_columns = len(self.schema)
        if self.partitions:
            fields = [pa.field(name, values.type) for name, values in self.partitions.items()]
            self.schema = pa.schema([*self.schema, *fields], metadata=self.schema.metadata)
            self.columns = [*self.columns, *schema_columns(pa.schema(fields))]

    def _with_partitions(self, table: pa.Table, index: int, columns: Sequence[str]) -> pa.Table:
        """``table`` (rows of unit ``index``) with the unit's values of the partition keys among
        ``columns``."""
        file = self.unit_files[index]
        for name in columns:
            if name in self.partitions:
                table = table.append_column(name, pa.repeat(self.partitions[name][file], table.num_rows))
        return table

    def _partition_stats(self, rows: Sequence[int]) -> dict[str, Any]:
        """Statistics of the partition columns, for files of ``rows`` rows each."""
        if not self.partitions:
            return {}
        file_of_row = arrow_array(np.repeat(np.arange(len(rows), dtype=np.int64), rows))
        table = pa.table({name: kernels.take(values, file_of_row) for name, values in self.partitions.items()})
        accumulated = column_stats.TableStats(table.schema)
        accumulated.update(table)
        return accumulated.finish()

    def _partitioned(self, units: Sequence[int], hashes: np.ndarray) -> np.ndarray:
        """Whole-row ``hashes`` of the rows of ``units`` (in order) as `row_hashes` gives them for
        rows that hold their partition values after their own columns."""
        if not self.partitions:
            return hashes
        files = np.asarray([self.unit_files[i] for i in units], dtype=np.int64)
        file_of_row = np.repeat(files, [self.units[i].rows for i in units])
        values = [column_hashes(column)[file_of_row] for column in self.partitions.values()]
        return combine_hashes(values, len(hashes), first=self.data_columns, into=hashes.copy())


class SnapshotSide(Side):
    """A committed snapshot: row hashes come from the sidecars, keys from a column projection."""

    def __init__(self, store: ObjectStore, manifest: Manifest, label: str, rows: RowIndex | None = None) -> None:
        self.store = store
        self.row_index = rows  # the snapshot's cached row index, when there is one
        self.manifest = manifest
        self.label = label
        self.snapshot_id = manifest.id
        schemas = file_schemas(manifest.files)
        self.schema = union_schema(schemas, f"dataset '{manifest.name}'") if schemas else pa.schema([])
        # A folder's files mostly share one schema, and `file_schemas` gives them one object:
        # each distinct one is looked at once (20,000 files made 40,000 column lists a side).
        distinct = {id(schema): schema for _, schema in schemas}
        self.uniform = all(same_columns(schema, self.schema) for schema in distinct.values())
        # Manifests written before folder columns were a union list the first file's only: the
        # union is worked out again from the files' schemas, which every manifest keeps.
        self.columns = [dict(c) for c in manifest.columns] if self.uniform else schema_columns(self.schema)
        columns_of = {at: _columns_of(schema) for at, schema in distinct.items()}
        self.file_columns = {path: columns_of[id(schema)] for path, schema in schemas}
        self.key = manifest.key
        self.rows = manifest.rows
        self._chunks = manifest.chunks
        #: The schema of the file each chunk belongs to: a chunk holds that file's columns.
        self._unit_schemas = [
            schema for (_, schema), entry in zip(schemas, manifest.files, strict=True) for _ in entry.chunks
        ]
        self.unit_files = [position for position, entry in enumerate(manifest.files) for _ in entry.chunks]
        self._find_partitions([e.path for e in manifest.files] if manifest.kind == "folder" else [])
        # A chunk is the same rows on both sides only in the same partition.
        labels = _partition_labels(self.partitions, len(manifest.files))
        self.units = [Unit(c.id + labels[f], c.rows) for c, f in zip(self._chunks, self.unit_files, strict=True)]

    def stats(self) -> dict[str, Any]:
        return {**self.manifest.stats, **self._partition_stats([e.rows for e in self.manifest.files])}

    def _parquet(self, index: int) -> ParquetSource:
        return self._open(self._chunks[index].object)

    def _source(self, oid: ObjectId) -> str | pa.BufferReader:
        # A local object is opened by path, so only the pages read are read (a partial clone
        # fetches it first); not memory-mapped: mapped pages would inflate resident memory.
        readable_path = getattr(self.store, "readable_path", None)
        return str(readable_path(oid)) if readable_path is not None else pa.BufferReader(self.store.get(oid))

    def _open(self, oid: ObjectId) -> ParquetSource:
        return ParquetSource(self._source(oid))

    def read(self, index: int, columns: Sequence[str]) -> pa.Table:
        chunk = self._chunks[index]
        own = self._present(index, columns)
        if not own:
            table = no_columns(chunk.rows)
        elif chunk.depth:
            # A row-level patch holds only its literal rows: rebuild the chunk through its bases.
            table = self._rebuild(chunk.object, own, self._unit_schemas[index], 0)
        else:
            table = self._parquet(index).read(columns=own, use_threads=False)
        return conform(self._with_partitions(table, index, columns), self.schema, columns)

    def _present(self, index: int, columns: Sequence[str]) -> list[str]:
        """Those of ``columns`` the chunk's file has (in a folder of differing files, not all)."""
        names = set(self._unit_schemas[index].names)
        return [c for c in columns if c in names]

    def _rebuild(self, oid: ObjectId, columns: list[str], schema: pa.Schema, depth: int) -> pa.Table:
        """A patched chunk's ``columns`` only, decoded through its chain (``patches.rebuild_table``
        matches columns by position in the chunk's own file, so a base holding them under older
        names still works)."""
        from datakeep import patches

        positions = [schema.get_field_index(c) for c in columns]
        return patches.rebuild_table(self.store, oid, positions, depth).rename_columns(columns)

    def take(self, index: int, columns: Sequence[str], rows: np.ndarray) -> pa.Table:
        chunk = self._chunks[index]
        own = self._present(index, columns)
        if not own:
            table = no_columns(len(rows))
        elif not chunk.depth:
            table = take_columns(self._source(chunk.object), own, rows)
        else:
            positions = [self._unit_schemas[index].get_field_index(c) for c in own]
            table = self._take(chunk.object, positions, np.asarray(rows, dtype=np.int64), 0).rename_columns(own)
        return conform(self._with_partitions(table, index, columns), self.schema, columns)

    def _take(self, oid: ObjectId, positions: list[int], rows: np.ndarray, depth: int) -> pa.Table:
        """Rows of a patched chunk. Changed rows are usually a patch's literal rows, so a lookup
        through the chain (`patches.take_rows`, where the patch format lives) seldom decodes the
        whole base chunk; without it, the chunk is rebuilt and the rows taken."""
        from datakeep import patches

        take_rows = getattr(patches, "take_rows", None)
        if take_rows is not None:
            table: pa.Table = take_rows(self.store, oid, rows, positions)
            return table
        return kernels.take(patches.rebuild_table(self.store, oid, positions), arrow_array(rows))

    def _index_for(self, key: Sequence[str], spec: HashSpec | None) -> RowIndex | None:
        # The cached hashes cover all columns as stored: of no use once columns are recast.
        if spec is None and self.row_index is not None and set(key) <= set(self.row_index.keys.column_names):
            return self.row_index
        return None

    def can_index(self, key: Sequence[str], spec: HashSpec | None) -> bool:
        return self._index_for(key, spec) is not None

    def indexed(
        self, units: Sequence[int], key: Sequence[str], spec: HashSpec | None
    ) -> tuple[pa.Table, np.ndarray] | None:
        index = self._index_for(key, spec)
        if index is None:
            return None
        keys = index.keys.select(list(key))
        chosen = np.asarray(units, dtype=np.int64)
        if len(chosen) == len(index.starts) - 1:
            return keys, self._partitioned(units, index.hashes)  # every unit, in order: nothing to gather
        starts = index.starts[chosen]
        lengths = index.starts[chosen + 1] - starts
        rows = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(
            starts - (np.cumsum(lengths) - lengths), lengths
        )
        return kernels.take(keys, arrow_array(rows)), self._partitioned(units, index.hashes[rows])

    def hashes(self, index: int, key: Sequence[str], spec: HashSpec | None) -> tuple[pa.Table, np.ndarray]:
        row_index = self._index_for(key, spec)
        if row_index is not None:
            keys, hashes = row_index.chunk(index)
            return keys.select(list(key)), self._partitioned([index], hashes)
        if spec is None:
            keys = self.read(index, key) if key else pa.table({})
            from datakeep.patches import chunk_hashes

            return keys, self._partitioned([index], chunk_hashes(self.store, self._chunks[index]))
        names = list(dict.fromkeys([*key, *(n for n, _ in spec)]))
        table = self.read(index, names)
        return table.select(list(key)), spec_hashes(table, spec)


class FileSide(Side):
    """Parquet files on disk (a plain file, or a working-tree dataset): hashed as they stream."""

    def __init__(
        self,
        paths: Sequence[Path],
        label: str,
        key: tuple[str, ...] = (),
        snapshot_id: str | None = None,
        *,
        names: Sequence[str] | None = None,
    ):
        """``names``: each file's path inside the dataset (default: its file name)."""
        self.label = label
        self.snapshot_id = snapshot_id
        self.key = key
        self._paths = [Path(p) for p in paths]
        self._files = [open_parquet(p) for p in self._paths]
        names = list(names) if names is not None else [p.name for p in self._paths]
        schemas = [(name, f.schema_arrow) for name, f in zip(names, self._files, strict=True)]
        self.schema = union_schema(schemas, label)
        self.uniform = all(same_columns(schema, self.schema) for _, schema in schemas)
        self.columns = schema_columns(self.schema)
        self.file_columns = {name: _columns_of(schema) for name, schema in schemas}
        self.rows = sum(f.metadata.num_rows for f in self._files)
        self._where: list[tuple[int, int]] = []
        self.units = []
        for f_index, parquet in enumerate(self._files):
            for rg in range(parquet.metadata.num_row_groups):
                self._where.append((f_index, rg))
                self.units.append(Unit(None, parquet.metadata.row_group(rg).num_rows))
        self.unit_files = [f_index for f_index, _ in self._where]
        self._find_partitions(names)
        # Per file, merged as a commit merges them: the working tree's statistics then equal those
        # the same files get once committed, so drift against a commit compares like with like.
        self._stats = [column_stats.TableStats(f.schema_arrow) for f in self._files]
        self._seen: set[int] = set()
        self._lock = threading.Lock()  # pass 1 runs on worker threads; statistics are shared

    def stats(self) -> dict[str, Any]:
        for index in range(len(self.units)):
            if index not in self._seen:
                self.hashes(index, (), None)  # statistics are gathered on the pass over a unit
        parts = [s.finish(files=len(self._stats)) for s in self._stats]
        rows = [f.metadata.num_rows for f in self._files]
        files_schema = pa.schema(list(self.schema)[: self.data_columns])
        return {**column_stats.merge(parts, union=files_schema, rows=rows), **self._partition_stats(rows)}

    def _present(self, index: int, columns: Sequence[str]) -> list[str]:
        names = set(self._files[self._where[index][0]].schema_arrow.names)
        return [c for c in columns if c in names]

    def read(self, index: int, columns: Sequence[str]) -> pa.Table:
        f_index, rg = self._where[index]
        # A ParquetFile is not safe to read from two threads at once: each read gets its own
        # reader, sharing the already parsed footer.
        reader = streaming_parquet(self._paths[f_index], self._files[f_index].metadata)
        table = views_widened(reader.read_row_group(rg, columns=self._present(index, columns), use_threads=False))
        return conform(self._with_partitions(table, index, columns), self.schema, columns)

    def take(self, index: int, columns: Sequence[str], rows: np.ndarray) -> pa.Table:
        # A row group can hold millions of rows: decode one column at a time, keep the few rows.
        f_index, rg = self._where[index]
        own = self._present(index, columns)
        table = take_columns(str(self._paths[f_index]), own, rows, row_group=rg) if own else no_columns(len(rows))
        return conform(self._with_partitions(table, index, columns), self.schema, columns)

    def hashes(self, index: int, key: Sequence[str], spec: HashSpec | None) -> tuple[pa.Table, np.ndarray]:
        # Streamed in batches: a whole row group decoded at once can be hundreds of megabytes.
        f_index, rg = self._where[index]
        reader = scratch_reader(str(self._paths[f_index]))
        keys: list[pa.Table] = []
        hashes: list[np.ndarray] = []
        with self._lock:
            observe = index not in self._seen  # a later pass of a partitioned join reads it again
        for batch in reader.iter_batches(BATCH_ROWS, [rg], use_threads=False):
            table = pa.Table.from_batches([batch])  # its own file's types (a folder may mix them)
            if observe:
                with self._lock:
                    self._stats[f_index].update(table)
            table = self._with_partitions(table, index, [*self.partitions])
            if spec is None:
                hashes.append(row_hashes(table))  # whole rows: only asked of a uniform side
            else:
                names = list(dict.fromkeys([*(n for n, _ in spec), *key]))
                table = conform(table, self.schema, names)
                hashes.append(spec_hashes(table, spec))
            keys.append(conform(table, self.schema, list(key)))
        if observe:
            with self._lock:
                self._seen.add(index)
        key_table = pa.concat_tables(keys) if keys else self.schema.empty_table().select(list(key))
        return key_table, np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)


def comparison_casts(old: pa.DataType, new: pa.DataType) -> tuple[pa.DataType | None, pa.DataType | None]:
    """How the cells of a retyped column are compared: the type to cast (old side, new side) to.

    Values are compared in the new type, the old value cast into it, and `cast_column` counts a
    cast that loses anything (0.1 as float32, a nanosecond as microseconds, '007' as 7) as a
    change: an old value the new type cannot hold exactly cannot equal a new value. Text next to
    a date or time is the exception: it is parsed, so the instant is compared, not its spelling.
    """
    # Identity hashes a dictionary's values, so values are what is compared.
    old, new = _values_type(old), _values_type(new)
    if old == new:
        return None, None
    if is_text(old) and _is_moment(new):
        return new, None
    if _is_moment(old) and is_text(new):
        return None, old
    return new, None


def _values_type(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def _is_moment(t: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_time(t))


def _partition_labels(partitions: dict[str, pa.Array], files: int) -> list[str]:
    """What tells each file's partition from another's, to suffix its chunks' ids with."""
    if not partitions:
        return [""] * files
    # Each key's values as Python objects at once: a scalar per file and key took 0.1 s a side.
    values = [[f"/{name}={value!r}" for value in column.to_pylist()] for name, column in partitions.items()]
    return ["".join(parts) for parts in zip(*values, strict=True)]


def _columns_of(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(f.name, canonical_type(f.type)) for f in schema]


def cast_column(array: pa.ChunkedArray | pa.Array, target: pa.DataType | None) -> tuple[Any, np.ndarray | None]:
    """``array`` cast to ``target``, and a mask of the cells the cast could not carry exactly.

    A cell is lost when it cannot be cast, or when casting it back does not give it back: the
    two types then disagree about the value, so no cell of the new type can be equal to it.
    Text parsed into a date or time is not cast back (its spelling is not its value).
    """
    if target is None or array.type == target:
        return array, None
    if pa.types.is_null(array.type):
        # Only nulls, which every type holds: nothing is lost (a cast back to null would say all).
        return pa.nulls(len(array), target) if isinstance(array, pa.Array) else pa.chunked_array(
            [pa.nulls(len(chunk), target) for chunk in array.chunks], type=target
        ), None
    if pa.types.is_null(target):
        # The null type holds nulls alone: exactly the cells that have a value are lost.
        lost = kernels.is_valid(array).to_numpy(zero_copy_only=False)
        return pa.nulls(len(array)), lost if lost.any() else None
    if pa.types.is_dictionary(array.type):
        array = kernels.cast(array, array.type.value_type)  # the values, so the cast back needs no dictionary
        if array.type == target:
            return array, None
    cast, failed = _cast(array, target)
    if is_text(array.type) and _is_moment(target):
        return cast, failed
    back, back_failed = _cast(cast, array.type, exact=True)
    lost = column_hashes(back) != column_hashes(array)
    if failed is not None:
        lost |= failed
    if back_failed is not None:
        lost |= back_failed
    return cast, lost if lost.any() else None


def _cast(
    array: pa.ChunkedArray | pa.Array, target: pa.DataType, *, exact: bool = False
) -> tuple[Any, np.ndarray | None]:
    """Vectorised when Arrow can, cell by cell only when it cannot (rare: a retyped column).
    ``exact=False`` also tries an unsafe cast (truncating, wrapping): the caller checks exactness
    by casting back, which is far cheaper than a Python call per cell."""
    try:
        return kernels.cast(array, target), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    if not exact:
        try:
            return kernels.cast(array, target, safe=False), None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    values: list[pa.Scalar | None] = []
    failed = np.zeros(len(array), dtype=bool)
    for i in range(len(array)):
        try:
            values.append(array[i].cast(target, safe=True))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            values.append(None)
            failed[i] = True
    return pa.array(values, type=target), failed


def cell_hashes(array: pa.ChunkedArray | pa.Array, target: pa.DataType | None = None) -> np.ndarray:
    """Per-cell hashes, consistent with snapshot identity, after an optional cast."""
    cast, lost = cast_column(array, target)
    h = column_hashes(cast)
    if lost is not None:
        # A lost cell never equals anything: a distinct value per row.
        h[lost] = mix(np.flatnonzero(lost).astype(np.uint64) ^ _UNCASTABLE)
    return h


def spec_hashes(table: pa.Table, spec: HashSpec) -> np.ndarray:
    """Row hashes over the columns of ``spec`` (each cast as given), in that order. Built from
    `cell_hashes`, so a row's hash differs exactly when one of the cells compared later does."""
    return combine_hashes((cell_hashes(table.column(name), target) for name, target in spec), table.num_rows)
