"""Benchmark `datakeep diff` against DuckDB and datacompy on the edit chain (issue 3).

For each size: versions 1, 2 and 10 of the ``edit`` chain (``bench/data.py``: each version
modifies 1% of rows, deletes 0.5%, inserts 0.5%) are committed to a fresh repository (untimed,
tracked with ``--key id``). Then, each as its own measured process (start-up included, peak RSS
from ``wait4`` via ``bench/proc.py``):

* ``datakeep diff v1 v2 --json`` and ``v1 v10`` (by key), and ``v1 v1`` (identical versions);
* DuckDB: ``FULL OUTER JOIN ... ON a.id = b.id`` with ``IS DISTINCT FROM`` per column, over the
  two versions' Parquet files;
* datacompy 1.x with its polars backend (``PolarsCompare``) on the same two files.

All three must agree exactly: rows added, removed and modified, and changed cells per column.
Bars (issue 3): datakeep ≤ 1.0× DuckDB's time, peak memory ≤ 0.5× DuckDB's, identical ≤ 0.2 s.

Usage::

    .venv/bin/python bench/bench_diff.py --rows 1000000 --rows 5000000 [--data DIR] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from data import generate_chain  # noqa: E402
from proc import run  # noqa: E402
from tools import compile_datakeep  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
DATAKEEP = str(ROOT / ".venv" / "bin" / "datakeep")
KEY = "id"
PAIRS = ((1, 2), (1, 10))


# -- the oracles, each run as its own process (`bench_diff.py --oracle NAME A B`) -------------------


def duckdb_counts(a: str, b: str) -> dict[str, Any]:
    """Counts from one DuckDB query: FULL OUTER JOIN on the key, IS DISTINCT FROM per column."""
    import duckdb

    con = duckdb.connect()
    columns = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{a}')").fetchall() if r[0] != KEY]
    both = f"a.{KEY} IS NOT NULL AND b.{KEY} IS NOT NULL"
    differs = [f'a."{c}" IS DISTINCT FROM b."{c}"' for c in columns]
    select = [
        f"count(*) FILTER (WHERE a.{KEY} IS NULL)",
        f"count(*) FILTER (WHERE b.{KEY} IS NULL)",
        f"count(*) FILTER (WHERE {both} AND ({' OR '.join(differs)}))",
        *(f"count(*) FILTER (WHERE {both} AND {d})" for d in differs),
    ]
    query = (
        f"SELECT {', '.join(select)} FROM read_parquet('{a}') a "
        f"FULL OUTER JOIN read_parquet('{b}') b ON a.{KEY} = b.{KEY}"
    )
    row = con.execute(query).fetchone()
    assert row is not None
    added, removed, modified, *cells = row
    return {"added": added, "removed": removed, "modified": modified, "cells": dict(zip(columns, cells, strict=True))}


def datacompy_counts(a: str, b: str) -> dict[str, Any]:
    """Counts from datacompy's polars backend (exact comparison: abs_tol = rel_tol = 0)."""
    import datacompy
    import polars as pl

    compare = datacompy.PolarsCompare(pl.read_parquet(a), pl.read_parquet(b), join_columns=KEY)
    cells = {s["column"]: int(s["unequal_cnt"]) for s in compare.column_stats if s["column"] != KEY}
    return {
        "added": compare.df2_unq_rows.height,
        "removed": compare.df1_unq_rows.height,
        "modified": compare.intersect_rows.height - compare.count_matching_rows(),
        "cells": cells,
    }


def datakeep_counts(document: dict[str, Any]) -> dict[str, Any]:
    (dataset,) = document["datasets"]
    rows = dataset["rows"]
    cells = {c: v["modified"] for c, v in dataset["columns"].items() if c != KEY}
    return {"added": rows["added"], "removed": rows["removed"], "modified": rows["modified"], "cells": cells}


# -- the harness ---------------------------------------------------------------------------------


def measure(argv: list[str], cwd: Path) -> tuple[float, int, str]:
    result = run(argv, cwd=cwd).check()
    return result.seconds, result.max_rss, result.stdout


def setup_repo(folder: Path, versions: dict[int, Path]) -> None:
    """Commit the versions to a fresh repository (untimed), tagged v1, v2, v10."""
    folder.mkdir(parents=True)
    data = folder / "data.parquet"
    run([DATAKEEP, "init"], cwd=folder).check()
    for number in sorted(versions):
        shutil.copyfile(versions[number], data)
        if number == min(versions):
            run([DATAKEEP, "add", "data.parquet", "--name", "data", "--key", KEY], cwd=folder).check()
        run([DATAKEEP, "commit", "-m", f"v{number}"], cwd=folder).check()
        run([DATAKEEP, "tag", f"v{number}"], cwd=folder).check()


