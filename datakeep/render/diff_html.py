"""The HTML form of a `DiffResult`: one self-contained page (inline CSS and SVG, no scripts,
no network), also what a notebook shows for a `DiffResult`.

Per dataset: the row summary, schema changes, cells changed per column as a bar chart, drift
scores, each drifted column's two distributions side by side, and sample rows.
"""

from __future__ import annotations

from html import escape
from typing import Any

from datakeep.diff.result import ColumnDiff, DatasetDiff, DiffResult
from datakeep.ids import shown_revision
from datakeep.render.style import cell_text, told_apart
from datakeep.render.temporal import temporal_value

OLD_COLOR = "#8c9bab"
NEW_COLOR = "#2f6fdf"
_STATUS_COLOR = {
    "identical": "#1f883d",
    "unchanged": "#1f883d",
    "changed": "#bf8700",
    "added": "#0969da",
    "removed": "#cf222e",
}
_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2328;margin:0;background:#f6f8fa}
.dk{max-width:1100px;margin:0 auto;padding:24px}
.dk h1{font-size:22px;margin:0 0 4px}.dk h1 code{font-size:18px}.dk h2{font-size:18px;margin:0}
.dk h3{font-size:15px;margin:20px 0 8px}
.dk .sub{color:#59636e;margin-bottom:18px}
.dk .card{background:#fff;border:1px solid #d1d9e0;border-radius:8px;padding:18px 20px;margin-bottom:20px}
.dk .badge{display:inline-block;color:#fff;border-radius:12px;padding:1px 10px;font-size:12px;margin-left:8px;
vertical-align:middle}
.dk .tiles{display:flex;gap:12px;flex-wrap:wrap;margin-top:14px}
.dk .tile{flex:1;min-width:130px;border:1px solid #d1d9e0;border-radius:6px;padding:8px 12px}
.dk .tile b{display:block;font-size:18px;white-space:nowrap}.dk .tile span{color:#59636e;font-size:12px}
.dk table{border-collapse:collapse;width:100%}
.dk td,.dk th{text-align:left;padding:4px 8px;border-bottom:1px solid #eef1f4;vertical-align:top}
.dk th{color:#59636e;font-weight:600;font-size:12px}
.dk td.n{text-align:right;font-variant-numeric:tabular-nums}
.dk .mod{color:#bf8700}.dk .major{color:#cf222e;font-weight:600}.dk .add{color:#1f883d}.dk .rem{color:#cf222e}
.dk code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f6f8fa;padding:1px 4px;border-radius:4px}
.dk .dists{display:flex;flex-wrap:wrap;gap:16px}
.dk .dist{border:1px solid #eef1f4;border-radius:6px;padding:8px}
.dk .legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;border-radius:2px}
.dk .fail{background:#fff1f0;border-color:#f5c2c0}.dk .note{color:#59636e;font-size:12px}
.dk code.v{white-space:pre-wrap;word-break:break-all}
"""


def render_html(result: DiffResult, *, fragment: bool = False) -> str:
    """The report as a full HTML page, or (``fragment``) as a block a notebook can embed."""
    old, new = escape(shown_revision(result.old)), escape(shown_revision(result.new))
    body = [
        '<div class="dk">',
        f"<h1>datakeep diff <code>{old}</code> → <code>{new}</code></h1>",
        f'<div class="sub">{len(result.datasets)} dataset(s) compared; '
        f"{'changes found' if result.changed else 'no changes'}</div>",
    ]
    if result.failures:
        items = "".join(f"<li>{escape(f)}</li>" for f in result.failures)
        body.append(f'<div class="card fail"><h2>Failed conditions</h2><ul>{items}</ul></div>')
    body.extend(_dataset(d) for d in result.datasets)
    body.append("</div>")
    inner = f"<style>{_CSS}</style>" + "\n".join(body)
    if fragment:
        return inner
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>datakeep diff {old} → {new}</title>"
        f"</head><body>{inner}</body></html>\n"
    )


def _dataset(d: DatasetDiff) -> str:
    color = _STATUS_COLOR.get(d.status, "#59636e")
    by = {
        "key": f"matched by key <code>{escape(', '.join(d.key))}</code>",
        "row": "matched by whole row",
        "id": {"added": "only in the new version", "removed": "only in the old version"}.get(
            d.status, "same snapshot id"
        ),
    }
    parts = [
        '<div class="card">',
        f'<h2>{escape(d.name)}<span class="badge" style="background:{color}">{escape(d.status)}</span></h2>',
        f'<div class="note">{by[d.matched_by]}</div>',
        _tiles(d),
        _schema(d),
        _problems(d),
        _cells_chart(d),
        _drift(d),
        _samples(d),
    ]
    parts += [f'<p class="note">{escape(n)}</p>' for n in d.notes]
    parts.append("</div>")
    return "\n".join(p for p in parts if p)


def _tiles(d: DatasetDiff) -> str:
    r = d.rows
    tiles = [
        ("rows", f"{r.old:,} → {r.new:,}", ""),
        ("added", f"+{r.added:,}", "add"),
        ("removed", f"−{r.removed:,}", "rem"),
        ("modified", "n/a" if r.modified is None else f"~{r.modified:,}", "mod"),
        ("unchanged", f"{r.unchanged:,}", ""),
    ]
    cells = "".join(f'<div class="tile"><b class="{c}">{escape(v)}</b><span>{k}</span></div>' for k, v, c in tiles)
    return f'<div class="tiles">{cells}</div>'


def _schema(d: DatasetDiff) -> str:
    s = d.schema
    rows: list[str] = []
    rows += [f'<tr><td class="add">added</td><td><code>{escape(c)}</code></td><td></td></tr>' for c in s.added]
    rows += [f'<tr><td class="rem">removed</td><td><code>{escape(c)}</code></td><td></td></tr>' for c in s.removed]
    rows += [
        f'<tr><td class="mod">type changed</td><td><code>{escape(t.column)}</code></td>'
        f"<td>{escape(t.old)} → {escape(t.new)}</td></tr>"
        for t in s.type_changed
    ]
    rows += [
        f'<tr><td class="mod">nullability</td><td><code>{escape(t.column)}</code></td>'
        f"<td>{escape(t.old)} → {escape(t.new)}</td></tr>"
        for t in s.nullability_changed
    ]
    rows += [
        f'<tr><td class="mod">renamed{" (candidate)" if r.how == "candidate" else ""}</td>'
        f"<td><code>{escape(r.old)}</code> → <code>{escape(r.new)}</code></td><td></td></tr>"
        for r in s.renamed
    ]
    if s.reordered:
        rows.append('<tr><td class="mod">reordered</td><td>columns are in a new order</td><td></td></tr>')
    if d.status in ("added", "removed"):
        return ""
    if not rows:
        return "<h3>Schema</h3><p class='note'>no schema changes</p>"
    return "<h3>Schema changes</h3><table>" + "".join(rows) + "</table>"


def _problems(d: DatasetDiff) -> str:
    if not d.key_problems:
        return ""
    rows = "".join(
        f"<tr><td>{escape(p.side)}</td><td class='n'>{p.duplicate_keys:,}</td><td class='n'>{p.duplicate_rows:,}</td>"
        f"<td class='n'>{p.null_keys:,}</td><td>{escape(str(list(p.examples)[:3]))}</td></tr>"
        for p in d.key_problems
    )
    return (
        "<h3>Key problems</h3><table><tr><th>side</th><th>duplicated keys</th><th>rows</th><th>null keys</th>"
        f"<th>examples</th></tr>{rows}</table>"
    )


def _cells_chart(d: DatasetDiff) -> str:
    counted = [c for c in d.columns if c.modified is not None and c.name not in d.key]
    if not counted or d.status == "identical":
        return ""
    top = max(max(c.modified or 0 for c in counted), 1)
    label_w, bar_w, row_h = 180, 560, 22
    height = row_h * len(counted) + 8
    bars = []
    for i, c in enumerate(counted):
        y = 4 + i * row_h
        w = 0 if not c.modified else max(2, round(bar_w * c.modified / top))
        bars.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end" font-size="12">{escape(_cut(c.name, 24))}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row_h - 8}" rx="2" fill="{NEW_COLOR}"/>'
            f'<text x="{label_w + w + 6}" y="{y + 15}" font-size="12" fill="#59636e">{c.modified:,}</text>'
        )
    svg = (
        f'<svg role="img" aria-label="cells changed per column" width="{label_w + bar_w + 90}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui,sans-serif">{"".join(bars)}</svg>'
    )
    return f"<h3>Cells changed per column</h3>{svg}"


def _drift(d: DatasetDiff) -> str:
    scored = [c for c in d.columns if c.drift is not None]
    if not (scored or any(c.drift_reason for c in d.columns)) or d.status == "identical":
        return ""
    rows = []
    for c in d.columns:
        if c.drift is None and not c.stats_from and not c.stats_to:
            continue
        css = {"major": "major", "moderate": "mod"}.get(c.drift_level or "", "")
        score = ("n/a" if c.drift_reason else "") if c.drift is None else f"{c.drift:.3f}"
        said = c.drift_level or c.drift_reason or ""
        rows.append(
            f"<tr><td><code>{escape(c.name)}</code></td><td>{escape(c.type)}</td>"
            f"<td class='n'>{_nulls(c.stats_from)}</td><td class='n'>{_nulls(c.stats_to)}</td>"
            f"<td class='n'>{_mean(c.stats_from, c.type)}</td><td class='n'>{_mean(c.stats_to, c.type)}</td>"
            f"<td class='n {css}'>{score}</td><td class='{css}'>{escape(said)}</td></tr>"
        )
    table = (
        "<h3>Statistics and drift</h3><table><tr><th>column</th><th>type</th><th>null % before</th>"
        "<th>null % after</th><th>mean before</th><th>mean after</th><th>PSI</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
    )
    drifted = [c for c in scored if c.drift_level in ("moderate", "major") and c.distribution]
    caption = "Distributions of drifted columns (PSI ≥ 0.1)"
    if not drifted:
        drifted = sorted((c for c in scored if c.distribution), key=lambda c: -(c.drift or 0))[:2]
        caption = "No column drifted (PSI < 0.1); the largest scores"
    if not drifted:
        return table
    legend = (
        f'<div class="legend note"><span style="background:{OLD_COLOR}"></span>from'
        f'<span style="background:{NEW_COLOR}"></span>to</div>'
    )
    charts = "".join(_distribution(c) for c in drifted)
    return f'{table}<h3>{escape(caption)}</h3>{legend}<div class="dists">{charts}</div>'


def _distribution(c: ColumnDiff) -> str:
    """Two bar charts side by side, same scale: the column's share of rows per bin, before and after."""
    assert c.distribution is not None
    labels, before, after = c.distribution["labels"], c.distribution["from"], c.distribution["to"]
    top = max([*before, *after, 1e-9])
    panel_w, height, pad = 210, 140, 20
    step = panel_w / max(len(labels), 1)
    panels = []
    for offset, shares, fill, title in ((0, before, OLD_COLOR, "from"), (panel_w + 24, after, NEW_COLOR, "to")):
        bars = []
        for i, (label, share) in enumerate(zip(labels, shares, strict=True)):
            h = (height - pad) * share / top
            x = offset + i * step
            bars.append(
                f'<rect x="{x + 1:.1f}" y="{height - h:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
                f'fill="{fill}"><title>{escape(str(label))}: {share:.1%}</title></rect>'
            )
        panels.append(
            f'<text x="{offset}" y="12" font-size="12" fill="#59636e">{title}</text>'
            f'<line x1="{offset}" x2="{offset + panel_w}" y1="{height}" y2="{height}" stroke="#d1d9e0"/>'
            + "".join(bars)
        )
    svg = (
        f'<svg width="{2 * panel_w + 24}" height="{height + 4}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="system-ui,sans-serif">{"".join(panels)}</svg>'
    )
    level = f" — {c.drift_level}" if c.drift_level in ("moderate", "major") else ""
    title = f"<div><code>{escape(c.name)}</code> PSI {c.drift:.3f}{escape(level)}</div>"
    ends = f'<div class="note">{escape(str(labels[0]))} … {escape(str(labels[-1]))}</div>'
    return f'<div class="dist">{title}{svg}{ends}</div>'


def _samples(d: DatasetDiff) -> str:
    if not d.samples:
        return ""
    rows = []
    for s in d.samples:
        key = ", ".join(f"{k}={cell_text(v, 40)}" for k, v in s.key.items())
        if s.kind == "modified":
            # Values as the text report writes them (text quoted, invisible characters escaped),
            # in a cell that keeps their spaces: a browser would otherwise collapse 'a  b' into
            # 'a b' and drop a trailing space, and a changed row would show two equal values.
            change = "<br>".join(
                '<code>{}</code>: <code class="v">{}</code> → <b><code class="v">{}</code></b>'.format(
                    escape(col), *map(escape, told_apart(a, b, (cell_text(a, 40), cell_text(b, 40)), cell_text))
                )
                for col, a, b in s.changes
            )
        else:
            change = ""
        css = {"added": "add", "removed": "rem", "modified": "mod"}[s.kind]
        rows.append(f"<tr><td class='{css}'>{s.kind}</td><td><code>{escape(key)}</code></td><td>{change}</td></tr>")
    return "<h3>Sample rows</h3><table><tr><th></th><th>key</th><th>old → new</th></tr>" + "".join(rows) + "</table>"


def _nulls(stats: dict[str, Any]) -> str:
    if not stats.get("count"):
        return ""
    return f"{100 * stats.get('nulls', 0) / stats['count']:.1f}"


def _mean(stats: dict[str, Any], type_name: str) -> str:
    mean = stats.get("mean")
    if not isinstance(mean, (int, float)):
        return ""
    return escape(temporal_value(type_name, mean) or f"{mean:.4g}")


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
