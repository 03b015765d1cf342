"""Benchmark datakeep against DVC on the two 10-version chains of issues 2 and 7.

For each size and chain, both tools get a fresh repository; for each version the harness writes the
version's file over ``data.parquet`` and times the commit (``datakeep commit`` / ``dvc add``) as a
subprocess, then records the store size and the commit's peak memory. The tools alternate version by
version, so a noisy neighbour slows both rather than one. Then: a re-commit of unchanged data,
restoring the oldest and the newest version (checked against the original file), and
``repo.read()`` against ``pyarrow.parquet.read_table``.

Usage::

    bench/setup.sh                      # once: DVC in its own venv (bench/work/venv-dvc)
    .venv/bin/python bench/core.py --rows 1000000 --rows 5000000 --chain both --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import CHAINS, GENERATOR_VERSION, Version, generate_chain
from proc import CommandError, run
from report import render
from tools import DATA_FILE, Datakeep, Dvc, Tool, child_env, compile_datakeep, read_probe

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
Result = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Everything one benchmark run needs to know."""

    rows: tuple[int, ...]
    chains: tuple[str, ...]
    repeat: int
    seed: int
    out: Path
    data: Path
    scratch: Path
    datakeep: Path | None
    dvc: Path | None
    verify: bool
    keep: bool
    read_repeat: int


def parse_args(argv: list[str] | None) -> Config:
    """Parse the command line into a Config."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="repeatable; default 1000000")
    parser.add_argument("--chain", choices=[*CHAINS, "both"], default="both")
    parser.add_argument("--repeat", type=int, default=1, help="run everything N times; medians")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "out")
    parser.add_argument(
        "--data",
        type=Path,
        default=HERE / "work" / "data",
        help="where generated versions are cached",
    )
    parser.add_argument(
        "--scratch",
        type=Path,
        default=None,
        help="where repositories are made; must not be inside a git work tree "
        "(default: a folder in the system temp dir)",
    )
    parser.add_argument("--datakeep", type=Path, default=None, help="datakeep executable")
    parser.add_argument("--dvc", type=Path, default=None, help="dvc executable")
    parser.add_argument("--tools", default="datakeep,dvc", help="comma-separated subset")
    parser.add_argument("--no-verify", action="store_true", help="skip checking restored files")
    parser.add_argument("--keep", action="store_true", help="keep the repositories afterwards")
    parser.add_argument("--read-repeat", type=int, default=5)
    args = parser.parse_args(argv)
    wanted = {name.strip() for name in args.tools.split(",")}
    scratch = args.scratch or Path(tempfile.gettempdir()) / "datakeep-bench"
    return Config(
        rows=tuple(args.rows or [1_000_000]),
        chains=CHAINS if args.chain == "both" else (args.chain,),
        repeat=args.repeat,
        seed=args.seed,
        out=args.out,
        data=args.data,
        scratch=scratch.resolve(),
        datakeep=find_datakeep(args.datakeep) if "datakeep" in wanted else None,
        dvc=find_dvc(args.dvc) if "dvc" in wanted else None,
        verify=not args.no_verify,
        keep=args.keep,
        read_repeat=args.read_repeat,
    )


def _find(explicit: Path | None, candidates: list[Path], name: str, hint: str) -> Path:
    for path in [explicit, *candidates]:
        if path is not None and path.is_file():
            return path.resolve()
    found = shutil.which(name)
    if explicit is None and found:
        return Path(found)
    raise SystemExit(f"error: no {name} executable found — {hint}")


def find_datakeep(explicit: Path | None) -> Path:
    """``--datakeep``, else the project's .venv, else PATH."""
    hint = "run `make demo` (creates .venv) or pass --datakeep PATH"
    return _find(explicit, [ROOT / ".venv" / "bin" / "datakeep"], "datakeep", hint)


def find_dvc(explicit: Path | None) -> Path:
    """``--dvc``, else bench/work/venv-dvc (made by bench/setup.sh), else PATH."""
    hint = "run bench/setup.sh or pass --dvc PATH (or --tools datakeep)"
    return _find(explicit, [HERE / "work" / "venv-dvc" / "bin" / "dvc"], "dvc", hint)


