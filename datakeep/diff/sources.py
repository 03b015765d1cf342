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
import pyarrow.compute as pc
import pyarrow.parquet as pq

from datakeep import stats as column_stats
from datakeep.arrow_numpy import arrow_array
from datakeep.hashing import schema_columns
from datakeep.ids import ObjectId
from datakeep.parquet_io import READ_BUFFER_BYTES, open_parquet, scratch_reader, take_columns
from datakeep.records.manifest import Manifest
from datakeep.rowcache import RowIndex
from datakeep.rowhash import column_hashes, mix, row_hashes
from datakeep.snapshot import BATCH_ROWS, decode_schema
from datakeep.store.base import ObjectStore

#: One hash-column spec: (column name on this side, Arrow type to cast to first, or None).
HashSpec = Sequence[tuple[str, "pa.DataType | None"]]

# Cells whose cast fails get hashes no other cell can have, so they always count as changed.
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
        return self.read(index, columns).take(arrow_array(rows))


class SnapshotSide(Side):
    """A committed snapshot: row hashes come from the sidecars, keys from a column projection."""

    def __init__(self, store: ObjectStore, manifest: Manifest, label: str, rows: RowIndex | None = None) -> None:
        self.store = store
        self.row_index = rows  # the snapshot's cached row index, when there is one
        self.manifest = manifest
        self.label = label
        self.snapshot_id = manifest.id
        self.columns = [dict(c) for c in manifest.columns]
        self.schema = decode_schema(manifest.files[0].schema) if manifest.files else pa.schema([])
        self.key = manifest.key
        self.rows = manifest.rows
        self._chunks = manifest.chunks
        self.units = [Unit(c.id, c.rows) for c in self._chunks]

    def stats(self) -> dict[str, Any]:
        return self.manifest.stats

    def _parquet(self, index: int) -> pq.ParquetFile:
        return self._open(self._chunks[index].object)

    def _source(self, oid: ObjectId) -> str | pa.BufferReader:
        path = getattr(self.store, "path", None)
        # Not memory-mapped: mapped pages would count towards (and inflate) resident memory.
        return str(path(oid)) if path is not None else pa.BufferReader(self.store.get(oid))

    def _open(self, oid: ObjectId) -> pq.ParquetFile:
        return pq.ParquetFile(self._source(oid))

    def read(self, index: int, columns: Sequence[str]) -> pa.Table:
        chunk = self._chunks[index]
        if chunk.depth:
            # A row-level patch holds only its literal rows: rebuild the chunk through its bases.
            return self._rebuild(chunk.object, list(columns), 0)
        return self._parquet(index).read(columns=list(columns), use_threads=False)

    def _rebuild(self, oid: ObjectId, columns: list[str], depth: int) -> pa.Table:
        """A patched chunk's ``columns`` only, decoded through its chain (``patches.rebuild_table``
        matches columns by position, so a base holding them under older names still works)."""
        from datakeep import patches

        positions = [self.schema.get_field_index(c) for c in columns]
        return patches.rebuild_table(self.store, oid, positions, depth).rename_columns(columns)

    def take(self, index: int, columns: Sequence[str], rows: np.ndarray) -> pa.Table:
        chunk = self._chunks[index]
        if not chunk.depth:
            return take_columns(self._source(chunk.object), list(columns), rows)
        positions = [self.schema.get_field_index(c) for c in columns]
        return self._take(chunk.object, positions, np.asarray(rows, dtype=np.int64), 0).rename_columns(list(columns))

    def _take(self, oid: ObjectId, positions: list[int], rows: np.ndarray, depth: int) -> pa.Table:
        """Rows of a patched chunk. Changed rows are usually a patch's literal rows, so a lookup
        through the chain (`patches.take_rows`, where the patch format lives) seldom decodes the
        whole base chunk; without it, the chunk is rebuilt and the rows taken."""
        from datakeep import patches

        take_rows = getattr(patches, "take_rows", None)
        if take_rows is not None:
            table: pa.Table = take_rows(self.store, oid, rows, positions)
            return table
        return patches.rebuild_table(self.store, oid, positions).take(arrow_array(rows))

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
            return keys, index.hashes  # every unit, in order: nothing to gather
        starts = index.starts[chosen]
        lengths = index.starts[chosen + 1] - starts
        rows = np.arange(int(lengths.sum()), dtype=np.int64) + np.repeat(
            starts - (np.cumsum(lengths) - lengths), lengths
        )
        return keys.take(arrow_array(rows)), index.hashes[rows]

    def hashes(self, index: int, key: Sequence[str], spec: HashSpec | None) -> tuple[pa.Table, np.ndarray]:
        row_index = self._index_for(key, spec)
        if row_index is not None:
            keys, hashes = row_index.chunk(index)
            return keys.select(list(key)), hashes
        if spec is None:
            keys = self.read(index, key) if key else pa.table({})
            from datakeep.patches import chunk_hashes

            return keys, chunk_hashes(self.store, self._chunks[index])
        names = list(dict.fromkeys([*key, *(n for n, _ in spec)]))
        table = self.read(index, names)
        return table.select(list(key)), spec_hashes(table, spec)


