"""ls-files: the URLs of a snapshot's Parquet objects, for engines that read them directly.

Each listed object is a complete Parquet file, and a snapshot's rows are its chunks in manifest
order, so ``read_parquet([...urls...])`` in DuckDB (or Spark, or Dask) reads that version. Chunks
stored as row-level patches are written out whole first (see ``_materialize``).
"""

from __future__ import annotations

from dataclasses import dataclass

from datakeep.errors import DatasetError, RemoteError
from datakeep.ids import ObjectId
from datakeep.records.manifest import ChunkRef
from datakeep.remote.connect import reports_unreachable
from datakeep.repo import Repository


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedObject:
    file: str  # path of the dataset file the chunk belongs to (the dataset path for a single file)
    url: str
    rows: int
    bytes: int

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "url": self.url, "rows": self.rows, "bytes": self.bytes}


@reports_unreachable
def ls_files(repo: Repository, spec: str, *, remote: str | None = None) -> list[ListedObject]:
    """The chunk objects of ``REV:NAME``, in row order, as URLs on ``remote`` or local paths."""
    from datakeep.checkout import manifest_for
    from datakeep.revisions import resolve, split_dataset

    rev, name = split_dataset(spec)
    if not name:
        raise DatasetError(f"'{spec}' names no dataset", "use REV:NAME, e.g. `datakeep ls-files v1:flights`")
    manifest = manifest_for(repo, repo.commit_at(resolve(repo, rev)), name, rev)
    # A patched chunk's object holds only the rows that differ from its base; an engine reading it
    # would see wrong rows. Such chunks are written out whole (a plain Parquet object, stored like
    # any other and content-addressed, so doing it twice costs nothing) and that object is listed.
    objects = {chunk.object: chunk.object for chunk in manifest.chunks}
    for entry in manifest.files:
        for chunk in entry.chunks:
            if chunk.depth:
                objects[chunk.object] = _materialize(repo, entry.schema, chunk)
    if remote is not None:
        from datakeep.remote.config import open_remote

        store = open_remote(repo, remote).store
        for original, listed in objects.items():
            if listed != original and not store.has(listed):
                store.put_verified(listed, repo.store.get(listed))
        where = store.url_of
    else:
        missing = [oid for oid in objects.values() if not repo.store.has(oid)]
        if missing:
            raise RemoteError(
                f"{len(missing)} chunk(s) of {spec} are not in this partial clone",
                "list them on the remote with --remote origin, or fetch them: `datakeep pull --name " + name + "`",
            )

        def where(oid: str) -> str:
            return str(repo.store.path(oid))

    return [
        ListedObject(file=entry.path, url=where(objects[chunk.object]), rows=chunk.rows, bytes=chunk.bytes)
        for entry in manifest.files
        for chunk in entry.chunks
    ]


def _materialize(repo: Repository, schema: str, chunk: ChunkRef) -> ObjectId:
    """Store a patched chunk's rows as a whole Parquet object; returns its id. Until `gc` (which
    keeps only what manifests name) it is served from the local store."""
    from datakeep.restore import read_chunk
    from datakeep.snapshot import decode_schema, encode_chunk

    oid, _ = repo.store.put(encode_chunk(read_chunk(repo.store, chunk, decode_schema(schema))))
    return oid


def sql_list(objects: list[ListedObject]) -> str:
    """A SQL list literal of the URLs: ``['s3://…', '…']`` (quotes doubled, as SQL escapes them)."""
    quoted = ", ".join("'" + o.url.replace("'", "''") + "'" for o in objects)
    return f"[{quoted}]"
