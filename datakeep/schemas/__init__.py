"""Canonical entity schemas, per-source mappings and path rules (DESIGN.md §7).

Importing this package is cheap: pandera and pandas load only when a schema is built.
"""

from __future__ import annotations

from datakeep.schemas._files import RULES_FILE, SCHEMAS_DIR, SOURCES_DIR, project_root
from datakeep.schemas.check import CheckResult, check_all
from datakeep.schemas.entity import EntitySchema, load_entity
from datakeep.schemas.fingerprint import fingerprint
from datakeep.schemas.infer import infer_schema
from datakeep.schemas.mapping import (
    Cast,
    ColumnMap,
    CsvOptions,
    SourceMapping,
    identity_mapping,
    load_source,
    source_entity,
)
from datakeep.schemas.rules import Rule, Rules, load_rules

__all__ = [
    "RULES_FILE",
    "SCHEMAS_DIR",
    "SOURCES_DIR",
    "Cast",
    "CheckResult",
    "ColumnMap",
    "CsvOptions",
    "EntitySchema",
    "Rule",
    "Rules",
    "SourceMapping",
    "check_all",
    "fingerprint",
    "identity_mapping",
    "infer_schema",
    "load_entity",
    "load_rules",
    "load_source",
    "project_root",
    "source_entity",
]
