"""Row-level patches: a changed chunk stored as its predecessor plus what differs.

Scattered edits touch nearly every chunk, so without patches every version of an edited table
costs a full copy. A patch keeps only the rows that are not in its base chunk (added or modified
rows, as a small Parquet table) and a list of copy runs that rebuild the chunk from the base, the
way git packs delta-compress similar objects. Rows are aligned by their row hashes, so this works
with or without a key. Identity does not change: the chunk's id is still its logical content
hash; a patch is only how its bytes are kept.

A patch object is a plain Parquet file of the literal rows whose key-value metadata
``datakeep.patch`` holds ``{"version", "base", "ops", "hashes"}``: ``base`` is the object id of the
base (itself whole or a patch), ``ops`` a flat list of ``[source, start, length]`` runs (source 0:
the base's rows, 1: this file's literal rows) and ``hashes`` the literal rows' row hashes (base64,
little-endian uint64). Chains are at most ``MAX_DEPTH`` long; past that a chunk is stored whole.
"""

from __future__ import annotations

import base64
import io
import json
import zlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from datakeep.errors import CorruptObjectError
from datakeep.ids import ObjectId, object_id
from datakeep.store.base import ObjectStore

METADATA_KEY = b"datakeep.patch"
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
    order = np.argsort(base_hashes, kind="stable")
    sorted_base = base_hashes[order]
    position = np.searchsorted(sorted_base, new_hashes)
    position = np.minimum(position, len(sorted_base) - 1)
    found = sorted_base[position] == new_hashes
    source_row = np.where(found, order[position], -1)
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


def encode(patch: Patch, new_table: pa.Table, base_object: ObjectId, base_hashes: str) -> bytes:
    """The patch as a Parquet object; ``base_hashes`` is the base's row-hash sidecar ("" if the
    base is itself a patch, whose hashes are rebuilt the same way)."""
    literal = new_table.take(pa.array(patch.literal_rows, type=pa.int64()))
    document = {
        "version": PATCH_VERSION,
        "base": base_object,
        "base_hashes": base_hashes,
        "ops": _pack(patch.ops.reshape(-1)),
        "hashes": base64.b64encode(patch.literal_hashes.astype("<u8").tobytes()).decode("ascii"),
    }
    # The manifest keeps the exact schema; a patch needs only its own header.
    literal = literal.replace_schema_metadata({METADATA_KEY: json.dumps(document, separators=(",", ":")).encode()})
    sink = pa.BufferOutputStream()
    # Patches are small and read whole: statistics and dictionaries would only add bytes.
    pq.write_table(
        literal,
        sink,
        compression="zstd",
        row_group_size=max(1, literal.num_rows),
        store_schema=True,
        write_statistics=False,
        use_dictionary=False,
    )
    return sink.getvalue().to_pybytes()


def _open(store: ObjectStore, oid: ObjectId) -> tuple[pa.Table, dict[str, object] | None]:
    data = store.get(oid)
    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowException, OSError) as exc:
        raise CorruptObjectError(oid, f"not a readable Parquet chunk ({exc})") from None
    raw = (table.schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        return table, None
    try:
        document = json.loads(raw)
    except ValueError:
        raise CorruptObjectError(oid, "its patch header is not valid JSON") from None
    metadata = {k: v for k, v in (table.schema.metadata or {}).items() if k != METADATA_KEY}
    return table.replace_schema_metadata(metadata or None), document


def _pack(values: np.ndarray) -> str:
    """Ops as zlib-compressed little-endian int64 (they are mostly small, repetitive numbers)."""
    return base64.b64encode(zlib.compress(values.astype("<i8").tobytes(), 6)).decode("ascii")


def _ops(document: dict[str, object]) -> np.ndarray:
    raw = zlib.decompress(base64.b64decode(str(document["ops"])))
    return np.frombuffer(raw, dtype="<i8").reshape(-1, 3)


def rebuild_table(store: ObjectStore, oid: ObjectId, depth: int = 0) -> pa.Table:
    """The rows stored under ``oid``: a whole chunk as it is, a patch applied to its base."""
    table, document = _open(store, oid)
    if document is None:
        return table
    if depth >= MAX_DEPTH * 2:
        raise CorruptObjectError(oid, "patch chain is longer than any datakeep writes (a cycle?)")
    base = rebuild_table(store, object_id(str(document["base"])), depth + 1)
    if base.schema != table.schema:
        table = table.cast(base.schema)
    pieces = [(base if source == BASE else table).slice(start, length) for source, start, length in _ops(document)]
    if not pieces:
        return base.slice(0, 0)
    return pa.concat_tables(pieces).combine_chunks()


def rebuild_hashes(store: ObjectStore, oid: ObjectId, hashes_oid: str, depth: int = 0) -> np.ndarray:
    """Row hashes of the chunk under ``oid`` (from its sidecar, or rebuilt through the patches)."""
    if hashes_oid:
        return np.frombuffer(store.get(object_id(hashes_oid)), dtype="<u8")
    table_metadata = pq.read_schema(io.BytesIO(store.get(oid))).metadata or {}
    raw = table_metadata.get(METADATA_KEY)
    if raw is None:
        raise CorruptObjectError(oid, "a whole chunk without its row-hash sidecar")
    document = json.loads(raw)
    if depth >= MAX_DEPTH * 2:
        raise CorruptObjectError(oid, "patch chain is longer than any datakeep writes (a cycle?)")
    base_oid = object_id(str(document["base"]))
    base_hashes = rebuild_hashes(store, base_oid, document.get("base_hashes", ""), depth + 1)
    literal = np.frombuffer(base64.b64decode(document["hashes"]), dtype="<u8")
    parts = [(base_hashes if s == BASE else literal)[start : start + length] for s, start, length in _ops(document)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def chunk_hashes(store: ObjectStore, chunk: object) -> np.ndarray:
    """Row hashes of a manifest chunk (a ChunkRef), whole or patched."""
    return rebuild_hashes(store, chunk.object, chunk.hashes)  # type: ignore[attr-defined]
