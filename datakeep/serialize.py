"""The one canonical JSON encoding of stored documents: the only form that is ever hashed."""

from __future__ import annotations

import json
import math
import zlib
from typing import Any


def canonical_json(document: Any) -> bytes:
    """Sorted keys, fixed separators, UTF-8, no NaN: the same value always gives the same bytes."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode(
        "utf-8"
    )


def compressed_json(document: Any) -> bytes:
    """Canonical JSON, zlib-compressed: for large documents (manifests list hundreds of ids).
    Level 1: a 400-column table's manifest (2.9 MB of JSON, most of it statistics samples)
    took 112 ms at level 6, on the thread the commit's end waits on, and 18 ms at level 1 for
    16% more bytes (1.07 MB, against the tens of MB of a version's data)."""
    return zlib.compress(canonical_json(document), 1)


def load_json(data: bytes | str) -> Any:
    """Parse a stored document, plain or zlib-compressed (a zlib stream starts with 0x78; JSON
    objects start with '{')."""
    if isinstance(data, (bytes, bytearray, memoryview)) and bytes(data[:1]) == b"\x78":
        data = zlib.decompress(data)
    return json.loads(data)


def pretty_json(document: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False, default=str)


def jsonable(value: Any) -> Any:
    """A JSON-friendly form of a cell value: dates and times as ISO text, bytes as hex (first 64),
    non-finite floats as text, containers element by element."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value[:64].hex()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)
