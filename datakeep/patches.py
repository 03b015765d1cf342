"""Row-level patches: a changed chunk stored as an earlier version of its rows plus what differs.

Scattered edits touch nearly every chunk, so without patches every version of an edited table
costs a full copy. A patch keeps only the rows that are not in its base chunk (added or modified
rows, as a small Parquet table) and a list of copy runs that rebuild the chunk from the base, the
way git packs delta-compress similar objects. Rows are aligned by their row hashes, so this works
with or without a key. Identity does not change: the chunk's id is still its logical content
hash; a patch is only how its bytes are kept.

A patch object (see ``encode``) holds a header naming its ``base`` object (whole or itself a
patch) and ``ops``, ``[source, start, length]`` runs (source 0: the base's rows, 1: the patch's
literal rows), then the literal rows themselves. Which earlier version a patch is taken against
forms a skip chain (see ``patch_base``). Chains are at most ``MAX_DEPTH`` long; past that a chunk
is stored whole.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from datakeep import column_patches, hash_objects, kernels, native
from datakeep.arrow_numpy import arrow_array
from datakeep.errors import CorruptObjectError
from datakeep.ids import ObjectId, object_id
from datakeep.parquet_io import scratch_pool, take_columns
from datakeep.parquet_source import ParquetSource
from datakeep.records.manifest import ChunkRef
from datakeep.store.base import ObjectStore

MAGIC = b"DKPATCH1"
PATCH_VERSION = 1
#: Longest base chain; a chunk that would go deeper is stored whole again, so restoring any
#: version reads at most this many small patches on top of one whole chunk.
MAX_DEPTH = 10
#: A patch is kept only while its literal rows are at most this share of the chunk: beyond it a
#: whole chunk is about as small and cheaper to read.
MAX_LITERAL_SHARE = 0.4

BASE, LITERAL = 0, 1


@dataclass(frozen=True, slots=True)
class Patch:
    ops: np.ndarray  # (k, 3) int64: source, start, length
    literal_rows: np.ndarray  # indices of the new chunk's rows stored literally
    literal_hashes: np.ndarray


def align(base_hashes: np.ndarray, new_hashes: np.ndarray) -> Patch | None:
    """How to rebuild ``new`` from ``base``, or None when a patch would not pay."""
    n = len(new_hashes)
    if n == 0 or len(base_hashes) == 0:
        return None
    found, source_row, repeated = _first_matches(base_hashes, new_hashes)
    if repeated:
        source_row = _follow_runs(base_hashes, new_hashes, source_row)
    if native.AVAILABLE:
        ops, rows = native.patch_runs(np.where(found, source_row, -1))
        if len(rows) > MAX_LITERAL_SHARE * n:
            return None
        return Patch(ops=ops, literal_rows=rows, literal_hashes=new_hashes[rows])
    literal = ~found
    literal_count = int(literal.sum())
    if literal_count > MAX_LITERAL_SHARE * n:
        return None
    # Runs: a copy run continues while base rows follow one another; literal rows form runs too.
    literal_index = np.cumsum(literal) - 1
    continues = np.zeros(n, dtype=bool)
    continues[1:] = np.where(
        literal[1:],
        literal[:-1],
        (~literal[:-1]) & (source_row[1:] == source_row[:-1] + 1),
    )
    starts = np.flatnonzero(~continues)
    lengths = np.diff(np.append(starts, n))
    sources = np.where(literal[starts], LITERAL, BASE)
    first = np.where(literal[starts], literal_index[starts], source_row[starts])
    ops = np.stack([sources, first, lengths], axis=1).astype(np.int64)
    rows = np.flatnonzero(literal)
    return Patch(ops=ops, literal_rows=rows, literal_hashes=new_hashes[rows])


def patch_base(predecessor: ChunkRef) -> tuple[ChunkRef, int | None]:
    """The chunk to patch a new version of ``predecessor``'s rows against, and the new patch's
    sequence number.

    Patching each version against the one before makes the newest version, the one read most,
    the deepest: its read decodes every patch back to the whole chunk. Instead the patches form a
    skip chain (Subversion's skip-deltas): version ``n`` of a chunk (counted from its whole
    version, 0) is patched against version ``n & (n - 1)``, ``n`` with its lowest set bit
    cleared, so any version is ``popcount(n)`` patches deep (version 9: 2 instead of 9). Each
    patch then holds the changes of ``n & -n`` versions: about 2.3x the patch bytes over ten
    versions, for reads of the newest version an eighth to a quarter faster. That version is always
    in the predecessor's own chain (clearing the lowest bits of ``n - 1`` one by one reaches it),
    so no other manifest is read. A predecessor from a plain chain (no ``seq``) continues it.
    """
    if predecessor.depth == 0:
        return predecessor, 1
    seq = predecessor.seq
    # Nearest first: the predecessor, each base down to the whole chunk, then its row-hash sidecar.
    chain = [predecessor.object, *predecessor.bases]
    if seq is None or seq.bit_count() != predecessor.depth or len(chain) != predecessor.depth + 2:
        return predecessor, None  # a plain chain (or one this rule did not build): keep it plain
    version = seq + 1
    target = version & (version - 1)
    steps = seq.bit_count() - target.bit_count()
    if steps == 0:
        return predecessor, version
    sidecar = chain[-1]
    depth = predecessor.depth - steps
    base = ChunkRef(
        id="",
        object=chain[steps],
        hashes=sidecar if depth == 0 else ObjectId(""),
        rows=0,  # not known here, and not needed to patch against it
        bytes=0,
        bases=tuple(chain[steps + 1 :]) if depth else (),
        depth=depth,
        seq=target if depth else None,
    )
    return base, version


def _first_matches(base_hashes: np.ndarray, new_hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(found, source row, base has repeated rows): each new row's first equal base row, or -1."""
    if native.AVAILABLE and len(base_hashes) < native.MAX_MATCH_ROWS:
        source, repeated = native.first_matches(base_hashes, new_hashes)
        return source >= 0, source, repeated
    order = np.argsort(base_hashes)
    sorted_base = base_hashes[order]
    repeated = bool((sorted_base[1:] == sorted_base[:-1]).any())
    if repeated:
        # The first of equal rows must be the one found, whatever the sort algorithm, so the
        # patch bytes are the same on every machine. Only then pay for a stable sort (a merge
        # sort, several times slower than the vectorised default).
        order = np.argsort(base_hashes, kind="stable")
        sorted_base = base_hashes[order]
    # Looked up in sorted order, then put back: a binary search over sorted needles walks memory
    # forwards, about twice as fast as one over random needles.
    needles = np.argsort(new_hashes)
    position = np.empty(len(new_hashes), dtype=np.int64)
    position[needles] = np.searchsorted(sorted_base, new_hashes[needles])
    position = np.minimum(position, len(sorted_base) - 1)
    found = sorted_base[position] == new_hashes
    return found, np.where(found, order[position], -1), repeated


