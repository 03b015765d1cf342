"""Reading a Parquet file through pyarrow's reader class, without importing ``pyarrow.parquet``.

``pyarrow.parquet`` imports ``pyarrow.fs``, and with it ssl and the S3, GCS, HDFS and Azure
bindings: 10-13 ms at the start of every command that reads Parquet, where a commit runs on one
core (after numpy and pyarrow themselves, most of what it waits for before its first batch). Its
``ParquetFile`` is a thin layer over ``pyarrow._parquet.ParquetReader``; `ParquetSource` is the
part of that layer datakeep reads through (local paths and Arrow files only; no file systems).
Writing still goes through ``pyarrow.parquet``, imported where a file or chunk is written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pyarrow as pa
from pyarrow._parquet import FileMetaData, ParquetReader, ParquetSchema

from datakeep.errors import CorruptObjectError, ObjectNotFoundError
from datakeep.ids import ObjectId, stored_object_at


def stored_object(source: str | Path | pa.NativeFile) -> ObjectId | None:
    """The stored object ``source`` is the file of (a chunk opened by path), else None."""
    return stored_object_at(source) if isinstance(source, (str, Path)) else None


@contextlib.contextmanager
def object_errors(oid: ObjectId | None) -> Iterator[None]:
    """Failures reading stored object ``oid`` as the damage they are: a chunk cut short or
    emptied is a CorruptObjectError naming it and `fsck --repair`, for every reader (diff,
    checkout, ...), not pyarrow's "magic bytes not found" taken for a bug. A user's own file
    (``oid`` None) keeps pyarrow's error for the caller to word."""
    if oid is None:
        yield
        return
    try:
        yield
    except FileNotFoundError:
        raise ObjectNotFoundError(oid) from None
    except PermissionError:
        raise  # not damage: the OSError names the file and says to check its permissions
    except (pa.ArrowException, OSError) as exc:
        raise CorruptObjectError(oid, f"not a readable Parquet chunk ({exc})") from None


class ParquetSource:
    """A Parquet file opened for reading, as ``pyarrow.parquet.ParquetFile`` opens it (the
    same reader, options and column selection by name)."""

    def __init__(
        self,
        source: str | Path | pa.NativeFile,
        *,
        metadata: FileMetaData | None = None,
        buffer_size: int = 0,
        pre_buffer: bool = True,
        memory_pool: pa.MemoryPool | None = None,
    ) -> None:
        #: The stored object read, if ``source`` is one: its damage is then said as such.
        self.object = stored_object(source)
        self.reader = ParquetReader(memory_pool=memory_pool)
        with object_errors(self.object):
            self.reader.open(
                str(source) if isinstance(source, Path) else source,
                buffer_size=buffer_size,
                pre_buffer=pre_buffer,
                metadata=metadata,
            )
        self._leaves: dict[str, list[int]] | None = None
        self._schema_arrow: pa.Schema | None = None

    @property
    def metadata(self) -> FileMetaData:
        return self.reader.metadata

    @property
    def schema(self) -> ParquetSchema:
        return self.reader.metadata.schema

    @property
    def schema_arrow(self) -> pa.Schema:
        # The reader converts the footer's schema anew each time it is asked; a commit asks
        # three times a file.
        if self._schema_arrow is None:
            self._schema_arrow = self.reader.schema_arrow
        return self._schema_arrow

    def iter_batches(
        self,
        batch_size: int,
        row_groups: Iterable[int] | None = None,
        columns: Sequence[str] | None = None,
        use_threads: bool = True,
    ) -> Iterator[pa.RecordBatch]:
        if batch_size <= 0:
            raise ValueError("batch_size must be greater than zero")
        groups = range(self.metadata.num_row_groups) if row_groups is None else row_groups
        batches: Iterator[pa.RecordBatch] = self.reader.iter_batches(
            batch_size, row_groups=groups, column_indices=self._indices(columns), use_threads=use_threads
        )
        return batches if self.object is None else self._checked(batches)

    def _checked(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        with object_errors(self.object):
            yield from batches

    def read(self, columns: Sequence[str] | None = None, use_threads: bool = True) -> pa.Table:
        with object_errors(self.object):
            table: pa.Table = self.reader.read_all(column_indices=self._indices(columns), use_threads=use_threads)
        return table

    def read_row_group(self, index: int, columns: Sequence[str] | None = None, use_threads: bool = True) -> pa.Table:
        with object_errors(self.object):
            table: pa.Table = self.reader.read_row_group(
                index, column_indices=self._indices(columns), use_threads=use_threads
            )
        return table

    def _indices(self, columns: Sequence[str] | None) -> list[int] | None:
        """The leaf columns of ``columns``, named as ``ParquetFile`` takes them: a top-level name,
        or a dotted path into a nested one. Unknown names select nothing, as there."""
        if columns is None:
            return None
        if self._leaves is None:
            self._leaves = _leaves_by_prefix(self.reader.column_paths)
        return [leaf for name in columns for leaf in self._leaves.get(name, ())]


def _leaves_by_prefix(paths: list[list[str]]) -> dict[str, list[int]]:
    """Every dotted prefix of the leaf columns' paths -> the leaves under it, in file order."""
    leaves: dict[str, list[int]] = {}
    for index, path in enumerate(paths):
        for depth in range(1, len(path) + 1):
            leaves.setdefault(".".join(path[:depth]), []).append(index)
    return leaves


def read_metadata(source: str | Path) -> FileMetaData:
    """The parsed footer of the Parquet file at ``source``."""
    metadata: FileMetaData = ParquetSource(source).metadata
    return metadata
