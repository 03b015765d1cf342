"""ls-files: the URLs of a snapshot's Parquet objects, for engines that read them directly.

Each chunk object is a complete Parquet file, and a snapshot's rows are its chunks in manifest
order, so ``read_parquet([...urls...])`` in DuckDB (or Spark, or Dask) reads that version.
"""

from __future__ import annotations

from dataclasses import dataclass

from datakeep.errors import DatasetError, RemoteError
from datakeep.repo import Repository


@dataclass(frozen=True, slots=True, kw_only=True)
class ListedObject:
    file: str  # path of the dataset file the chunk belongs to (the dataset path for a single file)
    url: str
    rows: int
    bytes: int

    def to_dict(self) -> dict[str, object]:
        return {"file": self.file, "url": self.url, "rows": self.rows, "bytes": self.bytes}


def ls_files(repo: Repository, spec: str, *, remote: str | None = None) -> list[ListedObject]:
    """The chunk objects of ``REV:NAME``, in row order, as URLs on ``remote`` or local paths."""
    from datakeep.checkout import manifest_for
    from datakeep.revisions import resolve, split_dataset

    rev, name = split_dataset(spec)
    if not name:
        raise DatasetError(f"'{spec}' names no dataset", "use REV:NAME, e.g. `datakeep ls-files v1:flights`")
    manifest = manifest_for(repo, repo.commit_at(resolve(repo, rev)), name, rev)
    patched = [c for c in manifest.chunks if getattr(c, "depth", 0)]
    if patched:
        # A patched chunk's object holds only the rows that differ from its base: listing it
        # would make an engine read wrong rows, so refuse rather than mislead.
        raise DatasetError(
            f"{len(patched)} of {len(manifest.chunks)} chunk(s) of {spec} are stored as row-level patches, "
            "which other engines cannot read directly",
            f"write the version out with `datakeep checkout {rev} --name {name} -o FILE.parquet` and read that",
        )
    if remote is not None:
        from datakeep.remote.config import open_remote

        store = open_remote(repo, remote).store
        where = store.url_of
    else:
        missing = [c.object for c in manifest.chunks if not repo.store.has(c.object)]
        if missing:
            raise RemoteError(
                f"{len(missing)} chunk(s) of {spec} are not in this partial clone",
                "list them on the remote with --remote origin, or fetch them: `datakeep pull --name " + name + "`",
            )

        def where(oid: str) -> str:
            return str(repo.store.path(oid))

    return [
        ListedObject(file=entry.path, url=where(chunk.object), rows=chunk.rows, bytes=chunk.bytes)
        for entry in manifest.files
        for chunk in entry.chunks
    ]


def sql_list(objects: list[ListedObject]) -> str:
    """A SQL list literal of the URLs: ``['s3://…', '…']`` (quotes doubled, as SQL escapes them)."""
    quoted = ", ".join("'" + o.url.replace("'", "''") + "'" for o in objects)
    return f"[{quoted}]"
