"""Byte digests (xxh3-128) for object ids: no pyarrow here, so the store stays light."""

from __future__ import annotations

import xxhash

ALGORITHM = "xxh3_128"


def bytes_id(data: bytes | memoryview) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def combine(parts: list[str]) -> str:
    """Id of an ordered list of ids (used for multi-file datasets)."""
    return xxhash.xxh3_128_hexdigest("\n".join(parts).encode())
