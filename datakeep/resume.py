"""Resuming a file's snapshot after the row groups it shares with its committed version.

A file that grew by an append is mostly the rows of its committed version, kept in the same row
groups with the same bytes, and decoding and hashing those rows again is most of what such a
commit costs. So a commit leaves, per file, a *resume record* (`cache/resume/<digest of path>`):
a fingerprint of the bytes of each row group, and the state of the snapshot at the start of the
last row group:

* the chunks that end at or before it (and the row where the last of them ends, the *cut*);
* the digests of the encoding-2 blocks before the last block boundary at or before the cut
  (`hashing.BLOCK_ROWS`);
* the column statistics accumulated up to that block boundary.

The next commit of the file fingerprints its row groups. When the ones before the point are
byte for byte what they were, it takes the chunks, blocks and statistics as they are, decodes
the file from the block boundary on, and cuts chunks from the cut on. What it builds is what
reading the whole file builds: the chunker's cuts and the statistics depend only on the rows
(batches are aligned to blocks, `parquet_io.iter_batches`), and the id is made of block digests.

This is a cache, never the store: written without fsync, never pushed, checked against the
parent's entry for the file (its content id, chunk rows), the schema and the chunking, and
ignored whenever anything does not match or does not load. Deleting it costs time, not data.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import itertools
import pickle
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import xxhash

from datakeep.fsutil import Signature, atomic_output, file_signature
from datakeep.hashing import BLOCK_ROWS
from datakeep.parquet_source import ParquetSource
from datakeep.records.manifest import ChunkRef, FileEntry

if TYPE_CHECKING:
    from pyarrow._parquet import RowGroupMetaData

#: 3: a date's or a timestamp's min and max in the statistics state are (integer, ISO text).
FORMAT = 3
#: Bytes read at a time while fingerprinting row groups.
READ_BYTES = 8 << 20


@dataclass(frozen=True, slots=True)
class Point:
    """Where the snapshot of a file can go on, when its row groups before ``group`` are unchanged."""

    group: int
    row: int  # a block boundary: decoding and statistics resume here
    cut: int  # the chunk boundary at or before the group's first row: chunking resumes here
    chunks: int  # the file's chunks that end at or before ``cut``
    blocks: bytes  # the 16-byte digests of the blocks before ``row``, concatenated
    stats: list[dict[str, Any]]  # the statistics state at ``row`` (`stats.TableStats.state`)


@dataclass(frozen=True, slots=True)
class Record:
    file_id: str
    schemas: str  # digest of the file's schemas (`schemas_digest`)
    cutting: str  # digest of the chunking and key that cut it (`cutting_digest`)
    groups: tuple[tuple[int, str], ...]  # (rows, fingerprint) of the row groups before the point
    dictionary: tuple[str, ...]  # the columns its chunks store with dictionary pages
    point: Point


@dataclass(frozen=True, slots=True)
class Start:
    """A resumed snapshot's starting state (`find_start`)."""

    row: int
    cut: int
    chunks: tuple[ChunkRef, ...]
    blocks: list[bytes]
    stats: list[dict[str, Any]]
    dictionary: list[str]


def schemas_digest(parquet: ParquetSource) -> str:
    """How the file decodes its rows (its Arrow and Parquet schemas): what resumed rows must share
    with the recorded ones besides their bytes."""
    digest = xxhash.xxh3_128()
    # Without metadata: pandas records its RangeIndex's length there, so every append changes
    # it, and no metadata changes how a column decodes (its type does).
    fields = [field.remove_metadata() for field in parquet.schema_arrow]
    digest.update(pa.schema(fields).serialize().to_pybytes())
    physical = [
        (c.path, c.physical_type, str(c.logical_type), c.max_definition_level, c.max_repetition_level)
        for c in (parquet.schema.column(i) for i in range(len(parquet.schema)))
    ]
    digest.update(repr(physical).encode())
    return digest.hexdigest()


def cutting_digest(chunking: dict[str, int], key: Sequence[str]) -> str:
    """How the rows were cut into chunks: the chunking, and the key whose hashes place the cuts."""
    return xxhash.xxh3_128_hexdigest(repr((sorted(chunking.items()), list(key))).encode())


def fingerprints(path: Path, parquet: ParquetSource, count: int) -> tuple[tuple[int, str], ...]:
    """(rows, xxh3 of its bytes) of the first ``count`` row groups: equal bytes, equal rows."""
    meta = parquet.metadata
    out: list[tuple[int, str]] = []
    buffer = bytearray(READ_BYTES)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        for index in range(min(count, meta.num_row_groups)):
            group = meta.row_group(index)
            start, end = _byte_range(group)
            digest = xxhash.xxh3_128()
            handle.seek(start)
            remaining = end - start
            while remaining > 0:
                read = handle.readinto(view[: min(READ_BYTES, remaining)])
                if not read:
                    break  # the file is shorter than its footer says: the fingerprint will differ
                digest.update(view[:read])
                remaining -= read
            out.append((group.num_rows, digest.hexdigest()))
    return tuple(out)