def bench_size(rows: int, data_root: Path, scratch: Path, repeat: int) -> list[dict[str, Any]]:
    chain = {v.number: v.path for v in generate_chain(data_root, rows, "edit")}
    wanted = {n: chain[n] for n in sorted({n for pair in PAIRS for n in pair})}
    repo = scratch / f"repo-{rows}"
    started = time.perf_counter()
    setup_repo(repo, wanted)
    print(f"[{rows:,} rows] repository set up in {time.perf_counter() - started:.1f}s", flush=True)
    out = []
    for old, new in PAIRS:
        a, b = str(wanted[old].resolve()), str(wanted[new].resolve())
        timings: dict[str, list[tuple[float, int]]] = {"datakeep": [], "duckdb": [], "datacompy": []}
        answers: dict[str, dict[str, Any]] = {}
        for _ in range(repeat):
            # Alternate the tools within each round so a noisy neighbour slows all of them.
            seconds, rss, stdout = measure([DATAKEEP, "diff", f"v{old}", f"v{new}", "--json", "--sample", "0"], repo)
            timings["datakeep"].append((seconds, rss))
            answers["datakeep"] = datakeep_counts(json.loads(stdout))
            for oracle in ("duckdb", "datacompy"):
                seconds, rss, stdout = measure([PY, __file__, "--oracle", oracle, a, b], repo)
                timings[oracle].append((seconds, rss))
                answers[oracle] = json.loads(stdout)
        agree = answers["datakeep"] == answers["duckdb"] == answers["datacompy"]
        out.append({"rows": rows, "pair": f"v{old}→v{new}", "timings": timings, "answers": answers, "agree": agree})
        report(out[-1:])
    # A start-up-sized figure on a shared machine: more runs for a steady median.
    identical = [measure([DATAKEEP, "diff", "v1", "v1", "--json"], repo)[:2] for _ in range(max(repeat, 7))]
    out.append({"rows": rows, "pair": "v1→v1 (identical)", "timings": {"datakeep": identical}, "agree": True})
    report(out[-1:])
    return out


def report(results: list[dict[str, Any]]) -> None:
    """A table of median times, peak memory and ratios to DuckDB, and whether the counts agree."""
    print(flush=True)
    header = (
        f"{'rows':>10} {'pair':<18} {'tool':<10} {'seconds':>8} {'peak MiB':>9} {'×duckdb t':>10} {'×duckdb mem':>12}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        med = {tool: (statistics.median(s for s, _ in t), max(m for _, m in t)) for tool, t in r["timings"].items()}
        base = med.get("duckdb")
        for tool, (seconds, rss) in med.items():
            ratio_t = f"{seconds / base[0]:.2f}" if base else ""
            ratio_m = f"{rss / base[1]:.2f}" if base else ""
            mib = rss / 2**20
            line = f"{r['rows']:>10,} {r['pair']:<18} {tool:<10} {seconds:>8.3f} {mib:>9.0f}"
            print(f"{line} {ratio_t:>10} {ratio_m:>12}")
        if "answers" in r:
            a = r["answers"]["datakeep"]
            verdict = "agree exactly" if r["agree"] else "DISAGREE"
            print(f"{'':>10} {'':<18} counts: +{a['added']:,} -{a['removed']:,} ~{a['modified']:,} cells {a['cells']}")
            print(f"{'':>10} {'':<18} datakeep / duckdb / datacompy: {verdict}")
            if not r["agree"]:
                print(json.dumps(r["answers"], indent=1))
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="repeatable; default 1000000")
    parser.add_argument("--data", type=Path, default=HERE / "work" / "data")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the scratch repositories")
    parser.add_argument("--oracle", nargs=3, metavar=("NAME", "A", "B"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.oracle:
        name, a, b = args.oracle
        print(json.dumps((duckdb_counts if name == "duckdb" else datacompy_counts)(a, b)))
        return 0
    compile_datakeep(PY)
    scratch = Path(tempfile.mkdtemp(prefix="dk-bench-diff-"))
    try:
        results = []
        for rows in args.rows or [1_000_000]:
            results += bench_size(rows, args.data, scratch, args.repeat)
        print("\n== all results ==")
        report(results)
        return 0 if all(r["agree"] for r in results) else 1
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
