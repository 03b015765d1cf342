"""Text and JSON forms of the core verbs' results (commit, log, show, status, ...)."""

from __future__ import annotations

from typing import Any

from datakeep.ids import ObjectId
from datakeep.records.commit import Commit
from datakeep.records.manifest import Manifest
from datakeep.render.style import HANDFUL, a_few, count, cut_middle, human_bytes, paint
from datakeep.render.temporal import temporal_spread, temporal_value


def commit_json(oid: ObjectId, commit: Commit) -> dict[str, Any]:
    """The `log --json` element: at least id, message, parents, time, datasets (name → snapshot)."""
    return {
        "id": oid,
        "message": commit.message,
        "author": commit.author,
        "time": commit.time,
        "parents": list(commit.parents),
        "datasets": {name: ref.snapshot for name, ref in sorted(commit.datasets.items())},
        "summary": commit.summary,
    }


def restored_lines(written: dict[str, list[str]], removed: dict[str, list[str]] | None = None) -> list[str]:
    """What a checkout, pull or clone did to the working tree: per dataset the files it wrote
    and the part files it removed, or that the working copy already held that version.

    A folder's files are counted with a few named, and past a handful the datasets left alone
    share one line: among thousands of files or datasets, what was touched must stay readable
    (``--json`` lists every one)."""
    lines: list[str] = []
    held = [name for name, paths in written.items() if not paths and not (removed or {}).get(name)]
    for dataset, paths in written.items():
        gone = (removed or {}).get(dataset, [])
        if not paths and not gone:
            if len(held) <= HANDFUL:
                lines.append(f"unchanged {dataset}: the working copy already holds this version")
            continue
        parts = [_files(paths)] if paths else []
        if gone:
            parts.append(f"removed {_files(gone)}")
        lines.append(f"restored {dataset}: {'; '.join(parts)}")
    if len(held) > HANDFUL:
        lines.append(
            f"unchanged {count(len(held))} datasets: the working copy already holds their version ({a_few(held)})"
        )
    return lines


def _files(paths: list[str]) -> str:
    return ", ".join(paths) if len(paths) <= HANDFUL else f"{count(len(paths))} files ({a_few(paths)})"


def stat_lines(commit: Commit, dataset: str | None = None) -> list[str]:
    """Per changed dataset (only ``dataset`` when given), what the commit's stored summary says."""
    lines = []
    for name, s in sorted(commit.summary.items()):
        if dataset is not None and name != dataset:
            continue
        if s.get("removed"):
            lines.append(f"  {name}: dataset removed")
            continue
        if s.get("new"):
            columns = len(s.get("schema", {}).get("added", []))
            chunks = f"{s.get('chunks_new', 0)}/{s.get('chunks_total', 0)} chunks new"
            lines.append(f"  {name}: new dataset, {count(s.get('rows_to', 0))} rows, {columns} columns, {chunks}")
            continue
        parts = [f"{count(s.get('rows_from', 0))} → {count(s.get('rows_to', 0))} rows"]
        for key in ("added", "removed", "modified"):
            if key in s.get("rows", {}):
                parts.append(f"{count(s['rows'][key])} {key}")
        schema = s.get("schema", {})
        if schema.get("added"):
            parts.append("+cols " + ",".join(schema["added"]))
        if schema.get("removed"):
            parts.append("-cols " + ",".join(schema["removed"]))
        if schema.get("type_changed"):
            parts.append("types " + ",".join(t["column"] for t in schema["type_changed"]))
        parts.append(f"{s.get('chunks_new', 0)}/{s.get('chunks_total', 0)} chunks new")
        lines.append(f"  {name}: " + ", ".join(parts))
    return lines


def log_text(
    entries: list[tuple[ObjectId, Commit]],
    *,
    stat: bool,
    refs: dict[ObjectId, list[str]],
    color: bool,
    dataset: str | None = None,
    oneline: bool = False,
) -> str:
    out: list[str] = []
    for oid, commit in entries:
        names = refs.get(oid, [])
        decoration = f" ({', '.join(names)})" if names else ""
        if oneline:
            # As git's --oneline: the short id and the subject (refs too on a terminal, as git's
            # auto decoration, so scripts reading it get "id subject"); --stat lines beneath.
            subject = commit.message.splitlines()[0] if commit.message else ""
            out.append(f"{paint(oid[:10], 'yellow', color)}{decoration if color else ''} {subject}")
            if stat:
                out.extend(stat_lines(commit, dataset) or ["  (no dataset changed)"])
            continue
        out.append(paint(f"commit {oid}", "yellow", color) + decoration)
        out.append(f"Author: {commit.author}")
        out.append(f"Date:   {commit.time}")
        out.append("")
        out.extend(f"    {line}" for line in commit.message.splitlines())
        if stat:
            out.append("")
            out.extend(stat_lines(commit, dataset) or ["  (no dataset changed)"])
        out.append("")
    return "\n".join(out).rstrip("\n")


