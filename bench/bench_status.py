"""Benchmark `status` over many unchanged Parquet files (issue 2: "status over 2,000 unchanged
Parquet files answers in well under a second"), beside DVC's `dvc status` on the same folder;
and, stated with no bar, the first commit of that folder beside `dvc add`.

A folder of FILES part files (hive partitions, ROWS rows each, the core bench's eight columns) is
tracked and committed by each tool, timed once each (`datakeep commit` after an untimed `add`,
`dvc add`). Then, alternating the tools, each status runs REPEAT times in a fresh process; the
medians are printed with their ratio. One file is then touched (new mtime, same bytes) and status
timed once more: datakeep re-hashes that file alone.

Usage: .venv/bin/python bench/bench_status.py [--files 2000] [--rows 500] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from core import find_datakeep, find_dvc
from data import base_table
from proc import run
from tools import child_env, compile_datakeep

BAR_SECONDS = 1.0
FOLDER = "events"


def write_parts(root: Path, files: int, rows: int) -> None:
    table = base_table(files * rows, seed=0)
    for index in range(files):
        part = root / FOLDER / f"day={index // 100:03d}" / f"part-{index:05d}.parquet"
        part.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table.slice(index * rows, rows), part)
    # Old enough for either tool's stat cache to trust (git's "racy" rule).
    for path in (root / FOLDER).rglob("*.parquet"):
        past = path.stat().st_mtime - 10
        os.utime(path, (past, past))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    datakeep, dvc = find_datakeep(None), find_dvc(None)
    compile_datakeep(datakeep.parent / "python")
    with tempfile.TemporaryDirectory(prefix="dk-status-") as scratch_name:
        scratch = Path(scratch_name)
        env = child_env(scratch)
        dk_root, dvc_root = scratch / "datakeep", scratch / "dvc"
        dk_root.mkdir()
        write_parts(dk_root, args.files, args.rows)
        shutil.copytree(dk_root, dvc_root, copy_function=shutil.copy2)  # same files, same mtimes
        run([str(datakeep), "init"], cwd=dk_root, env=env).check()
        run([str(datakeep), "add", FOLDER, "--name", FOLDER], cwd=dk_root, env=env).check()
        dk_commit = run([str(datakeep), "commit", "-m", "parts"], cwd=dk_root, env=env).check()
        run([str(dvc), "init", "--no-scm"], cwd=dvc_root, env=env).check()
        run([str(dvc), "config", "core.analytics", "false"], cwd=dvc_root, env=env).check()
        dvc_add = run([str(dvc), "add", FOLDER], cwd=dvc_root, env=env).check()
        timings: dict[str, list[float]] = {"datakeep": [], "dvc": []}
        for _ in range(args.repeat):
            done = run([str(datakeep), "status"], cwd=dk_root, env=env).check()
            assert "unchanged" in done.stdout, done.stdout
            timings["datakeep"].append(done.seconds)
            timings["dvc"].append(run([str(dvc), "status"], cwd=dvc_root, env=env).check().seconds)
        touched = dk_root / FOLDER / "day=000" / "part-00000.parquet"
        os.utime(touched)
        after_touch = run([str(datakeep), "status"], cwd=dk_root, env=env).check()
        index_bytes = (dk_root / ".datakeep" / "index.json").stat().st_size
    ours, theirs = statistics.median(timings["datakeep"]), statistics.median(timings["dvc"])
    print(f"status over {args.files:,} unchanged files of {args.rows:,} rows ({args.repeat} runs each, medians)")
    print(f"  datakeep status  {ours:6.3f} s   (runs: {', '.join(f'{t:.3f}' for t in timings['datakeep'])})")
    print(f"  dvc status       {theirs:6.3f} s   (runs: {', '.join(f'{t:.3f}' for t in timings['dvc'])})")
    print(f"  ratio datakeep/dvc {ours / theirs:.2f}x · index.json {index_bytes / 2**20:.1f} MiB")
    print(f"  after touching one file: datakeep status {after_touch.seconds:.3f} s (that file re-hashed)")
    print(
        f"  first commit of the folder (stated, no bar): datakeep commit {dk_commit.seconds:.2f} s,"
        f" dvc add {dvc_add.seconds:.2f} s, ratio {dk_commit.seconds / dvc_add.seconds:.2f}x"
    )
    verdict = "PASS" if ours <= BAR_SECONDS else "FAIL"
    bar = f"bar: well under {BAR_SECONDS:.1f} s"
    print(f"  {verdict}  status over {args.files:,} unchanged files: {ours:.3f} s ({bar})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