#: Rows per window when lining up tables with repeated rows (see ``_follow_runs``).
_WINDOW = 32
_WINDOW_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)


def _follow_runs(base_hashes: np.ndarray, new_hashes: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Source rows that keep copy runs long when rows repeat.

    With repeated rows, "the first equal base row" sends every copy of a common row to the same
    place, so a table of few distinct rows became one op per row: a patch as big as the data.
    Windows of ``_WINDOW`` consecutive rows are nearly always unique even then; each window found
    in the base fixes the offset (the diagonal) between new and base rows, and every following
    row takes the base row on that diagonal when it is equal, until the next window found.
    Rows without such a base row keep ``first``. Only the choice among equal rows changes.
    """
    n, base_rows = len(new_hashes), len(base_hashes)
    if n < _WINDOW or base_rows < _WINDOW:
        return first
    base_windows, new_windows = _windows(base_hashes), _windows(new_hashes)
    found, start, _ = _first_matches(base_windows, new_windows)
    anchored = np.full(n, -1, dtype=np.int64)
    anchored[: len(new_windows)] = np.where(found, np.arange(len(new_windows)), -1)
    last_anchor = np.maximum.accumulate(anchored)
    diagonal = np.zeros(n, dtype=np.int64)
    diagonal[: len(new_windows)] = start - np.arange(len(new_windows))
    candidate = np.arange(n) + diagonal[np.maximum(last_anchor, 0)]
    usable = (last_anchor >= 0) & (candidate >= 0) & (candidate < base_rows)
    usable[usable] = base_hashes[candidate[usable]] == new_hashes[usable]
    return np.where(usable, candidate, first)


def _windows(hashes: np.ndarray) -> np.ndarray:
    """A hash of every run of ``_WINDOW`` consecutive row hashes (one per starting row)."""
    count = len(hashes) - _WINDOW + 1
    combined = hashes[:count].copy()
    for step in range(1, _WINDOW):
        combined *= _WINDOW_MULTIPLIER
        combined ^= hashes[step : step + count]
        combined ^= combined >> np.uint64(29)
    return combined


def encode(patch: Patch, new_table: pa.Table, base_object: ObjectId, base_hashes: str) -> bytes:
    """The patch object; ``base_hashes`` is the base's row-hash sidecar ("" if the base is itself a
    patch, whose hashes are rebuilt the same way).

    Layout: ``MAGIC``; a 4-byte little-endian length and the JSON header (base, base_hashes); a
    4-byte length and the ops (zstd, see ``_pack``); then the literal rows as a zstd-compressed
    Arrow IPC stream. Not Parquet: a Parquet footer alone costs ~3 KiB, more than a typical patch's
    rows. The literal rows' hashes are not stored: ``row_hashes`` recomputes them exactly.
    """
    # A filter, not a take: the literal rows are in order, and take on a table of several record
    # batches first concatenates every column of the whole chunk.
    keep = np.zeros(new_table.num_rows, dtype=bool)
    keep[patch.literal_rows] = True
    literal = kernels.keep(new_table, arrow_array(keep)).combine_chunks().replace_schema_metadata(None)
    header = json.dumps(
        {"version": PATCH_VERSION, "base": base_object, "base_hashes": base_hashes}, separators=(",", ":")
    ).encode()
    ops = _pack(patch.ops)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, literal.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")) as writer:
        writer.write_table(literal)
    return b"".join(
        [MAGIC, struct.pack("<I", len(header)), header, struct.pack("<I", len(ops)), ops, sink.getvalue().to_pybytes()]
    )


def is_patch(data: bytes) -> bool:
    return data[: len(MAGIC)] == MAGIC


def _parse(oid: ObjectId, data: bytes) -> tuple[dict[str, object], np.ndarray, memoryview]:
    """(header, ops, IPC bytes of the literal rows) of a patch object."""
    try:
        position = len(MAGIC)
        (length,) = struct.unpack_from("<I", data, position)
        position += 4
        header = json.loads(data[position : position + length])
        position += length
        (ops_length,) = struct.unpack_from("<I", data, position)
        position += 4
        ops = _unpack(data[position : position + ops_length])
        position += ops_length
    except (ValueError, KeyError, struct.error, zlib.error) as exc:
        raise CorruptObjectError(oid, f"damaged patch header ({exc})") from None
    return header, ops, memoryview(data)[position:]


def _pack(ops: np.ndarray) -> bytes:
    """Ops as three little-endian columns, zstd-compressed. A copy run's start is stored as its
    distance from where the previous copy run ended (almost always 0 or a few deleted rows), so
    the columns are small, repetitive numbers."""
    sources, starts, lengths = ops[:, 0], ops[:, 1].copy(), ops[:, 2]
    copies = sources == BASE
    copy_starts = starts[copies]
    expected = np.zeros_like(copy_starts)
    if len(copy_starts):
        expected[1:] = copy_starts[:-1] + lengths[copies][:-1]
    starts[copies] = copy_starts - expected
    raw = b"".join(
        [
            struct.pack("<I", len(ops)),
            sources.astype("<u1").tobytes(),
            starts.astype("<i4").tobytes(),
            lengths.astype("<u4").tobytes(),
        ]
    )
    # zstd level 3, not zlib: a patch against a base several versions back holds tens of
    # thousands of runs a chunk, and zlib's level 6 took 6 ms of CPU a chunk (0.4 s of a 5M-row
    # commit) where zstd takes 0.4 ms for 8% more bytes on the ops (about 1% of the patch).
    compressed = pa.Codec("zstd", compression_level=3).compress(raw, asbytes=True)
    return _ZSTD_OPS + struct.pack("<I", len(raw)) + compressed


#: Marks ops compressed with zstd (then the raw size, 4 bytes); ops without it are zlib, as
#: datakeep wrote them until 2026-11-27 (a zlib stream starts with 0x78, never with this).
_ZSTD_OPS = b"DKZ1"


def _unpack(blob: bytes) -> np.ndarray:
    if blob[: len(_ZSTD_OPS)] == _ZSTD_OPS:
        (size,) = struct.unpack_from("<I", blob, len(_ZSTD_OPS))
        body = memoryview(blob)[len(_ZSTD_OPS) + 4 :]
        raw = pa.Codec("zstd").decompress(body, decompressed_size=size, asbytes=True)
    else:
        raw = zlib.decompress(blob)
    (count,) = struct.unpack_from("<I", raw, 0)
    sources = np.frombuffer(raw, dtype="<u1", count=count, offset=4).astype(np.int64)
    starts = np.frombuffer(raw, dtype="<i4", count=count, offset=4 + count).astype(np.int64)
    lengths = np.frombuffer(raw, dtype="<u4", count=count, offset=4 + 5 * count).astype(np.int64)
    copies = sources == BASE
    deltas = starts[copies]
    copy_lengths = lengths[copies]
    # Undo the delta coding: each copy run starts where the previous one ended, plus its delta.
    previous_lengths = np.concatenate([np.zeros(1, dtype=np.int64), copy_lengths[:-1]]) if len(deltas) else deltas
    absolute = np.cumsum(deltas + previous_lengths)
    starts = starts.copy()
    starts[copies] = absolute
    return np.stack([sources, starts, lengths], axis=1)


class _Memo:
    """A small byte-bounded LRU of rebuilt results. Objects never change, so a result keyed by
    object id stays true for the life of the process; it saves a commit or a diff from walking the
    same patch chain again (building a patch, then summarising the change, reads the same bases)."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit = limit_bytes
        self.used = 0
        self._items: OrderedDict[object, tuple[object, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> object | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: object, value: object, size: int) -> None:
        with self._lock:
            if key in self._items or size > self.limit:
                return
            self._items[key] = (value, size)
            self.used += size
            while self.used > self.limit:
                _, (_, dropped) = self._items.popitem(last=False)
                self.used -= dropped

    def discard(self, keys: Iterable[object]) -> None:
        with self._lock:
            for key in keys:
                item = self._items.pop(key, None)
                if item is not None:
                    self.used -= item[1]


_HASHES = _Memo(192 * 1024 * 1024)
_TABLES = _Memo(128 * 1024 * 1024)


#: Checks owed by hashes remembered from a cached row index (`remember_hashes` ``check``): run
#: by the first reader, under this lock, so no reader sees them before they passed. One that
#: fails drops them from the memo, and they are rebuilt from the store.
_CHECKS: dict[object, Callable[[], bool]] = {}
_CHECKS_LOCK = threading.Lock()


def known_hashes(oid: ObjectId) -> np.ndarray | None:
    """The row hashes of ``oid`` if this process already holds them (no read, no rebuild)."""
    with _CHECKS_LOCK:
        check = _CHECKS.pop(oid, None)
        if check is not None and not check():
            _HASHES.discard([oid])
        return _HASHES.get(oid)  # type: ignore[return-value]


def remember_hashes(oid: ObjectId, hashes: np.ndarray, *, check: Callable[[], bool] | None = None) -> None:
    """Record the row hashes of a chunk, so reading them back costs nothing; ``check`` (for
    hashes from a cache) says, when first read, whether they are still what was saved."""
    hashes.flags.writeable = False  # shared through the memo: nobody may change it in place
    with _CHECKS_LOCK:
        _HASHES.put(oid, hashes, hashes.nbytes)
        if check is not None and _HASHES.get(oid) is hashes:
            _CHECKS[oid] = check


def forget_hashes(oids: Iterable[str]) -> None:
    """Drop what `remember_hashes` recorded for ``oids`` (row hashes mapped from a row index
    that is to be let go: a mapping lives, and holds its file, while anything refers to it)."""
    oids = list(oids)
    with _CHECKS_LOCK:
        _HASHES.discard(oids)
        for oid in oids:
            _CHECKS.pop(oid, None)


def rebuild_table(
    store: ObjectStore, oid: ObjectId, columns: list[int] | None = None, depth: int = 0, *, memo: bool = True
) -> pa.Table:
    """The rows stored under ``oid``; see ``_rebuild_table``. Column projections (a diff's key
    columns, read again and again) are memoised unless ``memo`` is off; whole chunks never are,
    so a restore streams in bounded memory."""
    if columns is None or not memo:
        return _rebuild_table(store, oid, columns, depth)
    key = (oid, tuple(columns))
    cached = _TABLES.get(key)
    if cached is not None:
        return cached
    table = _rebuild_table(store, oid, columns, depth)
    _TABLES.put(key, table, table.nbytes)
    return table


def _rebuild_table(store: ObjectStore, oid: ObjectId, columns: list[int] | None = None, depth: int = 0) -> pa.Table:
    """The rows stored under ``oid`` (a whole chunk as it is, a patch applied to its base),
    decoding only the columns at ``columns`` (positions) when given.

    Columns are matched by position through a chain, not by name: row hashes do not see names, so
    a base may hold the same values under a column's old name. The newest names win. The chain is
    resolved on row positions first and the rows are taken once, not once per level.
    """
    tables, index = _resolve(store, oid, columns, depth)
    newest = tables[-1]
    aligned = [table if table.schema == newest.schema else _align(table, newest.schema) for table in tables]
    combined = pa.concat_tables(aligned) if len(aligned) > 1 else aligned[0]
    if len(aligned) == 1 and len(index) == combined.num_rows and (index == np.arange(len(index))).all():
        return combined
    # Contiguous first: a take across the chunks of a concatenation, then combined, was a third
    # slower (25 against 17 ms for a 146,000-row chunk of the 5M-row bench).
    return kernels.take(combined.combine_chunks(), arrow_array(index.astype(np.int64)))


def _align(table: pa.Table, schema: pa.Schema) -> pa.Table:
    table = table.replace_schema_metadata(None).rename_columns(schema.names)
    return kernels.cast_table(table, schema)


def _resolve(
    store: ObjectStore, oid: ObjectId, columns: list[int] | None, depth: int
) -> tuple[list[pa.Table], np.ndarray]:
    """(tables, index): the chunk is ``concat(tables).take(index)``. Tables run from the whole base
    chunk up to this patch's literal rows."""
    data = store.get(oid)
    if column_patches.is_column_patch(data):
        if depth >= MAX_DEPTH * 2:
            raise CorruptObjectError(oid, "patch chain is longer than any datakeep writes (a cycle?)")
        table = _column_patch_table(store, oid, data, columns, depth)
        return [table], np.arange(table.num_rows, dtype=np.int64)
    if not is_patch(data):
        try:
            # A BufferReader reads the bytes in place; io.BytesIO goes through Python per read.
            parquet = ParquetSource(pa.BufferReader(data))
            names = parquet.schema_arrow.names
            table = parquet.read(columns=None if columns is None else [names[i] for i in columns], use_threads=False)
        except (pa.ArrowException, OSError, IndexError) as exc:
            raise CorruptObjectError(oid, f"not a readable Parquet chunk ({exc})") from None
        return [table.replace_schema_metadata(None)], np.arange(table.num_rows, dtype=np.int64)
    if depth >= MAX_DEPTH * 2:
        raise CorruptObjectError(oid, "patch chain is longer than any datakeep writes (a cycle?)")
    header, ops, ipc = _parse(oid, data)
    literal = _literal_rows(oid, ipc)
    if columns is not None:
        literal = literal.select(columns)
    base_oid = object_id(str(header["base"]))
    known = _TABLES.get((base_oid, tuple(columns))) if columns is not None else None
    if known is not None:  # e.g. the old version's key columns, rebuilt moments ago for the same commit
        base_table: pa.Table = known
        tables, base_index = [base_table], np.arange(base_table.num_rows, dtype=np.int64)
    else:
        tables, base_index = _resolve(store, base_oid, columns, depth + 1)
    _check_ops(oid, ops, len(base_index), literal.num_rows)
    stacked = sum(t.num_rows for t in tables)  # where this literal table starts in concat(tables)
    return [*tables, literal], _compose(ops, base_index, stacked, base_is_whole=len(tables) == 1)


def _column_patch_table(
    store: ObjectStore, oid: ObjectId, data: bytes, columns: list[int] | None, depth: int
) -> pa.Table:
    """The columns at ``columns`` (all when None) of the column-patched chunk ``data``: its base
    is decoded only for the columns taken from it, and not at all for a column it stores."""
    patch = column_patches.parse(oid, data)
    wanted = list(range(len(patch.sources))) if columns is None else list(columns)
    if any(i < 0 or i >= len(patch.sources) for i in wanted):
        raise CorruptObjectError(oid, f"column patch has {len(patch.sources)} columns, not those asked for")
    positions = column_patches.base_positions(patch, wanted)
    base = _rebuild_table(store, patch.base, positions, depth + 1) if positions else None
    own = any(patch.sources[i][0] == column_patches.STORED for i in wanted)
    stored = column_patches.stored_columns(oid, patch) if own else None
    return column_patches.assemble(oid, patch, wanted, base, stored)


def head_rows(store: ObjectStore, oid: ObjectId, columns: list[int], rows: int) -> pa.Table | None:
    """The first ``rows`` rows of the columns at ``columns`` (ascending positions) of a whole
    chunk, decoding only the pages that hold them; None for a patch (its rows are rebuilt whole)."""
    data = store.get(oid)
    if is_patch(data) or column_patches.is_column_patch(data):
        return None
    try:
        parquet = ParquetSource(pa.BufferReader(data))
        names = parquet.schema_arrow.names
        batches = parquet.iter_batches(batch_size=max(rows, 1), columns=[names[i] for i in columns], use_threads=False)
        return pa.Table.from_batches([next(batches)])
    except (pa.ArrowException, OSError, IndexError, StopIteration) as exc:
        raise CorruptObjectError(oid, f"not a readable Parquet chunk ({exc})") from None


def _compose(ops: np.ndarray, base_index: np.ndarray, stacked: int, *, base_is_whole: bool) -> np.ndarray:
    """This level's index into ``concat(tables)``: copy runs go through ``base_index`` (one gather,
    none when the base is a whole chunk, whose index is the identity), literal runs point at this
    patch's rows, which start at ``stacked``. Literal rows are few, so they are patched in after."""
    sources, starts, lengths = ops[:, 0], ops[:, 1], ops[:, 2]
    literal = sources == LITERAL
    # Every row as if copied from the base; a literal run's placeholder positions are replaced below.
    positions = _runs(np.where(literal, 0, starts), lengths)
    index = positions if base_is_whole or len(base_index) == 0 else base_index.take(positions, mode="clip")
    if literal.any():
        output_starts = np.cumsum(lengths) - lengths
        index[_runs(output_starts[literal], lengths[literal])] = stacked + _runs(starts[literal], lengths[literal])
    return index


def _check_ops(oid: ObjectId, ops: np.ndarray, base_rows: int, literal_rows: int) -> None:
    """Every op must copy rows that exist: damaged ops would otherwise surface as an index error
    deep inside Arrow, or as wrong rows."""
    sources, starts, lengths = ops[:, 0], ops[:, 1], ops[:, 2]
    limit = np.where(sources == BASE, base_rows, literal_rows)
    if ((lengths < 1) | (starts < 0) | (starts + lengths > limit) | ((sources != BASE) & (sources != LITERAL))).any():
        raise CorruptObjectError(oid, "patch ops point outside its base or literal rows")


def take_rows(store: ObjectStore, oid: ObjectId, rows: np.ndarray, columns: list[int], depth: int = 0) -> pa.Table:
    """Rows ``rows`` (positions in the chunk, any order) of the chunk under ``oid``, columns at
    ``columns``. A diff wants only the changed rows, which are mostly this patch's literal rows:
    each row is looked up through the ops, and the base is visited only for rows copied from it.
    """
    rows = np.asarray(rows, dtype=np.int64)
    data = store.get(oid)
    if column_patches.is_column_patch(data):
        if depth >= MAX_DEPTH * 2:
            raise CorruptObjectError(oid, "patch chain is longer than any datakeep writes (a cycle?)")
        return kernels.take(_column_patch_table(store, oid, data, columns, depth), arrow_array(rows))
    if not is_patch(data):
        try:
            return take_columns(pa.BufferReader(data), columns, rows)
        except (pa.ArrowException, OSError, IndexError) as exc:
            raise CorruptObjectError(oid, f"not a readable Parquet chunk ({exc})") from None
    if depth >= MAX_DEPTH * 2:
        raise CorruptObjectError(oid, "patch chain is longer than any datakeep writes (a cycle?)")
    header, ops, ipc = _parse(oid, data)
    # Decoded only to pick a few rows from: into the scratch pool, which gives the pages back.
    literal = _literal_rows(oid, ipc, scratch_pool()).select(columns)
    ends = np.cumsum(ops[:, 2])
    op = np.searchsorted(ends, rows, side="right")
    position = ops[op, 1] + rows - (ends[op] - ops[op, 2])
    from_base = ops[op, 0] == BASE
    if not from_base.any():
        # Changed rows are usually all literal: the base chunk is not decoded at all.
        return kernels.take(literal, arrow_array(position))
    base_part = take_rows(store, object_id(str(header["base"])), position[from_base], columns, depth + 1)
    base_part = base_part.replace_schema_metadata(None).rename_columns(literal.column_names)
    base_part = kernels.cast_table(base_part, literal.schema)
    literal_part = kernels.take(literal, arrow_array(position[~from_base]))
    # Put the rows back in the order asked for: base rows first in the concatenation, then literal.
    order = np.empty(len(rows), dtype=np.int64)
    order[np.flatnonzero(from_base)] = np.arange(int(from_base.sum()))
    order[np.flatnonzero(~from_base)] = np.arange(int((~from_base).sum())) + int(from_base.sum())
    return kernels.take(pa.concat_tables([base_part, literal_part]), arrow_array(order))


def _gather_index(ops: np.ndarray, base_rows: int) -> np.ndarray:
    """Row positions in ``[base rows | literal rows]`` that rebuild the chunk, in order."""
    sources, starts, lengths = ops[:, 0], ops[:, 1], ops[:, 2]
    return _runs(np.where(sources == BASE, starts, starts + base_rows), lengths)


def _runs(firsts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``concat(arange(first, first + length) for each run)``, without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    # Consecutive positions within a run: a running sum of ones, with a jump where a run starts.
    steps = np.ones(total, dtype=np.int64)
    steps[0] = firsts[0]
    steps[np.cumsum(lengths[:-1])] = firsts[1:] - (firsts[:-1] + lengths[:-1] - 1)
    return np.cumsum(steps, out=steps)


def _literal_rows(oid: ObjectId, ipc: memoryview, pool: pa.MemoryPool | None = None) -> pa.Table:
    # Without threads: a patch's buffers are a few KiB each, and handing each one's decompression
    # to Arrow's thread pool cost more than the decompression (3x slower; callers already decode
    # several chunks at once).
    options = pa.ipc.IpcReadOptions(use_threads=False)
    try:
        return pa.ipc.open_stream(pa.py_buffer(ipc), options=options, memory_pool=pool).read_all()
    except (pa.ArrowException, OSError) as exc:
        raise CorruptObjectError(oid, f"damaged patch rows ({exc})") from None


def rebuild_hashes(store: ObjectStore, oid: ObjectId, hashes_oid: str, depth: int = 0) -> np.ndarray:
    """Row hashes of the chunk under ``oid`` (from its sidecar, or rebuilt through the patches)."""
    cached = known_hashes(oid)
    if cached is not None:
        return cached
    hashes = _rebuild_hashes(store, oid, hashes_oid, depth)
    remember_hashes(oid, hashes)
    return hashes


def _rebuild_hashes(store: ObjectStore, oid: ObjectId, hashes_oid: str, depth: int = 0) -> np.ndarray:
    from datakeep.rowhash import row_hashes

    if hashes_oid:
        sidecar = object_id(hashes_oid)
        return hash_objects.decode(sidecar, store.get(sidecar))
    data = store.get(oid)
    if column_patches.is_column_patch(data) and depth < MAX_DEPTH * 2:
        return row_hashes(_column_patch_table(store, oid, data, None, depth))
    if not is_patch(data):
        raise CorruptObjectError(oid, "a whole chunk without its row-hash sidecar")
    if depth >= MAX_DEPTH * 2:
        raise CorruptObjectError(oid, "patch chain is longer than any datakeep writes (a cycle?)")
    header, ops, ipc = _parse(oid, data)
    literal = row_hashes(_literal_rows(oid, ipc))
    # Uncached below the top: a chain's inner levels are needed once, and caching them would push
    # out the results callers come back for (a commit asks for each old chunk's hashes twice).
    base_hashes = _rebuild_hashes(store, object_id(str(header["base"])), str(header.get("base_hashes", "")), depth + 1)
    _check_ops(oid, ops, len(base_hashes), len(literal))
    # One gather over [base | literal] instead of hundreds of small slices.
    return np.concatenate([base_hashes, literal])[_gather_index(ops, len(base_hashes))]


def chunk_hashes(store: ObjectStore, chunk: object) -> np.ndarray:
    """Row hashes of a manifest chunk (a ChunkRef), whole or patched."""
    return rebuild_hashes(store, chunk.object, chunk.hashes)  # type: ignore[attr-defined]
