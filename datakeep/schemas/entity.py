"""Canonical entity schemas: `schemas/<entity>.yaml`, in pandera's own YAML format.

The only addition is an optional top-level ``datakeep:`` header (``key``, ``description``)
that is removed before the rest is handed to pandera, so the file stays loadable by
``pandera.io.pandas_io.from_yaml`` once the header is stripped, and pandera users read it as
their own. pandera silently ignores a column key that is not a known check, reads a quoted
``'no'`` as a true flag and a uniqueness set naming no column as nothing to check; each would
disable a check without a word, so every key, flag and check argument (`_checks`) is vetted here
first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakeep.schemas._checks import vet_check_list, vet_column_checks, vet_default
from datakeep.schemas._files import Place, Problems, entity_path, join, read_text, yaml_document

HEADER = "datakeep"
HEADER_KEYS = {"key", "description"}

# Top-level keys pandera's YAML format uses for a pandas DataFrameSchema.
_SCHEMA_KEYS = {
    "schema_type", "version", "api", "dataframe_library", "columns", "checks", "index",
    "multiindex", "dtype", "coerce", "strict", "name", "ordered", "unique",
    "report_duplicates", "unique_column_names", "add_missing_columns", "title",
    "description", "metadata", "drop_invalid_rows",
}  # fmt: skip
# pandera's flags, of the schema and of a column (or index level): each must be a YAML boolean.
_SCHEMA_FLAGS = ("coerce", "strict", "ordered", "unique_column_names", "add_missing_columns", "drop_invalid_rows")
_COLUMN_FLAGS = ("nullable", "unique", "coerce", "required", "regex", "drop_invalid_rows")
# pandera's report_duplicates: which rows of a uniqueness failure are reported.
REPORT_DUPLICATES = ("all", "exclude_first", "exclude_last")


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitySchema:
    """One canonical schema: its pandera schema plus datakeep's key and description."""

    name: str
    path: Path
    key: tuple[str, ...]
    description: str | None
    document: dict[str, Any] = field(compare=False, repr=False)  # the pandera part, as loaded
    schema: Any = field(compare=False, repr=False)  # pandera.pandas.DataFrameSchema
    # Columns whose values must already have their dtype (see `_uncoerced`).
    uncoerced: frozenset[str] = frozenset()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.schema.columns)

    @property
    def strict(self) -> bool:
        return bool(self.schema.strict)


def load_entity(root: str | Path, entity: str) -> EntitySchema:
    """Load and vet `schemas/<entity>.yaml`.

    Args:
        root: The project folder holding `schemas/`.
        entity: The entity name (the file name without `.yaml`).

    Returns:
        The loaded schema.

    Raises:
        SchemaConfigError: The file is missing, is not valid YAML, or names an unknown
            dtype or check, or pandera cannot build it.
    """
    path = entity_path(root, entity)
    text = read_text(path, what="schema", hint=f"write one, e.g. `datakeep schema infer FILE --entity {entity}`")
    key = (entity, str(path.absolute()), text)
    loaded = _LOADED.get(key)
    if loaded is None:
        loaded = parse_entity(entity, path, yaml_document(text, path))
        if len(_LOADED) >= _LOADED_MAX:
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = loaded
    return loaded


#: Loaded schemas by name, path and text: building one (pandera's dtypes and checks, vetted)
#: takes ~15 ms, and a hook run validating 250 files loaded the same one 250 times. Shared
#: safely: `EntitySchema` is frozen and its pandera schema is copied before any change
#: (`validate.plan`).
_LOADED: dict[tuple[str, str, str], EntitySchema] = {}
_LOADED_MAX = 32


def parse_entity(entity: str, path: Path, doc: Any) -> EntitySchema:
    """Build an `EntitySchema` from an already-loaded YAML document.

    Raises:
        SchemaConfigError: The first problem found, carrying every problem in the file.
    """
    at = Place(path)
    problems = Problems()
    doc = dict(at.mapping(doc, ""))
    header: dict[str, Any] = {}
    with problems.part():
        header = at.mapping(doc.pop(HEADER, None), HEADER, allowed=HEADER_KEYS)
    with problems.part():
        at.mapping(doc, "", allowed=_SCHEMA_KEYS)
    with problems.part():
        _vet_flags(at, "", doc, _SCHEMA_FLAGS)
    if doc.get("dtype") is not None:
        with problems.part():
            # pandera checks every column against it; datakeep converts each column to its own.
            raise at.fail(
                "dtype",
                "a dtype for the whole schema is not supported: each column is converted to its own dtype",
                "give each column its dtype, and remove the schema's",
            )
    columns = at.mapping(doc.get("columns"), "columns")
    if not columns:
        raise at.fail("columns", "the schema declares no columns")
    for name, column in columns.items():
        with problems.part():
            _vet_column(at, join("columns", name), column, problems)
    with problems.part():
        vet_check_list(at, "checks", doc.get("checks"), None)
    with problems.part():
        _vet_unique(at, doc.get("unique"), columns)
    with problems.part():
        _vet_index(at, doc.get("index"))
    # pandera's own errors would repeat the ones above less clearly: build only a vetted file.
    problems.raise_any()

    from pandera.io import pandas_io

    # Build column by column first so an error names the column it comes from.
    for name, column in columns.items():
        try:
            # A copy: pandera takes `options` out of the check entries it is given.
            pandas_io.deserialize_schema({"columns": {name: _copy(column or {})}})
        except Exception as exc:
            with problems.part():
                raise at.fail(join("columns", name), f"pandera cannot build this column: {exc}") from None
    problems.raise_any()
    try:
        schema = pandas_io.deserialize_schema(_copy(doc))
    except Exception as exc:
        raise at.fail("", f"pandera cannot load the schema: {exc}") from None

    key: tuple[str, ...] = ()
    with problems.part():
        key = at.str_list(header.get("key"), join(HEADER, "key"))
    for i, column_name in enumerate(key):
        if column_name not in schema.columns:
            with problems.part():
                raise at.fail(f"{HEADER}.key[{i}]", f"key column '{column_name}' is not a column of the schema")
    description = None
    with problems.part():
        description = at.text(header.get("description"), join(HEADER, "description"))
    problems.raise_any()
    return EntitySchema(
        name=entity,
        path=path,
        key=key,
        description=description,
        document=doc,
        schema=schema,
        uncoerced=_uncoerced(doc, columns),
    )


