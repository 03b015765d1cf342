"""Benchmark commits of a wide table (hundreds of columns, as ML feature tables have) beside DVC.

No issue sets a bar here; the figures are stated. A table of COLUMNS columns (a fifth each of
float64, int64 with 1,000 values, four-value strings, booleans and timestamps) and ROWS rows is
committed as version 1; version 2 then has 1% of its rows' float cells changed, 0.5% of rows
deleted and 0.5% inserted, scattered, as the core bench's edit chain does. Each run uses fresh
folders; the tools alternate, REPEAT runs each, and the medians are printed with their ratio.

Usage: .venv/bin/python bench/bench_wide.py [--columns 400] [--rows 200000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from core import find_datakeep, find_dvc
from proc import Run
from tools import DATA_FILE, Tool, alternating, child_env, compile_datakeep

KINDS = ("float", "int", "text", "bool", "time")


def wide_table(rows: int, columns: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    data: dict[str, pa.Array] = {"id": pa.array(np.arange(rows))}
    for i in range(columns - 1):
        kind = KINDS[i % len(KINDS)]
        if kind == "float":
            data[f"f{i}"] = pa.array(rng.normal(size=rows))
        elif kind == "int":
            data[f"i{i}"] = pa.array(rng.integers(0, 1000, rows))
        elif kind == "text":
            data[f"s{i}"] = pa.array(rng.choice(["alpha", "beta", "gamma", "delta"], rows))
        elif kind == "bool":
            data[f"b{i}"] = pa.array(rng.random(rows) < 0.5)
        else:
            data[f"t{i}"] = pa.array(rng.integers(0, 10**15, rows).astype("datetime64[us]"))
    return pa.table(data)


def edited(table: pa.Table, seed: int = 1) -> pa.Table:
    """1% of rows get new float cells, 0.5% are deleted and 0.5% inserted, in 20 places."""
    rng = np.random.default_rng(seed)
    keep = np.ones(table.num_rows, dtype=bool)
    keep[rng.choice(table.num_rows, table.num_rows // 200, replace=False)] = False
    table = table.filter(pa.array(keep))
    changed = rng.choice(table.num_rows, table.num_rows // 100, replace=False)
    for index, name in enumerate(table.column_names):
        if name.startswith("f"):
            values = table.column(name).to_numpy().copy()
            values[changed] += 1.0
            table = table.set_column(index, name, pa.array(values))
    inserted = table.slice(0, table.num_rows // 200)
    inserted = inserted.set_column(0, "id", pa.array(np.arange(10**9, 10**9 + inserted.num_rows)))
    places = np.sort(rng.choice(table.num_rows, 20, replace=False))
    step = inserted.num_rows // len(places)
    parts, last = [], 0
    for i, place in enumerate(places):
        parts += [table.slice(last, place - last), inserted.slice(i * step, step)]
        last = int(place)
    parts.append(table.slice(last))
    return pa.concat_tables(parts)


def one_run(tool: Tool, versions: list[Path]) -> tuple[list[Run], int]:
    """Commit each version in turn; the runs and the store's size after the last."""
    tool.init()
    runs = []
    for number, version in enumerate(versions, start=1):
        shutil.copyfile(version, tool.folder / DATA_FILE)
        runs.append(tool.commit(number))
    return runs, tool.store().apparent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--columns", type=int, default=400)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    datakeep, dvc = find_datakeep(None), find_dvc(None)
    compile_datakeep(datakeep.parent / "python")
    seconds: dict[str, list[list[float]]] = {"datakeep": [], "dvc": []}
    memory: dict[str, list[int]] = {"datakeep": [], "dvc": []}
    stored: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="dk-wide-") as scratch_name:
        scratch = Path(scratch_name)
        env = child_env(scratch)
        first = wide_table(args.rows, args.columns)
        versions = [scratch / "v01.parquet", scratch / "v02.parquet"]
        pq.write_table(first, versions[0])
        pq.write_table(edited(first), versions[1])
        file_bytes = versions[0].stat().st_size
        for tool in alternating(scratch, args.repeat, datakeep=datakeep, dvc=dvc, env=env):
            runs, stored[tool.name] = one_run(tool, versions)
            seconds[tool.name].append([r.seconds for r in runs])
            memory[tool.name].append(max(r.max_rss for r in runs))
    print(
        f"wide table: {args.columns} columns, {args.rows:,} rows, v1 file {file_bytes / 2**20:.1f} MiB"
        f" ({args.repeat} runs each, medians)"
    )
    print("                 commit v1   commit v2   peak memory   store after v2")
    medians = {}
    for name in ("datakeep", "dvc"):
        v1 = statistics.median(s[0] for s in seconds[name])
        v2 = statistics.median(s[1] for s in seconds[name])
        medians[name] = (v1, v2)
        print(
            f"  {name:<12} {v1:8.2f} s  {v2:8.2f} s  {max(memory[name]) / 2**30:8.2f} GiB"
            f"  {stored[name] / 2**20:10.1f} MiB ({stored[name] / file_bytes:.2f}x v1 file)"
        )
    (ours1, ours2), (theirs1, theirs2) = medians["datakeep"], medians["dvc"]
    print(f"  ratio datakeep/dvc: commit v1 {ours1 / theirs1:.2f}x, commit v2 {ours2 / theirs2:.2f}x (stated, no bar)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
