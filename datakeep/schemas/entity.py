"""Canonical entity schemas: `schemas/<entity>.yaml`, in pandera's own YAML format.

The only addition is an optional top-level ``datakeep:`` header (``key``, ``description``)
that is removed before the rest is handed to pandera, so the file stays loadable by
``pandera.io.pandas_io.from_yaml`` once the header is stripped, and pandera users read it as
their own. pandera silently ignores a column key that is not a known check; a typo there would
disable a check without a word, so every key is vetted here first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datakeep.schemas._files import Place, Problems, entity_path, join, read_yaml

HEADER = "datakeep"
HEADER_KEYS = {"key", "description"}

# Top-level keys pandera's YAML format uses for a pandas DataFrameSchema.
_SCHEMA_KEYS = {
    "schema_type", "version", "api", "dataframe_library", "columns", "checks", "index",
    "multiindex", "dtype", "coerce", "strict", "name", "ordered", "unique",
    "report_duplicates", "unique_column_names", "add_missing_columns", "title",
    "description", "metadata", "drop_invalid_rows",
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class EntitySchema:
    """One canonical schema: its pandera schema plus datakeep's key and description."""

    name: str
    path: Path
    key: tuple[str, ...]
    description: str | None
    document: dict[str, Any] = field(compare=False, repr=False)  # the pandera part, as loaded
    schema: Any = field(compare=False, repr=False)  # pandera.pandas.DataFrameSchema

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
    doc = read_yaml(path, what="schema", hint=f"write one, e.g. `datakeep schema infer FILE --entity {entity}`")
    return parse_entity(entity, path, doc)


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
    columns = at.mapping(doc.get("columns"), "columns")
    if not columns:
        raise at.fail("columns", "the schema declares no columns")
    for name, column in columns.items():
        with problems.part():
            _vet_column(at, join("columns", name), column)
    with problems.part():
        _vet_check_list(at, "checks", doc.get("checks"))
    with problems.part():
        _vet_index(at, doc.get("index"))
    # pandera's own errors would repeat the ones above less clearly: build only a vetted file.
    problems.raise_any()

    from pandera.io import pandas_io

    # Build column by column first so an error names the column it comes from.
    for name, column in columns.items():
        try:
            pandas_io.deserialize_schema({"columns": {name: dict(column or {})}})
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
    return EntitySchema(name=entity, path=path, key=key, description=description, document=doc, schema=schema)


def _vet_column(at: Place, place: str, column: Any) -> None:
    from pandera.api.checks import Check
    from pandera.io._flat_checks import COMPONENT_RESERVED_KEYS

    column = at.mapping(column, place)
    dtype = column.get("dtype")
    if dtype is not None:
        _vet_dtype(at, join(place, "dtype"), dtype)
    for key in column:
        if key in COMPONENT_RESERVED_KEYS:
            continue
        if not callable(getattr(Check, key, None)):
            raise at.fail(
                join(place, key),
                f"unknown check '{key}'",
                "use a built-in pandera check (isin, in_range, str_matches, ...) "
                "or one registered with pandera.extensions",
            )
        _vet_check_values(at, join(place, key), key, column[key])
    _vet_check_list(at, join(place, "checks"), column.get("checks"))


#: Checks whose argument is a collection of values.
_VALUE_SET_CHECKS = ("isin", "notin")


def _vet_check_values(at: Place, place: str, name: str, argument: Any) -> None:
    """``isin: DE`` (a word where a list is meant) is a set of letters to pandera: 'D' and 'E'
    would pass and 'DE' fail. Refuse it rather than let such a typo validate the wrong thing."""
    if name in _VALUE_SET_CHECKS and not isinstance(argument, list | dict):
        raise at.fail(place, f"{name} needs a list of values, not {argument!r}", f"write {name}: [{argument}]")


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


def _vet_check_list(at: Place, place: str, checks: Any) -> None:
    from pandera.api.checks import Check

    if checks is None:
        return
    if isinstance(checks, dict):
        names = [(join(place, str(k)), k) for k in checks]
    elif isinstance(checks, list):
        names = []
        for i, entry in enumerate(checks):
            options = entry.get("options") if isinstance(entry, dict) else None
            name = options.get("check_name") if isinstance(options, dict) else None
            if not isinstance(name, str):
                raise at.fail(f"{place}[{i}]", "a check needs options.check_name")
            names.append((f"{place}[{i}]", name))
    else:
        raise at.fail(place, "expected a mapping or a list of checks")
    for where, name in names:
        if not callable(getattr(Check, name, None)):
            raise at.fail(where, f"unknown check '{name}'")
    if isinstance(checks, dict):
        for name, argument in checks.items():
            _vet_check_values(at, join(place, str(name)), name, argument)


def _vet_dtype(at: Place, place: str, dtype: Any) -> None:
    from pandera.io.pandas_io import _deserialize_dtype

    try:
        _deserialize_dtype(dtype)
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