def _byte_range(group: RowGroupMetaData) -> tuple[int, int]:
    starts, ends = [], []
    for index in range(group.num_columns):
        column = group.column(index)
        start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
        starts.append(start)
        ends.append(start + column.total_compressed_size)
    return min(starts), max(ends)


#: A file modified less than this long before a commit starts reading it gets no record: a write
#: within the file system's timestamp granularity could go unseen by the check after reading.
SETTLED_NS = 50_000_000


def settled(before: Signature, after: Signature, started_ns: int) -> bool:
    """Whether the file read between two signatures (`fsutil.Signature`) was the same file
    throughout, so a record of what was read describes the bytes that were fingerprinted."""
    return before == after and before[1] < started_ns - SETTLED_NS


def point_rows(parquet: ParquetSource) -> tuple[int, int]:
    """(index, first row) of the row group a record's point serves: the last one. (0, 0) when
    the file has a single row group: nothing before it to resume from."""
    meta = parquet.metadata
    last = meta.num_row_groups - 1
    if last < 1:
        return 0, 0
    return last, sum(meta.row_group(i).num_rows for i in range(last))


def find_start(
    record: Record | None,
    previous: FileEntry | None,
    schemas: str,
    cutting: str,
    groups: tuple[tuple[int, str], ...],
) -> Start | None:
    """Where this commit of a file can start, from the record its parent's commit left; None
    when it must read the whole file. ``groups``: the new file's row-group fingerprints."""
    prefix = known_prefix(record, schemas, groups)
    if record is None or prefix is None or previous is None:
        return None
    point = record.point
    if record.file_id != previous.id or record.cutting != cutting or point.chunks > len(previous.chunks):
        return None
    chunks = previous.chunks[: point.chunks]
    if sum(chunk.rows for chunk in chunks) != point.cut or not point.row <= point.cut:
        return None
    return Start(point.row, point.cut, chunks, prefix, point.stats, list(record.dictionary))


