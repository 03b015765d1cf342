"""The stored form of a chunk's row hashes (its ``hashes`` sidecar object).

Raw: ``rows × 8`` bytes, a little-endian uint64 per row. Row hashes of distinct rows are random
and do not compress, so that is how they are usually kept. A table of few distinct rows (a log
of repeated events, a low-cardinality fact table) has few distinct hashes, and then the raw
sidecar can be many times the size of the compressed data it describes; such a sidecar is kept
as ``MAGIC``, the row count (uint64 LE) and a zstd frame of the raw bytes instead.
"""

from __future__ import annotations

import struct

import numpy as np
import pyarrow as pa

from datakeep.errors import CorruptObjectError
from datakeep.ids import ObjectId

MAGIC = b"DKHASHZ1"
_HEADER = struct.Struct("<8sQ")
#: Compressed only when that saves at least this share: random hashes never do, and zstd gives up
#: on them quickly (about 4 ms for a million rows at level 1).
_MIN_SAVING = 0.1
_LEVEL = 1


def encode(hashes: np.ndarray) -> bytes:
    """The sidecar object for ``hashes`` (uint64, one per row)."""
    raw = hashes.astype("<u8", copy=False).tobytes()
    packed = pa.Codec("zstd", compression_level=_LEVEL).compress(raw, asbytes=True)
    # Raw bytes that happen to begin with MAGIC (one chance in 2^64) are kept compressed as well,
    # so a reader never mistakes one form for the other.
    if len(packed) + _HEADER.size <= (1 - _MIN_SAVING) * len(raw) or raw.startswith(MAGIC):
        return _HEADER.pack(MAGIC, len(hashes)) + packed
    return raw


def decode(oid: ObjectId, data: bytes) -> np.ndarray:
    """The row hashes held by the sidecar object ``oid`` whose bytes are ``data``."""
    if data.startswith(MAGIC):
        try:
            _, rows = _HEADER.unpack_from(data)
            raw = pa.decompress(
                memoryview(data)[_HEADER.size :], decompressed_size=8 * rows, codec="zstd", asbytes=True
            )
        except (struct.error, pa.ArrowException, OSError) as exc:
            raise CorruptObjectError(oid, f"damaged compressed row hashes ({exc})") from None
        return np.frombuffer(raw, dtype="<u8")
    if len(data) % 8:
        raise CorruptObjectError(oid, f"row-hash sidecar of {len(data)} bytes is not a whole number of hashes")
    return np.frombuffer(data, dtype="<u8")