class FileSide(Side):
    """Parquet files on disk (a plain file, or a working-tree dataset): hashed as they stream."""

    def __init__(self, paths: Sequence[Path], label: str, key: tuple[str, ...] = (), snapshot_id: str | None = None):
        self.label = label
        self.snapshot_id = snapshot_id
        self.key = key
        self._paths = [Path(p) for p in paths]
        self._files = [open_parquet(p) for p in self._paths]
        self.schema = self._files[0].schema_arrow
        self.columns = schema_columns(self.schema)
        self.rows = sum(f.metadata.num_rows for f in self._files)
        self._where: list[tuple[int, int]] = []
        self.units = []
        for f_index, parquet in enumerate(self._files):
            for rg in range(parquet.metadata.num_row_groups):
                self._where.append((f_index, rg))
                self.units.append(Unit(None, parquet.metadata.row_group(rg).num_rows))
        self._stats = column_stats.TableStats(self.schema, self.rows)
        self._seen: set[int] = set()
        self._lock = threading.Lock()  # pass 1 runs on worker threads; statistics are shared

    def stats(self) -> dict[str, Any]:
        for index in range(len(self.units)):
            if index not in self._seen:
                self.hashes(index, (), None)  # statistics are gathered on the pass over a unit
        return self._stats.finish()

    def read(self, index: int, columns: Sequence[str]) -> pa.Table:
        f_index, rg = self._where[index]
        # A ParquetFile is not safe to read from two threads at once: each read gets its own
        # reader, sharing the already parsed footer.
        reader = pq.ParquetFile(
            self._paths[f_index], metadata=self._files[f_index].metadata, buffer_size=READ_BUFFER_BYTES
        )
        return reader.read_row_group(rg, columns=list(columns), use_threads=False)

    def take(self, index: int, columns: Sequence[str], rows: np.ndarray) -> pa.Table:
        # A row group can hold millions of rows: decode one column at a time, keep the few rows.
        f_index, rg = self._where[index]
        return take_columns(str(self._paths[f_index]), list(columns), rows, row_group=rg)

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
                    self._stats.update(table)
            hashes.append(row_hashes(table) if spec is None else spec_hashes(table, spec))
            keys.append(table.select(list(key)))
        if observe:
            with self._lock:
                self._seen.add(index)
        key_table = pa.concat_tables(keys) if keys else self.schema.empty_table().select(list(key))
        return key_table, np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64)


def cast_column(array: pa.ChunkedArray | pa.Array, target: pa.DataType | None) -> tuple[Any, np.ndarray | None]:
    """``array`` cast to ``target``; where the cast is impossible, a mask of the failed cells."""
    if target is None or array.type == target:
        return array, None
    try:
        return pc.cast(array, target, safe=True), None
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # Cast cell by cell only after the vectorised cast failed (rare: a retyped column).
    values, failed = [], []
    for value in array.to_pylist():
        try:
            values.append(pa.scalar(value).cast(target).as_py() if value is not None else None)
            failed.append(False)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            values.append(None)
            failed.append(True)
    return pa.array(values, type=target), np.asarray(failed, dtype=bool)


def cell_hashes(array: pa.ChunkedArray | pa.Array, target: pa.DataType | None = None) -> np.ndarray:
    """Per-cell hashes, consistent with snapshot identity, after an optional cast."""
    cast, failed = cast_column(array, target)
    h = column_hashes(cast)
    if failed is not None and failed.any():
        # A failed cast never equals anything: a distinct value per row.
        h[failed] = mix(np.flatnonzero(failed).astype(np.uint64) ^ _UNCASTABLE)
    return h


def spec_hashes(table: pa.Table, spec: HashSpec) -> np.ndarray:
    """Row hashes over the columns of ``spec`` (each cast as given), in that order."""
    hashed = pa.table({f"c{i}": _cast_or_keep(table.column(name), target) for i, (name, target) in enumerate(spec)})
    return row_hashes(hashed)


def _cast_or_keep(array: pa.ChunkedArray, target: pa.DataType | None) -> pa.Array | pa.ChunkedArray:
    cast, failed = cast_column(array, target)
    if failed is not None and failed.any():
        # Keep row hashes of failed cells distinct: swap them for a value nothing else holds.
        marker = pa.array([f"\x00uncastable{i}" for i in range(len(failed))], pa.string())
        as_text = pc.cast(array, pa.string()) if not pa.types.is_string(array.type) else array
        return pc.if_else(arrow_array(failed), marker, as_text)
    return cast
