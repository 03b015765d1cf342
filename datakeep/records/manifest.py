"""A snapshot manifest: one version of one dataset, described entirely by metadata.

The manifest lists, per file of the dataset, the ordered chunks holding its rows (each a Parquet
object plus a sidecar of per-row hashes), with the schema, row counts and column statistics, so
that `show`, `log --stat`, drift and most of `diff` never read data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datakeep.digest import ALGORITHM
from datakeep.errors import CorruptObjectError
from datakeep.ids import ObjectId

FORMAT = "datakeep.snapshot"
VERSION = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ChunkRef:
    """A run of rows: its logical id, the Parquet object holding it, and its row-hash sidecar."""

    id: str
    object: ObjectId
    #: The row-hash sidecar; "" for a patch, whose hashes are rebuilt through its base chain.
    hashes: ObjectId
    rows: int
    bytes: int
    #: For a patch: every object beneath it (base chain and the whole base's sidecar), so gc,
    #: push and pull keep and move them without reading the patch.
    bases: tuple[ObjectId, ...] = ()
    #: Patch levels above a whole chunk (0: stored whole).
    depth: int = 0
    #: For a patch: how many versions of these rows lie between it and its whole chunk, which
    #: places it in a skip chain (see ``patches.patch_base``); None for patches written before
    #: skip chains, which form a plain chain.
    seq: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "object": self.object,
            "hashes": self.hashes,
            "rows": self.rows,
            "bytes": self.bytes,
        }
        if self.depth:
            # Only patched chunks carry these, so manifests of whole chunks keep their bytes.
            data["bases"] = list(self.bases)
            data["depth"] = self.depth
            if self.seq is not None:
                data["seq"] = self.seq
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChunkRef:
        return cls(
            id=data["id"],
            object=ObjectId(data["object"]),
            hashes=ObjectId(data["hashes"]),
            rows=int(data["rows"]),
            bytes=int(data["bytes"]),
            bases=tuple(ObjectId(b) for b in data.get("bases", ())),
            depth=int(data.get("depth", 0)),
            seq=int(data["seq"]) if data.get("seq") is not None else None,
        )

    def objects(self) -> list[ObjectId]:
        """Every object needed to read this chunk."""
        return [self.object, *([self.hashes] if self.hashes else []), *self.bases]


@dataclass(frozen=True, slots=True, kw_only=True)
class FileEntry:
    """One Parquet file of a dataset (the only one, for a single-file dataset)."""

    path: str
    id: str
    rows: int
    schema: str  # base64 Arrow IPC schema: restores exact types and pandas metadata
    chunks: tuple[ChunkRef, ...]
    stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "id": self.id,
            "rows": self.rows,
            "schema": self.schema,
            "chunks": [c.to_dict() for c in self.chunks],
            "stats": self.stats,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileEntry:
        return cls(
            path=data["path"],
            id=data["id"],
            rows=int(data["rows"]),
            schema=data["schema"],
            chunks=tuple(ChunkRef.from_dict(c) for c in data["chunks"]),
            stats=data.get("stats", {}),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Manifest:
    id: str
    name: str
    path: str
    kind: str  # "file" or "folder"
    key: tuple[str, ...]
    columns: tuple[dict[str, Any], ...]
    rows: int
    files: tuple[FileEntry, ...]
    stats: dict[str, Any]
    chunking: dict[str, Any]
    entity: str | None = None
    source: str | None = None
    validated: dict[str, Any] | None = None

    @property
    def chunks(self) -> list[ChunkRef]:
        return [chunk for entry in self.files for chunk in entry.chunks]

    def object_ids(self) -> list[ObjectId]:
        """Every object this snapshot needs: chunk data and row-hash sidecars."""
        return list(dict.fromkeys(oid for chunk in self.chunks for oid in chunk.objects()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "hash": ALGORITHM,
            "id": self.id,
            "name": self.name,
            "path": self.path,
            "kind": self.kind,
            "key": list(self.key),
            "columns": [dict(c) for c in self.columns],
            "rows": self.rows,
            "files": [f.to_dict() for f in self.files],
            "stats": self.stats,
            "chunking": self.chunking,
            "entity": self.entity,
            "source": self.source,
            "validated": self.validated,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], oid: str = "?") -> Manifest:
        if data.get("format") != FORMAT:
            raise CorruptObjectError(oid, f"not a snapshot manifest (format {data.get('format')!r})")
        if int(data.get("version", 0)) > VERSION:
            raise CorruptObjectError(oid, f"manifest version {data['version']} is newer than this datakeep understands")
        return cls(
            id=data["id"],
            name=data["name"],
            path=data["path"],
            kind=data["kind"],
            key=tuple(data.get("key") or ()),
            columns=tuple(data["columns"]),
            rows=int(data["rows"]),
            files=tuple(FileEntry.from_dict(f) for f in data["files"]),
            stats=data.get("stats") or {},
            chunking=data.get("chunking") or {},
            entity=data.get("entity"),
            source=data.get("source"),
            validated=data.get("validated"),
        )
