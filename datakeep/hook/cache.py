"""A cache of hook results, so a file validated before and unchanged since is not read again.

An entry is keyed by everything the result depends on: the file's bytes (xxh3_128, streamed),
the fingerprint of the schema and source mapping it was checked against, the entity and source
names, and the datakeep version (a new version may find problems an old one missed). Each entry is
its own small JSON file, written atomically, so two hooks running at once can never leave a torn
entry and a lost write costs only a re-validation.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import xxhash

from datakeep.fsutil import atomic_write

CACHE_FORMAT = "datakeep-hook-cache"
CACHE_VERSION = 1
_READ_SIZE = 1 << 20


def content_hash(path: Path) -> str:
    """xxh3_128 of the file's bytes, read in 1 MiB blocks so memory stays flat."""
    digest = xxhash.xxh3_128()
    buffer = bytearray(_READ_SIZE)
    view = memoryview(buffer)
    with open(path, "rb") as f:
        while n := f.readinto(buffer):
            digest.update(view[:n])
    return digest.hexdigest()


def datakeep_version() -> str:
    """The installed datakeep version ("unknown" when run from a bare source tree)."""
    try:
        return metadata.version("datakeep")
    except metadata.PackageNotFoundError:
        return "unknown"


def cache_key(*, content: str, fingerprint: str, entity: str, source: str | None, version: str) -> str:
    """One id for everything a cached result depends on."""
    parts = {
        "format": CACHE_FORMAT,
        "cache_version": CACHE_VERSION,
        "content": content,
        "fingerprint": fingerprint,
        "entity": entity,
        "source": source,
        "datakeep": version,
    }
    encoded = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return xxhash.xxh3_128_hexdigest(encoded)


class ResultCache:
    """Entries under ``directory/ab/cdef….json``; a missing or unreadable entry is a miss."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _entry_path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key[2:]}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The stored entry for ``key``, or None."""
        try:
            doc = json.loads(self._entry_path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        # A torn, foreign or older document is treated as absent, never trusted.
        if not isinstance(doc, dict) or doc.get("format") != CACHE_FORMAT:
            return None
        if doc.get("version") != CACHE_VERSION or doc.get("key") != key:
            return None
        return doc

    def put(self, key: str, entry: dict[str, Any]) -> bool:
        """Store ``entry`` under ``key`` atomically; False when the cache cannot be written.

        A cache that cannot be written (read-only git folder, full disk) must not fail a commit,
        so errors are swallowed here and the file is simply validated again next time.
        """
        doc = {**entry, "format": CACHE_FORMAT, "version": CACHE_VERSION, "key": key}
        data = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
        try:
            atomic_write(self._entry_path(key), data)
        except OSError:
            return False
        return True

    def entries(self) -> list[Path]:
        """Every entry file (for `datakeep hook` housekeeping and tests)."""
        if not self.directory.is_dir():
            return []
        return sorted(self.directory.glob("*/*.json"))
