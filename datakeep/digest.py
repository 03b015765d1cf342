"""Byte digests (xxh3-128) for object ids: no pyarrow here, so the store stays light."""

from __future__ import annotations

import xxhash

ALGORITHM = "xxh3_128"
#: The canonical encodings of logical content this datakeep computes ids in (docs/hashing.md).
ENCODINGS = (1, 2)
#: What a new repository uses.
NEWEST_ENCODING = 2


def declared_encoding(document: dict[str, object]) -> int | None:
    """The canonical encoding a repository's or remote's config declares: 1 when it says none (it
    was made before there was a choice), None when it names one this datakeep does not know."""
    encoding = document.get("encoding", 1)
    # JSON true is an int to Python, but no encoding.
    return encoding if type(encoding) is int and encoding in ENCODINGS else None


def unknown_encoding(document: dict[str, object]) -> str:
    """How an error names the encoding ``document`` declares when `declared_encoding` refused it."""
    return f"canonical encoding {document.get('encoding')!r}; this datakeep knows " + ", ".join(map(str, ENCODINGS))


def bytes_id(data: bytes | memoryview) -> str:
    return xxhash.xxh3_128_hexdigest(data)


def combine(parts: list[str]) -> str:
    """Id of an ordered list of ids (used for multi-file datasets)."""
    return xxhash.xxh3_128_hexdigest("\n".join(parts).encode())