def _uncoerced(doc: dict[str, Any], columns: dict[str, Any]) -> frozenset[str]:
    """The columns whose values are not converted to their dtype.

    datakeep converts every column to its dtype as pandera's ``coerce: true`` does (a CSV file
    is all text, and `schema infer` writes ``coerce: true``), so a file that does not mention
    coerce keeps that. A ``coerce: false`` written on the column or the schema asks for what
    pandera then does: a column of another type fails. As in pandera, ``true`` on either wins.
    """
    out = set()
    for name, column in columns.items():
        column = column or {}
        said = "coerce" in doc or "coerce" in column
        if said and not doc.get("coerce", False) and not column.get("coerce", False):
            out.add(name)
    return frozenset(out)


def _vet_column(at: Place, place: str, column: Any, problems: Problems) -> None:
    """Vet one column, each of its parts apart (a bad flag hid a bad check argument until the
    next `schema check`); its default and checks only once its dtype is known good."""
    column = at.mapping(column, place)
    dtype = None
    with problems.part():
        _vet_flags(at, place, column)
    if column.get("dtype") is not None:
        dtype = _vet_dtype(at, join(place, "dtype"), column["dtype"])
    if "default" in column:
        with problems.part():
            vet_default(at, join(place, "default"), column["default"], dtype, column.get("dtype"))
    vet_column_checks(at, place, column, dtype)


def _vet_flags(at: Place, place: str, component: dict[str, Any], flags: tuple[str, ...] = _COLUMN_FLAGS) -> None:
    """Vet the flags of the schema or of one column or index level, and ``report_duplicates``."""
    for flag in flags:
        if flag in component:
            at.flag(component[flag], join(place, flag))
    if component.get("drop_invalid_rows"):
        # pandera drops the failing rows and passes the rest. datakeep validates a file, and
        # commits it, as it is: a row it dropped would be committed all the same.
        raise at.fail(
            join(place, "drop_invalid_rows"),
            "datakeep reports invalid rows and never drops them (a file is validated and committed as it is)",
            "remove drop_invalid_rows; fix or filter the rows before the file is validated",
        )
    if component.get("regex"):
        # pandera matches the name as a pattern against the frame's columns; datakeep maps and
        # finds each column by its name, so the pattern would be looked for as a column name.
        raise at.fail(
            join(place, "regex"),
            "columns named by a pattern are not supported: datakeep finds each column by its name",
            "declare each column by its name, without regex",
        )
    if "report_duplicates" in component and component["report_duplicates"] not in REPORT_DUPLICATES:
        raise at.fail(
            join(place, "report_duplicates"),
            f"unknown setting {component['report_duplicates']!r}",
            "use all, exclude_first or exclude_last",
        )


def _vet_unique(at: Place, unique: Any, columns: dict[str, Any]) -> None:
    """Schema-level uniqueness names columns; one the schema lacks would switch it off unseen
    (validate checks a set only when a file provides every column of it)."""
    names = at.str_list(unique, "unique")
    for i, name in enumerate(names):
        if name not in columns:
            raise at.fail(
                "unique" if isinstance(unique, str) else f"unique[{i}]",
                f"unique column '{name}' is not a column of the schema",
                f"columns of the schema: {', '.join(columns)}",
            )


def _vet_index(at: Place, index: Any) -> None:
    """Refuse a pandas index that validation could never match.

    datakeep validates a file's columns, and its rows are numbered 0..n-1 (an unnamed index,
    as older `schema infer` wrote). pandas stores a named index in Parquet as an ordinary
    column, which is what `validate` sees; a named or multi-level index would fail every file.
    """
    if index is None:
        return
    levels = index if isinstance(index, list) else [index]
    for i, level in enumerate(levels):
        if isinstance(level, dict):
            _vet_flags(at, f"index[{i}]", level)
        name = level.get("name") if isinstance(level, dict) else None
        if name is not None:
            raise at.fail(
                f"index[{i}]",
                f"declares a pandas index named '{name}', but datakeep validates columns, "
                f"and a Parquet file stores that index as the column '{name}'",
                f"declare '{name}' under columns instead",
            )
    if len(levels) > 1:
        raise at.fail(
            "index",
            f"declares {len(levels)} index levels, but datakeep validates columns, "
            "and a Parquet file stores each level as a column",
            "declare the levels under columns instead",
        )


def _vet_dtype(at: Place, place: str, dtype: Any) -> Any:
    """The pandas dtype named ``dtype``."""
    from pandera.io.pandas_io import _deserialize_dtype

    try:
        return _deserialize_dtype(dtype).type
    except Exception:
        raise at.fail(
            place,
            f"unknown dtype '{dtype}'",
            "use a pandas dtype name such as int64, Int64, float64, str, bool, datetime64[ns]",
        ) from None


def _copy(value: Any) -> Any:
    # pandera's loader pops keys from the dicts it is given; keep our document intact.
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
