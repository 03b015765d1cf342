"""The fingerprint of a schema and mapping, recorded in a snapshot as "validated against X".

It hashes the *content* of the files (parsed YAML, re-encoded as canonical JSON), so comments,
key order and whitespace do not change it, while any change to a column, check or mapping does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import xxhash

from datakeep.schemas._files import entity_path, read_yaml, source_path

FINGERPRINT_FORMAT = "datakeep.schema-fingerprint"
FINGERPRINT_VERSION = 1


def canonical_json(value: Any) -> bytes:
    """The one JSON encoding that is hashed: sorted keys, fixed separators, UTF-8."""
    return json.dumps(_sortable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode(
        "utf-8"
    )


def _sortable(value: Any) -> Any:
    """``value`` with the keys of each mapping that mixes key types (a value map ``{1: retail,
    X: vip}``, a cast's unquoted ``true:`` beside ``type:``) written as JSON writes them, so they
    sort. Mappings of one key type are left alone: their fingerprints must not change."""
    if isinstance(value, list):
        return [_sortable(item) for item in value]
    if not isinstance(value, dict):
        return value
    items = {key: _sortable(item) for key, item in value.items()}
    if len({type(key) for key in items}) > 1:
        return {json.dumps(key) if not isinstance(key, str) else key: item for key, item in items.items()}
    return items


def fingerprint(root: str | Path, entity: str, source: str | None = None) -> str:
    """Hash the schema of ``entity`` (and the mapping of ``source``) as xxh3_128 hex.

    Args:
        root: The project folder holding `schemas/`.
        entity: The entity whose schema is hashed.
        source: The source whose mapping is hashed with it, if any.

    Returns:
        32 lowercase hex digits.

    Raises:
        SchemaConfigError: A file is missing or is not valid YAML.
    """
    document = {
        "format": FINGERPRINT_FORMAT,
        "version": FINGERPRINT_VERSION,
        "entity": {"name": entity, "schema": read_yaml(entity_path(root, entity), what="schema")},
        "source": None
        if source is None
        else {
            "name": source,
            "mapping": read_yaml(source_path(root, source), what="source mapping"),
        },
    }
    return xxhash.xxh3_128_hexdigest(canonical_json(document))
