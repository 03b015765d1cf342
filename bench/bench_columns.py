"""Benchmark schema changes of a keyed table beside DVC: what adding and dropping a column costs.

No issue sets a bar here; the figures are stated. The core bench's table (ROWS rows, keyed by id)
is committed as version 1; version 2 adds a float64 column of random values (a new feature),
version 3 drops the `note` column. Each tool runs REPEAT times in fresh folders, alternating;
medians of the commit times, and each version's store growth, are printed with their ratio.

Usage: .venv/bin/python bench/bench_columns.py [--rows 1000000] [--repeat 2]
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
from data import base_table
from tools import DATA_FILE, Tool, alternating, child_env, compile_datakeep

STEPS = ("v1", "add a column", "drop a column")


def versions(rows: int) -> list[pa.Table]:
    first = base_table(rows, seed=0)
    added = first.append_column("score", pa.array(np.random.default_rng(7).normal(size=rows)))
    return [first, added, added.drop_columns(["note"])]


def one_run(tool: Tool, files: list[Path]) -> tuple[list[float], list[int]]:
    """Commit each version in turn: the commit times and the store's size after each."""
    tool.init()
    seconds, sizes = [], []
    for number, path in enumerate(files, start=1):
        shutil.copyfile(path, tool.folder / DATA_FILE)
        seconds.append(tool.commit(number).seconds)
        sizes.append(tool.store().apparent)
    return seconds, sizes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)
    datakeep, dvc = find_datakeep(None), find_dvc(None)
    compile_datakeep(datakeep.parent / "python")
    seconds: dict[str, list[list[float]]] = {"datakeep": [], "dvc": []}
    sizes: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory(prefix="dk-columns-") as scratch_name:
        scratch = Path(scratch_name)
        env = child_env(scratch)
        files = []
        for number, table in enumerate(versions(args.rows), start=1):
            files.append(scratch / f"v{number:02d}.parquet")
            pq.write_table(table, files[-1])
        for tool in alternating(scratch, args.repeat, datakeep=datakeep, dvc=dvc, env=env):
            times, sizes[tool.name] = one_run(tool, files)
            seconds[tool.name].append(times)
        file_bytes = [path.stat().st_size for path in files]
    print(f"schema changes of a keyed table: {args.rows:,} rows ({args.repeat} runs each, medians)")
    print("                   commit (s)           store growth (MiB)       growth / that version's file")
    print("  step             datakeep   dvc  ratio  datakeep      dvc       datakeep    dvc")
    for index, step in enumerate(STEPS):
        ours = statistics.median(run[index] for run in seconds["datakeep"])
        theirs = statistics.median(run[index] for run in seconds["dvc"])
        grown = {n: sizes[n][index] - (sizes[n][index - 1] if index else 0) for n in sizes}
        print(
            f"  {step:<16} {ours:7.2f} {theirs:7.2f} {ours / theirs:5.2f}x"
            f"  {grown['datakeep'] / 2**20:8.1f} {grown['dvc'] / 2**20:8.1f}"
            f"   {grown['datakeep'] / file_bytes[index]:8.2f}x {grown['dvc'] / file_bytes[index]:6.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
