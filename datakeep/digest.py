"""Byte digests (xxh3-128) for object ids: no pyarrow here, so the store stays light."""

from __future__ import annotations

import xxhash

ALGORITHM = "xxh3_128"


def bytes_id(data: bytes | memoryview) -> str:
    return xxhash.xxh3_128_hexdigest(data)
