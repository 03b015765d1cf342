"""Text for `datakeep schema show`."""

from __future__ import annotations

from pathlib import Path

from datakeep.errors import DatakeepError
from datakeep.schemas._files import SCHEMAS_DIR, SOURCES_DIR
from datakeep.schemas.entity import EntitySchema
from datakeep.schemas.mapping import source_entity


def render_entity(entity: EntitySchema, *, root: str | Path, fingerprint: str) -> str:
    lines = [f"entity {entity.name}  (fingerprint {fingerprint})"]
    if entity.description:
        lines.append(f"  {entity.description}")
    lines.append(f"  key: {', '.join(entity.key) or '(none)'}   strict: {entity.strict}")
    width = max(len(c) for c in entity.columns)
    for name, column in entity.schema.columns.items():
        flags = [str(column.dtype) if column.dtype is not None else "any"]
        if column.nullable:
            flags.append("nullable")
        if column.unique:
            flags.append("unique")
        if not column.required:
            flags.append("optional")
        checks = ", ".join(str(c.error or c.name) for c in column.checks)
        lines.append(f"  {name:<{width}}  {' '.join(flags)}" + (f"  {checks}" if checks else ""))
    sources = []
    for path in sorted((Path(root) / SCHEMAS_DIR / SOURCES_DIR).glob("*.yaml")):
        try:
            if source_entity(root, path.stem) == entity.name:
                sources.append(path.stem)
        except DatakeepError:
            continue
    lines.append(f"  sources: {', '.join(sources) or '(none)'}")
    return "\n".join(lines)