def known_prefix(record: Record | None, schemas: str, groups: tuple[tuple[int, str], ...]) -> list[bytes] | None:
    """The digests of the blocks before ``record``'s point when the file in hand has the same
    bytes there (``groups``: its row-group fingerprints, at least up to the point); None if not.
    Enough to hash the file from the point on, as `status` does."""
    if record is None or record.schemas != schemas:
        return None
    point = record.point
    if len(groups) < point.group or groups[: point.group] != record.groups[: point.group]:
        return None
    if point.row % BLOCK_ROWS or len(point.blocks) != 16 * (point.row // BLOCK_ROWS):
        return None
    return [point.blocks[i : i + 16] for i in range(0, len(point.blocks), 16)]


def wanted_rows(group_start: int, max_chunk_rows: int, first_row: int) -> set[int]:
    """Block boundaries where the statistics state may be needed for a point at ``group_start``:
    the cut before it is at most ``max_chunk_rows`` back, the block boundary at most one block
    more."""
    if group_start <= 0:
        return set()
    low = max(first_row, group_start - max_chunk_rows - BLOCK_ROWS)
    first = -(-low // BLOCK_ROWS) * BLOCK_ROWS
    return set(range(first, group_start + 1, BLOCK_ROWS)) | ({first_row} if low <= first_row <= group_start else set())


def make_point(
    group: int,
    group_start: int,
    chunk_ends: Sequence[int],
    blocks: Sequence[bytes],
    stats_at: dict[int, list[dict[str, Any]]],
) -> Point | None:
    """The point for ``group`` after a snapshot that cut chunks ending at ``chunk_ends``."""
    before = [end for end in chunk_ends if end <= group_start]
    if not before:
        return None
    cut = before[-1]
    row = cut // BLOCK_ROWS * BLOCK_ROWS
    if row == 0 or row not in stats_at or len(blocks) < row // BLOCK_ROWS:
        return None
    return Point(
        group=group,
        row=row,
        cut=cut,
        chunks=len(before),
        blocks=b"".join(blocks[: row // BLOCK_ROWS]),
        stats=stats_at[row],
    )


@dataclass(slots=True)
class Probe:
    """What a commit learns about a file before reading it, to resume it and to leave the next
    commit a record: the row group the record's point serves, and the file's fingerprints."""

    group: int
    group_start: int
    schemas: str
    cutting: str
    groups: tuple[tuple[int, str], ...]
    signature: Signature
    started_ns: int

    @classmethod
    def of(cls, path: Path, parquet: ParquetSource, chunking: dict[str, int], key: Sequence[str]) -> Probe | None:
        """None for a file of one row group: nothing before its last to resume from."""
        signature, started = file_signature(path), time.time_ns()
        group, group_start = point_rows(parquet)
        if not group:
            return None
        groups = fingerprints(path, parquet, group)
        return cls(
            group, group_start, schemas_digest(parquet), cutting_digest(chunking, key), groups, signature, started
        )

    def start(self, record: Record | None, previous: FileEntry | None) -> Start | None:
        return find_start(record, previous, self.schemas, self.cutting, self.groups)

    def wanted_rows(self, max_chunk_rows: int, first_row: int) -> set[int]:
        return wanted_rows(self.group_start, max_chunk_rows, first_row)

    def record(
        self,
        path: Path,
        file_id: str,
        chunk_rows: Sequence[int],
        blocks: Sequence[bytes],
        stats_at: dict[int, list[dict[str, Any]]],
        dictionary: Sequence[str],
    ) -> Record | None:
        """The record to leave after reading the file, or None when there is no point to keep
        or the file may have changed while it was read."""
        ends = list(itertools.accumulate(chunk_rows))
        point = make_point(self.group, self.group_start, ends, blocks, stats_at)
        if point is None or not settled(self.signature, file_signature(path), self.started_ns):
            return None
        return Record(file_id, self.schemas, self.cutting, self.groups, tuple(dictionary), point)


# -- the cache file ---------------------------------------------------------------------------


def record_key(dataset: str, relpath: str) -> str:
    """A file's record is its dataset's: another dataset may cut the same file otherwise."""
    return f"{dataset}\n{relpath}"


def _path(dk: Path, relpath: str) -> Path:
    return dk / "cache" / "resume" / xxhash.xxh3_64_hexdigest(relpath.encode())


def load(dk: Path, relpath: str) -> Record | None:
    try:
        data = _path(dk, relpath).read_bytes()
        document = _PlainUnpickler(io.BytesIO(data)).load()
        if document.get("format") != FORMAT or document.get("relpath") != relpath:
            return None
        point = Point(**document["point"])
        return Record(
            file_id=document["file_id"],
            schemas=document["schemas"],
            cutting=document["cutting"],
            groups=tuple((int(rows), str(fp)) for rows, fp in document["groups"]),
            dictionary=tuple(document["dictionary"]),
            point=point,
        )
    except Exception:  # a cache that does not load is a cache miss, whatever broke it
        return None


def save(dk: Path, relpath: str, record: Record | None) -> None:
    """Keep ``record`` for the next commit of ``relpath`` (None: forget the old one); best effort."""
    path = _path(dk, relpath)
    with contextlib.suppress(OSError, pickle.PicklingError, TypeError, AttributeError):
        if record is None:
            path.unlink(missing_ok=True)
            return
        document = {
            "format": FORMAT,
            "relpath": relpath,
            "file_id": record.file_id,
            "schemas": record.schemas,
            "cutting": record.cutting,
            "groups": [list(group) for group in record.groups],
            "dictionary": list(record.dictionary),
            "point": {
                "group": record.point.group,
                "row": record.point.row,
                "cut": record.point.cut,
                "chunks": record.point.chunks,
                "blocks": record.point.blocks,
                "stats": [
                    {name: _fixed_zone(value) for name, value in column.items()} for column in record.point.stats
                ],
            },
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path, durable=False) as temp:
            temp.write_bytes(pickle.dumps(document, protocol=pickle.HIGHEST_PROTOCOL))


def _fixed_zone(value: Any) -> Any:
    """A zoned time with its zone as a fixed offset (the same instant, ordered and written out the
    same): a named zone (`zoneinfo`) pickles through ``getattr``, which the loader must refuse."""
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        offset = value.utcoffset()
        if offset is not None and not isinstance(value.tzinfo, datetime.timezone):
            return value.replace(tzinfo=datetime.timezone(offset))
    return value


#: What a statistics state holds besides plain containers, strings and numbers: the Python values
#: of column minima and maxima (`pyarrow.Scalar.as_py`).
_ALLOWED = {
    ("datetime", "date"),
    ("datetime", "datetime"),
    ("datetime", "time"),
    ("datetime", "timedelta"),
    ("datetime", "timezone"),
    ("decimal", "Decimal"),
    ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
    ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
}


class _PlainUnpickler(pickle.Unpickler):
    """Loads plain data and the few value types above, nothing else: a record planted in
    `.datakeep/cache/` by someone else cannot run code (Python's documented way to restrict
    what a pickle may build)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a resume record")
