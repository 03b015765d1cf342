"""Turn benchmark results into the printed report: per-version tables, then the issues' bars.

Every ratio is datakeep / DVC (below 1.0 means datakeep is faster or smaller). "Commit" compares
the total over versions 2–10, the new versions of a chain; version 1 is the initial import.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Result = dict[str, Any]
MB = 1_000_000
MIB = 1024 * 1024
GIB = 1024 * MIB
ONE_MILLION = 1_000_000


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of an issue: a measured value against a limit."""

    label: str
    value: float | None
    limit: float
    unit: str
    detail: str = ""

    def line(self) -> str:
        if self.value is None:
            status, shown = "n/a ", "not measured"
        else:
            status = "PASS" if self.value <= self.limit else "FAIL"
            shown = f"{_num(self.value)}{self.unit} (bar ≤ {_num(self.limit)}{self.unit})"
        extra = f"  [{self.detail}]" if self.detail else ""
        return f"  {status}  {self.label}: {shown}{extra}"


def _num(value: float) -> str:
    # Three decimals, so a value just over its bar never prints as equal to it.
    return f"{value:.3f}" if abs(value) < 100 else f"{value:,.0f}"


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing or b is zero."""
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    """Format a possibly-missing number."""
    if value is None:
        width = int(re.match(r"\d*", spec).group() or 0)  # type: ignore[union-attr]
        return "-".rjust(width + len(suffix)) if width else "-"
    return f"{value:{spec}}{suffix}"


def get(tree: Any, *path: Any) -> Any:
    """Walk nested dicts/lists, returning None as soon as a step is missing."""
    for step in path:
        if isinstance(tree, dict):
            tree = tree.get(step)
        elif isinstance(tree, list) and isinstance(step, int) and -len(tree) <= step < len(tree):
            tree = tree[step]
        else:
            return None
    return tree


def commit_totals(dk: Result | None, dvc: Result | None) -> tuple[float | None, float | None]:
    """Seconds summed over the new versions (2..10) of a chain, for both tools.

    Only versions both tools committed count (when one tool failed part-way, comparing its
    partial total with the other's full one would flatter it); a tool run alone counts all.
    """
    numbers = [{v["number"] for v in get(r, "versions") or [] if v["number"] > 1} for r in (dk, dvc) if r is not None]
    shared = set.intersection(*numbers) if numbers else set()
    if not shared:
        return None, None
    a, b = ([v["seconds"] for v in get(r, "versions") or [] if v["number"] in shared] for r in (dk, dvc))
    return (sum(a) if a else None), (sum(b) if b else None)


def base_file(chain: Result) -> float | None:
    """Size of version 1's Parquet file (the same for both tools)."""
    for result in chain.values():
        size = get(result, "versions", 0, "file_bytes")
        if size:
            return float(size)
    return None


def store_ratio(result: Result | None, base: float | None, index: int = -1) -> float | None:
    """Store size after a version, as a multiple of version 1's file."""
    return ratio(get(result, "versions", index, "store_bytes"), base)


def version_table(rows: int, chain: str, data: Result) -> Iterator[str]:
    """The per-version table for one size and chain."""
    dk, dvc = data.get("datakeep"), data.get("dvc")
    base = base_file(data)
    yield ""
    yield f"== {rows:,} rows · {chain} chain · v1 file {fmt(base and base / MB, '.1f')} MB =="
    yield (f"{'':25}{'commit time (s)':<26}{'store size (MB)':<26}{'store / v1 file':<20}{'peak memory (MiB)':<24}")
    yield (
        f"{'ver':>3} {'rows':>10} {'file MB':>8}  "
        + "   ".join(["datakeep    dvc  ratio"] * 2)
        + "   datakeep    dvc   datakeep    dvc  ratio"
    )
    count = max(len(get(dk, "versions") or []), len(get(dvc, "versions") or []))
    for i in range(count):
        yield _version_row(i, dk, dvc, base)
    for err in (get(dk, "error"), get(dvc, "error")):
        if err:
            yield f"  error: {err}"


def _version_row(i: int, dk: Result | None, dvc: Result | None, base: float | None) -> str:
    v = get(dk, "versions", i) or get(dvc, "versions", i)
    a_s, b_s = get(dk, "versions", i, "seconds"), get(dvc, "versions", i, "seconds")
    a_b, b_b = get(dk, "versions", i, "store_bytes"), get(dvc, "versions", i, "store_bytes")
    a_m, b_m = get(dk, "versions", i, "max_rss"), get(dvc, "versions", i, "max_rss")
    return (
        f"v{v['number']:02.0f} {v['rows']:>10,.0f} {v['file_bytes'] / MB:>8.1f}  "
        f"{fmt(a_s, '8.2f')} {fmt(b_s, '6.2f')} {fmt(ratio(a_s, b_s), '5.2f', 'x')}   "
        f"{fmt(a_b and a_b / MB, '8.1f')} {fmt(b_b and b_b / MB, '6.1f')} "
        f"{fmt(ratio(a_b, b_b), '5.2f', 'x')}   "
        f"{fmt(ratio(a_b, base), '7.2f', 'x')} {fmt(ratio(b_b, base), '6.2f', 'x')}   "
        f"{fmt(a_m and a_m / MIB, '8.0f')} {fmt(b_m and b_m / MIB, '6.0f')} "
        f"{fmt(ratio(a_m, b_m), '5.2f', 'x')}"
    )


def chain_notes(data: Result) -> Iterator[str]:
    """The after-chain lines: totals, re-commit, restore and read."""
    dk, dvc = data.get("datakeep"), data.get("dvc")
    a, b = commit_totals(dk, dvc)
    worst = _worst_commit_ratio(dk, dvc)
    yield (
        f"commit v2–v10 total (versions both committed): datakeep {fmt(a, '.2f', ' s')}, dvc {fmt(b, '.2f', ' s')}, "
        f"ratio {fmt(ratio(a, b), '.2f', 'x')} (worst single version "
        f"{fmt(worst, '.2f', 'x')}); datakeep add (before v1 commit) "
        f"{fmt(get(dk, 'add', 'seconds'), '.2f', ' s')}"
    )
    yield (
        f"re-commit unchanged: datakeep {fmt(get(dk, 'recommit_unchanged', 'seconds'), '.2f')} s"
        f", dvc {fmt(get(dvc, 'recommit_unchanged', 'seconds'), '.2f')} s · same bytes "
        f"rewritten: datakeep {fmt(get(dk, 'recommit_rewritten', 'seconds'), '.2f')} s "
        f"(+{fmt(get(dk, 'recommit_rewritten', 'store_added'), ',.0f')} B stored), dvc "
        f"{fmt(get(dvc, 'recommit_rewritten', 'seconds'), '.2f')} s "
        f"(+{fmt(get(dvc, 'recommit_rewritten', 'store_added'), ',.0f')} B)"
    )
    yield _restore_line(dk, dvc)
    for key, label in (("read_oldest", "v01"), ("read_newest", "v10")):
        ours, theirs = get(dk, key, "repo_read"), get(dk, key, "read_table")
        yield (
            f"repo.read {label}: {fmt(ours, '.3f')} s vs pyarrow read_table "
            f"{fmt(theirs, '.3f')} s, ratio {fmt(ratio(ours, theirs), '.2f', 'x')}"
            f"{_equal_note(get(dk, key, 'equal'))}"
        )


def _restore_line(dk: Result | None, dvc: Result | None) -> str:
    parts = []
    for key, label in (("restore_oldest", "oldest v01"), ("restore_newest", "newest v10")):
        a, b = get(dk, key, "seconds"), get(dvc, key, "seconds")
        parts.append(
            f"{label}: datakeep {fmt(a, '.2f')} s, dvc {fmt(b, '.2f')} s, ratio {fmt(ratio(a, b), '.2f', 'x')}"
        )
    spread = [f"{name} {fmt(_restore_spread(r), '.2f', 'x')}" for name, r in (("datakeep", dk), ("dvc", dvc))]
    equal = [get(r, k, "equal") for r in (dk, dvc) for k in ("restore_oldest", "restore_newest")]
    checked = [e for e in equal if e is not None]
    verdict = ""
    if checked:
        verdict = " · restored files equal the originals"
        if not all(checked):
            verdict = " · RESTORED FILE DIFFERS FROM THE ORIGINAL"
    return f"restore {'; '.join(parts)} · oldest/newest: {', '.join(spread)}{verdict}"


def _restore_spread(result: Result | None) -> float | None:
    """Restore time of the oldest version over that of the newest."""
    return ratio(get(result, "restore_oldest", "seconds"), get(result, "restore_newest", "seconds"))


def _equal_note(equal: bool | None) -> str:
    if equal is None:
        return ""
    return " · equal" if equal else " · TABLES DIFFER"


def _worst_commit_ratio(dk: Result | None, dvc: Result | None) -> float | None:
    pairs = zip(get(dk, "versions") or [], get(dvc, "versions") or [], strict=False)
    ratios = [ratio(a["seconds"], b["seconds"]) for a, b in pairs if a["number"] > 1]
    present = [r for r in ratios if r is not None]
    return max(present) if present else None


def issue2_bars(results: Result) -> Iterator[Bar]:
    """The bars of issue 2 (core), one line per size (and chain where it matters)."""
    for rows_key, chains in results.items():
        rows = int(rows_key)
        size = f"{rows:,} rows"
        for chain, limit in (("append", 1.0), ("edit", 1.5)):
            if chain in chains:
                dk, dvc = chains[chain].get("datakeep"), chains[chain].get("dvc")
                yield Bar(
                    f"commit, {chain} chain, {size}, datakeep/dvc",
                    ratio(*commit_totals(dk, dvc)),
                    limit,
                    "x",
                    "total over v2–v10, start-up included",
                )
        recommits = [get(c, "datakeep", "recommit_unchanged", "seconds") for c in chains.values()]
        present = [r for r in recommits if r is not None]
        yield Bar(
            f"re-commit of unchanged data, {size}",
            max(present) if present else None,
            0.3,
            " s",
            "worst chain",
        )
        if "append" in chains:
            data = chains["append"]
            base = base_file(data)
            dvc_ratio = store_ratio(data.get("dvc"), base)
            yield Bar(
                f"append store after 10 versions / v1 file, {size}",
                store_ratio(data.get("datakeep"), base),
                1.2,
                "x",
                f"dvc {fmt(dvc_ratio, '.2f', 'x')}",
            )
        for chain, data in chains.items():
            a = get(data, "datakeep", "restore_oldest", "seconds")
            b = get(data, "dvc", "restore_oldest", "seconds")
            note = "the bar" if rows == ONE_MILLION else "stated; the bar is at 1M rows"
            yield Bar(
                f"checkout oldest, {chain} chain, {size}, datakeep/dvc",
                ratio(a, b),
                1.5,
                "x",
                f"{fmt(a, '.2f')} s vs {fmt(b, '.2f')} s; {note}",
            )
        reads = [
            ratio(get(data, "datakeep", key, "repo_read"), get(data, "datakeep", key, "read_table"))
            for data in chains.values()
            for key in ("read_oldest", "read_newest")
        ]
        present_reads = [r for r in reads if r is not None]
        yield Bar(
            f"repo.read / read_table, {size}",
            max(present_reads) if present_reads else None,
            1.5,
            "x",
            "worst of oldest/newest over chains",
        )
        peaks = [v["max_rss"] for data in chains.values() for v in get(data, "datakeep", "versions") or []]
        note = "the bar" if rows >= 5 * ONE_MILLION else "stated; the bar is at 5M rows"
        yield Bar(
            f"peak memory of a commit, {size}",
            max(peaks) / GIB if peaks else None,
            1.0,
            " GiB",
            f"worst version; {note}",
        )


def issue7_bars(results: Result) -> Iterator[Bar]:
    """The bars of issue 7 (patch storage)."""
    for rows_key, chains in results.items():
        size = f"{int(rows_key):,} rows"
        for chain, limit in (("edit", 1.3), ("append", 1.15)):
            if chain in chains:
                data = chains[chain]
                base = base_file(data)
                yield Bar(
                    f"{chain} store after 10 versions / v1 file, {size}",
                    store_ratio(data.get("datakeep"), base),
                    limit,
                    "x",
                    f"dvc {fmt(store_ratio(data.get('dvc'), base), '.2f', 'x')}",
                )
        for chain, data in chains.items():
            old = get(data, "datakeep", "restore_oldest", "seconds")
            new = get(data, "datakeep", "restore_newest", "seconds")
            yield Bar(
                f"restore oldest / newest, {chain} chain, {size}",
                ratio(old, new),
                1.5,
                "x",
                f"{fmt(old, '.2f')} s vs {fmt(new, '.2f')} s",
            )
            a, b = commit_totals(data.get("datakeep"), data.get("dvc"))
            yield Bar(f"commit, {chain} chain, {size}, datakeep/dvc", ratio(a, b), 1.0, "x")


def store_growth(results: Result) -> Iterator[str]:
    """Store size after each version as a multiple of version 1's file, both tools (issue 7)."""
    yield ""
    yield "store / v1 file after each version"
    header = "".join(f"{f'v{i:02d}':>7}" for i in range(1, 11))
    yield f"{'rows':>10} {'chain':<7}{'tool':<9}{header}"
    for rows_key, chains in results.items():
        for chain, data in chains.items():
            base = base_file(data)
            for tool in ("datakeep", "dvc"):
                versions = get(data, tool, "versions") or []
                if versions:
                    cells = "".join(f"{fmt(ratio(v['store_bytes'], base), '6.2f')}x" for v in versions)
                    yield f"{int(rows_key):>10,} {chain:<7}{tool:<9}{cells}"


def render(meta: Result, results: Result) -> list[str]:
    """The whole printed report."""
    lines = [
        f"datakeep vs DVC · {meta['machine']} · python {meta['python']} · "
        f"datakeep {meta.get('datakeep_version')} · dvc {meta.get('dvc_version')} · "
        f"median of {meta['repeat']} run(s) · ratios are datakeep/dvc",
    ]
    for rows_key, chains in results.items():
        for chain, data in chains.items():
            lines.extend(version_table(int(rows_key), chain, data))
            lines.extend(chain_notes(data))
    lines.extend(store_growth(results))
    lines += ["", "issue 2 (core) bars"]
    lines.extend(bar.line() for bar in issue2_bars(results))
    lines += ["", "issue 7 (patch storage) bars"]
    lines.extend(bar.line() for bar in issue7_bars(results))
    return lines


def main(argv: list[str]) -> int:
    """Print the report of a saved results file: ``python bench/report.py bench/out/latest.json``."""
    document = json.loads(Path(argv[0]).read_text())
    results = document.get("median") or median_of_runs(document["runs"])
    print("\n".join(render(document["meta"], results)))
    return 0


def median_of_runs(runs: list[Result]) -> Result:
    """The median tree of a partial results file (imported late: core imports this module)."""
    from core import median_tree

    return dict(median_tree(runs))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
