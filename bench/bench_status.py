"""Benchmark `status` over many unchanged Parquet files (issue 2: "status over 2,000 unchanged
Parquet files answers in well under a second"), beside DVC's `dvc status` on the same folder;
and, stated with no bar, the first commit of that folder beside `dvc add`, then a commit after
one part file is edited (a version of a large folder that costs what changed: its time and what it
adds to the store, beside `dvc add` and the growth of DVC's cache).

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

import pyarrow as pa
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


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def edit_one_file(dk_root: Path, dvc_root: Path, files: int) -> dict[str, float]:
    """Change one value of the middle part file in both trees, then time each tool's commit of
    the folder and measure what it added to its store."""
    datakeep, dvc = find_datakeep(None), find_dvc(None)
    env = child_env(dk_root.parent)
    middle = files // 2
    inner = Path(FOLDER) / f"day={middle // 100:03d}" / f"part-{middle:05d}.parquet"
    table = pq.read_table(dk_root / inner)
    values = table.column(0).to_pylist()
    values[0] = (values[0] or 0) + 1
    edited = table.set_column(0, table.field(0), pa.array(values, table.field(0).type))
    for root in (dk_root, dvc_root):
        pq.write_table(edited, root / inner)
    dk_store, dvc_cache = dk_root / ".datakeep" / "objects", dvc_root / ".dvc" / "cache"
    dk_before, dvc_before = folder_bytes(dk_store), folder_bytes(dvc_cache)
    dk = run([str(datakeep), "commit", "-m", "one file"], cwd=dk_root, env=env).check()
    theirs = run([str(dvc), "add", FOLDER], cwd=dvc_root, env=env).check()
    return {
        "datakeep_seconds": dk.seconds,
        "dvc_seconds": theirs.seconds,
        "datakeep_bytes": folder_bytes(dk_store) - dk_before,
        "dvc_bytes": folder_bytes(dvc_cache) - dvc_before,
    }


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
        edit = edit_one_file(dk_root, dvc_root, args.files)
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
    print(
        f"  commit after editing 1 of {args.files:,} files (stated, no bar): datakeep commit"
        f" {edit['datakeep_seconds']:.2f} s, dvc add {edit['dvc_seconds']:.2f} s,"
        f" ratio {edit['datakeep_seconds'] / edit['dvc_seconds']:.2f}x; store grew"
        f" {edit['datakeep_bytes'] / 1024:,.0f} KiB, DVC's cache {edit['dvc_bytes'] / 1024:,.0f} KiB"
    )
    verdict = "PASS" if ours <= BAR_SECONDS else "FAIL"
    bar = f"bar: well under {BAR_SECONDS:.1f} s"
    print(f"  {verdict}  status over {args.files:,} unchanged files: {ours:.3f} s ({bar})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
