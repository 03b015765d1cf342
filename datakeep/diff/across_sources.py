"""Two datasets fed by different sources of one entity, compared as the entity's rows.

A dataset tracked with ``--source`` holds the raw data its source sends (``kundennr``, cents,
German country names), validated through the source's mapping at commit. Compared with another
source's raw columns nothing lines up, so each side with a source is put through its mapping
first (`datakeep.validate.map_file`, as `datakeep map` does) and the canonical tables are
compared: whole tables, read and mapped in a temporary folder, as two files are compared. Cells a
mapping cannot map are null in its canonical table; the report says how many problems each side's
mapping met.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from datakeep.diff.result import DatasetDiff


@dataclass(frozen=True, slots=True, kw_only=True)
class SourcedSide:
    """One side of a cross-source comparison: how to get its rows, and the source they follow."""

    label: str  # "HEAD:crm", as the report names it
    source: str | None
    entity: str | None
    write: Callable[[Path], None]  # writes the side's rows, raw, as one Parquet file


def compare(
    root: Path,
    name: str,
    old: SourcedSide,
    new: SourcedSide,
    key: tuple[str, ...] | None,
    dataset: Callable[[Path, Path, tuple[str, ...]], DatasetDiff],
) -> DatasetDiff:
    """Map each side through its source (a side without one is taken as canonical already) and
    compare the results with ``dataset(old_file, new_file, key)``; ``key`` None is the entity's."""
    from datakeep.schemas import load_entity, source_entity

    entity = old.entity or new.entity
    if entity is None:  # tracked with --source alone: the mapping names the entity
        entity = source_entity(root, old.source or new.source or "")
    if key is None:
        key = load_entity(root, entity).key if entity else ()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="datakeep-diff-") as tmp:
        files = []
        for tag, side in (("old", old), ("new", new)):
            raw = Path(tmp) / f"{tag}-raw.parquet"
            side.write(raw)
            if side.source is None:
                files.append(raw)
                continue
            files.append(_mapped(root, side, raw, Path(tmp) / f"{tag}.parquet", notes))
        compared = dataset(files[0], files[1], tuple(key))
    said = f"compared as rows of entity {entity}, each side through its source's mapping"
    return replace(compared, name=name, notes=(said, *notes, *compared.notes))


def _mapped(root: Path, side: SourcedSide, raw: Path, output: Path, notes: list[str]) -> Path:
    from datakeep.validate import map_file

    assert side.source is not None
    report: Any = map_file(raw, source=side.source, root=root, output=output)
    if report.problems:
        notes.append(
            f"{side.label}: mapping {side.source} met {len(report.problems)} problem(s) in "
            f"{report.rows_failing:,} row(s), whose unmappable cells are null here "
            f"(`datakeep validate` on the data lists them)"
        )
    return output
