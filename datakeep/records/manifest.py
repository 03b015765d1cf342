"""A snapshot manifest: one version of one dataset, described entirely by metadata.

The manifest lists, per file of the dataset, the ordered chunks holding its rows (each a Parquet
object plus a sidecar of per-row hashes), with the schema, row counts and column statistics, so
that `show`, `log --stat`, drift and most of `diff` never read data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datakeep.digest import ALGORITHM
from datakeep.errors import CorruptObjectError, InvalidIdError, NewerFormatError
from datakeep.ids import ObjectId, object_id

FORMAT = "datakeep.snapshot"
#: Version 2 keeps the file list in pages (`records.pages`); a manifest of a small folder or of
#: one file is still written as version 1, which datakeep before pages reads.
VERSION = 2


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
class PageRef:
    """One page of a manifest's file list (`records.pages`): its object and what it holds."""

    object: ObjectId
    files: int
    rows: int

    def to_dict(self) -> dict[str, Any]:
        return {"object": self.object, "files": self.files, "rows": self.rows}

    @classmethod
    def from_dict(cls, data: Any, manifest: str) -> PageRef:
        try:
            return cls(object=object_id(data["object"]), files=int(data["files"]), rows=int(data["rows"]))
        except (KeyError, TypeError, ValueError, InvalidIdError) as exc:
            raise CorruptObjectError(manifest, f"a page of its file list is named wrongly ({exc})") from None


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
    #: The page objects a stored manifest's file list was read from (none when it lists its
    #: files itself); how the list is kept, not what the snapshot is.
    pages: tuple[PageRef, ...] = field(default=(), compare=False)

    @property
    def chunks(self) -> list[ChunkRef]:
        return [chunk for entry in self.files for chunk in entry.chunks]

    def object_ids(self) -> list[ObjectId]:
        """Every object this snapshot needs beside its manifest: the pages of its file list,
        chunk data and row-hash sidecars."""
        return list(
            dict.fromkeys(
                [*(page.object for page in self.pages), *(oid for chunk in self.chunks for oid in chunk.objects())]
            )
        )

    def to_dict(self, pages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The manifest document; with ``pages``, one that names the pages holding its files
        (`records.pages`) in place of listing them."""
        listed: dict[str, Any] = {"files": [f.to_dict() for f in self.files]} if pages is None else {"pages": pages}
        return {
            "format": FORMAT,
            "version": 1 if pages is None else VERSION,
            "hash": ALGORITHM,
            "id": self.id,
            "name": self.name,
            "path": self.path,
            "kind": self.kind,
            "key": list(self.key),
            "columns": [dict(c) for c in self.columns],
            "rows": self.rows,
            **listed,
            "stats": self.stats,
            "chunking": self.chunking,
            "entity": self.entity,
            "source": self.source,
            "validated": self.validated,
        }

    @classmethod
    def from_dict(
        cls,
        data: dict[str, Any],
        oid: str = "?",
        *,
        files: list[FileEntry] | None = None,
        pages: tuple[PageRef, ...] = (),
    ) -> Manifest:
        """A manifest from its document; one that keeps its files in pages takes them as
        ``files``, read from its ``pages`` (`Repository.manifest_at` does)."""
        if data.get("format") != FORMAT:
            raise CorruptObjectError(oid, f"not a snapshot manifest (format {data.get('format')!r})")
        if int(data.get("version", 0)) > VERSION:
            raise NewerFormatError(oid, "snapshot manifest", data["version"])
        return cls(
            id=data["id"],
            name=data["name"],
            path=data["path"],
            kind=data["kind"],
            key=tuple(data.get("key") or ()),
            columns=tuple(data["columns"]),
            rows=int(data["rows"]),
            files=tuple(files if files is not None else (FileEntry.from_dict(f) for f in data["files"])),
            stats=data.get("stats") or {},
            chunking=data.get("chunking") or {},
            entity=data.get("entity"),
            source=data.get("source"),
            validated=data.get("validated"),
            pages=pages,
        )