def make_tools(cfg: Config, scratch: Path) -> list[Tool]:
    """One fresh driver per tool, each with its own empty folder under ``scratch``."""
    env = child_env(scratch)
    tools: list[Tool] = []
    if cfg.datakeep is not None:
        tools.append(Datakeep(exe=cfg.datakeep, folder=scratch / "datakeep", env=env))
    if cfg.dvc is not None:
        tools.append(Dvc(exe=cfg.dvc, folder=scratch / "dvc", env=env))
    for tool in tools:
        tool.folder.mkdir(parents=True)
    return tools


def place(source: Path, target: Path) -> None:
    """Write a version's bytes over the tracked file (a new inode, as most writers make)."""
    target.unlink(missing_ok=True)
    shutil.copyfile(source, target)


def guarded(result: Result, step: str, action: Callable[[], None]) -> bool:
    """Run one step of one tool; on failure note the error and report False (the tool stops)."""
    try:
        action()
    except (CommandError, KeyError, OSError, ValueError) as exc:
        result["error"] = f"{step}: {exc}"
        print(f"  ! {result['tool']} {step}: {exc}", file=sys.stderr)
        return False
    return True


def commit_version(tool: Tool, version: Version, result: Result) -> None:
    """Place one version, commit it, and record time, peak memory and store size."""
    place(version.path, tool.folder / DATA_FILE)
    cmd = tool.commit(version.number)
    store = tool.store()
    entry: Result = {
        "number": version.number,
        "rows": version.rows,
        "file_bytes": version.bytes,
        "seconds": cmd.seconds,
        "max_rss": cmd.max_rss,
        "store_bytes": store.apparent,
        "store_disk_bytes": store.disk,
        "store_files": store.files,
    }
    result["versions"].append(entry)
    if isinstance(tool, Datakeep) and version.number == 1 and tool.add_run is not None:
        result["add"] = {"seconds": tool.add_run.seconds, "max_rss": tool.add_run.max_rss}


def commit_guarded(tool: Tool, version: Version, result: Result) -> bool:
    """commit_version under guarded(); False once the tool has failed."""
    step = f"commit v{version.number}"
    return guarded(result, step, lambda: commit_version(tool, version, result))


def recommit(tool: Tool, result: Result, key: str) -> None:
    """Commit again without changing content; record time and the bytes it added to the store."""
    before = tool.store().apparent
    cmd = tool.recommit()
    after = tool.store().apparent
    result[key] = {"seconds": cmd.seconds, "max_rss": cmd.max_rss, "store_added": after - before}


def tables_equal(a: Path, b: Path) -> bool:
    """Whether two Parquet files hold the same table (values, types, order)."""
    return bool(pq.read_table(a).equals(pq.read_table(b)))


def restore(cfg: Config, tool: Tool, version: Version, result: Result, key: str) -> None:
    """Restore one version, time it, and check the result against the original file."""
    cmd, path = tool.restore(version.number, tool.folder.parent / f"{tool.name}-restored.parquet")
    entry: Result = {"number": version.number, "seconds": cmd.seconds, "max_rss": cmd.max_rss}
    if cfg.verify:
        entry["equal"] = tables_equal(path, version.path)
    result[key] = entry


def read_api(cfg: Config, tool: Datakeep, versions: list[Version], result: Result) -> None:
    """``repo.read`` of the oldest and newest version against ``read_table`` of their files."""
    for key, version in (("read_oldest", versions[0]), ("read_newest", versions[-1])):
        rev = tool.commits[version.number]
        result[key] = read_probe(tool.python(), tool.folder, rev, version.path, cfg.read_repeat)


def finish(cfg: Config, tool: Tool, versions: list[Version], result: Result) -> None:
    """The after-chain measurements for one tool."""
    steps: list[tuple[str, Callable[[], None]]] = [
        ("recommit", lambda: recommit(tool, result, "recommit_unchanged")),
        ("rewrite", lambda: place(versions[-1].path, tool.folder / DATA_FILE)),
        ("recommit rewritten", lambda: recommit(tool, result, "recommit_rewritten")),
        ("restore oldest", lambda: restore(cfg, tool, versions[0], result, "restore_oldest")),
        ("restore newest", lambda: restore(cfg, tool, versions[-1], result, "restore_newest")),
    ]
    if isinstance(tool, Datakeep):
        steps.append(("repo.read", lambda: read_api(cfg, tool, versions, result)))
    for step, action in steps:
        guarded(result, step, action)