def commit_text(oid: ObjectId, commit: Commit) -> str:
    lines = [
        f"commit {oid}",
        f"Author:  {commit.author}",
        f"Date:    {commit.time}",
        f"Parents: {', '.join(p[:10] for p in commit.parents) or '(none: first commit)'}",
        "",
        *(f"    {line}" for line in commit.message.splitlines()),
        "",
        "Datasets:",
    ]
    for name, ref in sorted(commit.datasets.items()):
        lines.append(f"  {name:<20} {ref.snapshot}")
    if commit.summary:
        lines += ["", "Changes:", *stat_lines(commit)]
    return "\n".join(lines)


def snapshot_json(manifest: Manifest) -> dict[str, Any]:
    """`show REV:NAME --json`: at least id, rows, columns [{name, type}], chunks."""
    return {
        "id": manifest.id,
        "name": manifest.name,
        "path": manifest.path,
        "kind": manifest.kind,
        "key": list(manifest.key),
        "rows": manifest.rows,
        "columns": [{"name": c["name"], "type": c["type"], "nullable": c["nullable"]} for c in manifest.columns],
        "chunks": [{"id": c.id, "object": c.object, "rows": c.rows, "bytes": c.bytes} for c in manifest.chunks],
        "files": [{"path": f.path, "id": f.id, "rows": f.rows, "chunks": len(f.chunks)} for f in manifest.files],
        "partitions": _partitions(manifest),
        "stats": {col: _public_stats(s) for col, s in manifest.stats.items()},
        "entity": manifest.entity,
        "source": manifest.source,
        "validated": manifest.validated,
    }


def _partitions(manifest: Manifest) -> list[dict[str, Any]]:
    """A folder's hive partition columns (`year=2024/`), as `Repo.read(partitions=True)` and
    `diff` add them after the files' own: name, type and the values the folder holds."""
    if manifest.kind != "folder" or not any("=" in f.path for f in manifest.files):
        return []  # no pyarrow for a folder without partition folders
    from datakeep.hashing import canonical_type
    from datakeep.partitions import file_partitions

    held = [c["name"] for c in manifest.columns]
    found = file_partitions([f.path for f in manifest.files], held=held)
    return [
        {"name": name, "type": canonical_type(values.type), "values": sorted(set(values.to_pylist()), key=_nulls_last)}
        for name, values in found.items()
    ]


def _nulls_last(value: Any) -> tuple[bool, Any]:
    return (value is None, value if value is not None else 0)


def _public_stats(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stats.items() if k not in ("sample", "m2", "numeric_count")}


def snapshot_text(manifest: Manifest) -> str:
    total_bytes = sum(c.bytes for c in manifest.chunks)
    lines = [
        f"snapshot {manifest.id}",
        f"dataset  {manifest.name} ({manifest.kind}: {manifest.path})",
        f"key      {', '.join(manifest.key) or '(none)'}",
        f"rows     {count(manifest.rows)}",
        f"chunks   {len(manifest.chunks)} ({human_bytes(total_bytes)} stored)",
    ]
    if manifest.kind == "folder":
        lines.append(f"files    {len(manifest.files)}")
    partitions = _partitions(manifest)
    if partitions:
        shown = ", ".join(f"{p['name']} ({p['type']}, {len(p['values'])} value(s))" for p in partitions)
        lines.append(f"partitions {shown}")
    if manifest.validated:
        lines.append(
            f"validated against {manifest.validated.get('entity')} ({manifest.validated.get('fingerprint', '')[:12]})"
        )
    lines += ["", f"{'column':<24} {'type':<28} {'nulls':>9} {'distinct':>9}  min … max / mean"]
    for column in manifest.columns:
        s = manifest.stats.get(column["name"], {})
        distinct = s.get("distinct")
        # Past 1,000 distinct values the count is the most one batch (or file) held: a floor.
        distinct_text = "" if distinct is None else (str(distinct) if s.get("distinct_exact") else f"≥{distinct}")
        summary = ""
        kind = column["type"]
        if "min" in s:
            low, high = (_statistic(kind, s[bound]) for bound in ("min", "max"))
            summary = f"{_short(low)} … {_short(high)}"
        if "mean" in s:
            mean = temporal_value(kind, s["mean"]) or f"{s['mean']:.4g}"
            spread = temporal_spread(kind, s.get("std", 0)) or f"{s.get('std', 0):.3g}"
            summary += f" / {mean}±{spread}"
        nulls = count(s.get("nulls", 0))
        name = column["name"] if column["name"].isprintable() else repr(column["name"])  # a tab or newline
        lines.append(f"{cut_middle(name, 24):<24} {kind[:28]:<28} {nulls:>9} {distinct_text:>9}  {summary}")
    return "\n".join(lines)


def _statistic(type_name: str, value: Any) -> Any:
    """A stored min or max as shown: a time of day or a duration in its own terms."""
    text = temporal_value(type_name, value)
    return value if text is None else text


def _short(value: Any, width: int = 24) -> str:
    text = str(value)
    return text if len(text) <= width else text[: width - 1] + "…"
