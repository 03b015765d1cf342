"""A folder dataset's columns: the union of its files' schemas.

Spark and Hive tables evolve: a newer partition adds a column, another job writes a column as
int32 where an older one wrote int64. Their readers (pyarrow.dataset, Spark's ``mergeSchema``)
show one table whose columns are the union of the files' columns in first-seen order, a column
absent from a file being null in its rows. datakeep describes, compares and reads a folder dataset
the same way; each file keeps its own exact schema in the manifest, so a restored file has its
own types again. Columns whose types cannot be promoted to one (string in one file, int64 in
another) are refused with the two files named: no reader could show them as one column.

Nothing here is part of an id: a folder's snapshot id hashes each file's own content.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from datakeep.errors import DatasetError
from datakeep.hashing import canonical_type, decode


def union_schema(schemas: Sequence[tuple[str, pa.Schema]], where: str) -> pa.Schema:
    """The columns of files ``(path, schema)`` read as one table.

    Raises DatasetError, ``where`` first (e.g. "dataset 'sales'"), naming two files when a
    column's types cannot be promoted to one (pyarrow's permissive promotion: int32 + int64 ->
    int64, int64 + double -> double, null + T -> T, ...).
    """
    first = schemas[0][1]
    if all(schema.equals(first) for _, schema in schemas[1:]):
        return first  # the usual folder, and every single file: exactly the file's schema
    seen: dict[str, list[tuple[str, pa.Field]]] = {}
    for path, schema in schemas:
        for field in schema:
            seen.setdefault(field.name, []).append((path, field))
    fields = []
    for name, holders in seen.items():
        first_path, first_field = holders[0]
        data_type = first_field.type
        for path, field in holders[1:]:
            if canonical_type(field.type) == canonical_type(data_type):
                continue
            try:
                data_type = (
                    pa.unify_schemas(
                        [
                            pa.schema([pa.field(name, _plain(data_type))]),
                            pa.schema([pa.field(name, _plain(field.type))]),
                        ],
                        promote_options="permissive",
                    )
                    .field(0)
                    .type
                )
            except (pa.ArrowTypeError, pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise DatasetError(
                    f"{where}: column '{name}' is {canonical_type(first_field.type)} in {first_path}"
                    f" but {canonical_type(field.type)} in {path}, which cannot be read as one column",
                    "write the column with one type in every file (cast it), or track the files as separate datasets",
                ) from None
        # A file without the column gives its rows a null there.
        nullable = len(holders) < len(schemas) or any(field.nullable for _, field in holders)
        fields.append(pa.field(name, data_type, nullable, metadata=first_field.metadata))
    # Schema metadata (pandas' column list) describes one file's columns; kept only when all agree.
    metadata = first.metadata if all(schema.metadata == first.metadata for _, schema in schemas) else None
    return pa.schema(fields, metadata=metadata)


def _plain(data_type: pa.DataType) -> pa.DataType:
    # Dictionary encoding is an encoding, not a type (as in the canonical encoding).
    return data_type.value_type if pa.types.is_dictionary(data_type) else data_type


def same_columns(schema: pa.Schema, union: pa.Schema) -> bool:
    """Whether a file's rows are the union's rows as they are: same columns, order and canonical
    types, so row hashes stored for its chunks compare directly with the union's."""
    return [(f.name, canonical_type(f.type)) for f in schema] == [(f.name, canonical_type(f.type)) for f in union]


def conform(
    table: pa.Table, union: pa.Schema, columns: Sequence[str] | None = None, *, exact: bool = False
) -> pa.Table:
    """``table`` (some of one file's columns) as the union's ``columns`` (default: all): missing
    columns are null, columns of another canonical type are cast to the union's type (with
    ``exact``, every column not of the union's physical type is, so tables concatenate)."""
    names = list(union.names if columns is None else columns)
    arrays: list[pa.Array | pa.ChunkedArray] = []
    # Looked up once: `column_names` builds a new list at each call, which made a table of
    # thousands of columns quadratic (5,000 columns: 70 s of a diff).
    present = {name: at for at, name in enumerate(table.column_names)}
    targets = {field.name: field.type for field in union}
    changed = names != list(present)
    for name in names:
        target = targets[name]
        if name not in present:
            arrays.append(pa.nulls(table.num_rows, target))
            changed = True
            continue
        column = table.column(present[name])
        differs = column.type != target if exact else canonical_type(column.type) != canonical_type(target)
        if differs:
            if not column.num_chunks:
                column = pa.chunked_array([], type=target)
            elif canonical_type(column.type) != canonical_type(target):
                # Undo encodings first (a dictionary casts only to its own value type).
                column = pa.chunked_array([decode(chunk) for chunk in column.chunks])
            column = column.cast(target)  # safe: a value that does not fit raises, never wraps
            changed = True
        arrays.append(column)
    if not changed:
        return table
    if exact:
        return pa.Table.from_arrays(arrays, schema=pa.schema([union.field(name) for name in names]))
    return pa.Table.from_arrays(arrays, names=names)