def run_chain(cfg: Config, rows: int, chain: str) -> dict[str, Result]:
    """Both tools through one chain, version by version, side by side."""
    versions = list(generate_chain(cfg.data, rows, chain, seed=cfg.seed))
    scratch = cfg.scratch / f"rows{rows}-{chain}"
    shutil.rmtree(scratch, ignore_errors=True)
    tools = make_tools(cfg, scratch)
    results: dict[str, Result] = {tool.name: {"tool": tool.name, "versions": [], "error": None} for tool in tools}
    alive = [t for t in tools if guarded(results[t.name], "init", t.init)]
    for version in versions:
        print(f"  {rows:,} {chain} v{version.number:02d}", file=sys.stderr, flush=True)
        alive = [t for t in alive if commit_guarded(t, version, results[t.name])]
    for tool in alive:
        finish(cfg, tool, versions, results[tool.name])
    if not cfg.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return results


def bench_once(cfg: Config, document: Result) -> None:
    """One full pass: every size, every chain; partial results are saved after each chain."""
    runs: Result = {}
    document["runs"].append(runs)
    for rows in cfg.rows:
        runs[str(rows)] = {}
        for chain in cfg.chains:
            runs[str(rows)][chain] = run_chain(cfg, rows, chain)
            save_partial(cfg, document)


def save_partial(cfg: Config, document: Result) -> None:
    """Keep what has been measured so far in ``--out/partial.json`` (a long run may be stopped)."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    (cfg.out / "partial.json").write_text(json.dumps(document, indent=2) + "\n")


def median_tree(trees: list[Any]) -> Any:
    """Merge same-shaped results: numbers become medians, flags must all hold, text stays."""
    present = [t for t in trees if t is not None]
    if not present:
        return None
    first = present[0]
    if isinstance(first, bool):
        return all(present)
    if isinstance(first, int | float):
        return statistics.median(present)
    if isinstance(first, dict):
        keys = list(dict.fromkeys(k for t in present for k in t))
        return {k: median_tree([t.get(k) for t in present]) for k in keys}
    if isinstance(first, list):
        longest = max(len(t) for t in present)
        return [median_tree([t[i] for t in present if i < len(t)]) for i in range(longest)]
    return first


def tool_version(exe: Path | None) -> str | None:
    """``TOOL --version``, for the record."""
    if exe is None:
        return None
    result = run([str(exe), "--version"], cwd=HERE)
    return result.last_line() if result.returncode == 0 else None


def meta(cfg: Config) -> Result:
    """What was run, where and with which versions."""
    return {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "rows": list(cfg.rows),
        "chains": list(cfg.chains),
        "repeat": cfg.repeat,
        "seed": cfg.seed,
        "generator": GENERATOR_VERSION,
        "datakeep": str(cfg.datakeep) if cfg.datakeep else None,
        "datakeep_version": tool_version(cfg.datakeep),
        "dvc": str(cfg.dvc) if cfg.dvc else None,
        "dvc_version": tool_version(cfg.dvc),
        "python": platform.python_version(),
        "machine": f"{platform.system()} {platform.machine()}, {_cpus()} CPUs",
    }


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def write_outputs(cfg: Config, document: Result, text: str) -> Path:
    """Write the JSON results and the printed report to ``--out``; return the JSON path."""
    cfg.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = cfg.out / f"bench-{stamp}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    (cfg.out / f"bench-{stamp}.txt").write_text(text + "\n")
    shutil.copyfile(path, cfg.out / "latest.json")
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the report, write the JSON."""
    cfg = parse_args(argv)
    if cfg.datakeep is not None:
        compile_datakeep(cfg.datakeep.parent / "python", child_env(Path(tempfile.gettempdir())))
    document: Result = {"meta": meta(cfg), "runs": []}
    for number in range(1, cfg.repeat + 1):
        print(f"run {number}/{cfg.repeat}", file=sys.stderr, flush=True)
        bench_once(cfg, document)
    document["median"] = median_tree(document["runs"])
    text = "\n".join(render(document["meta"], document["median"]))
    print(text)
    path = write_outputs(cfg, document, text)
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
