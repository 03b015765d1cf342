"""Bytes sent by `push`, version by version, against the bytes of each version's new chunks; and
`dvc push` of the same versions to the same kind of remote.

The append chain of ``bench/data.py`` (1M rows, +1% rows per version, 10 versions) is committed
and pushed one version at a time to a folder remote and to an S3 server (moto, on 127.0.0.1 at a
free port, reached through s3fs as a user's bucket would be). The bar: bytes sent per version ≤
1.2× the bytes of the chunk objects that version added (its new rows, their row-hash sidecars,
and the tail chunk whose content-defined boundary moved). DVC gets the same files, one
``dvc add`` + ``dvc push`` per version, to a folder remote and to the same S3 server; its bytes
are measured as the growth of the remote.

Usage::

    bench/setup.sh && bench/work/venv-dvc/bin/pip install dvc-s3   # once
    .venv/bin/python bench/bench_remote.py --rows 1000000
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import generate_chain

HERE = Path(__file__).resolve().parent
DVC = HERE / "work" / "venv-dvc" / "bin" / "dvc"
BUCKET = "bench-remote"
BAR = 1.2


def start_s3() -> str:
    """A moto S3 server on a free loopback port; endpoint and credentials go in the environment."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    import fsspec

    fsspec.filesystem("s3").mkdir(BUCKET)
    return endpoint


def remote_bytes(url: str) -> int:
    """Total size of every file under a remote (folder or s3://)."""
    import fsspec.core

    fs, root = fsspec.core.url_to_fs(url)
    if hasattr(fs, "invalidate_cache"):
        fs.invalidate_cache()
    try:
        return sum(int(info["size"]) for info in fs.find(root, detail=True).values())
    except FileNotFoundError:
        return 0


def datakeep_chain(versions: list[Any], work: Path, urls: dict[str, str]) -> list[dict[str, Any]]:
    from datakeep.api import Repo
    from datakeep.remote import add_remote, push

    folder = work / "dk"
    folder.mkdir()
    os.chdir(folder)
    repo = Repo.init(folder)
    for name, url in urls.items():
        add_remote(repo.repository, name, url)
    rows: list[dict[str, Any]] = []
    known: set[str] = set()
    for version in versions:
        shutil.copyfile(version.path, folder / "data.parquet")
        if version.number == 1:
            repo.add(folder / "data.parquet", name="t", key=["id"])
        repo.commit(message=f"v{version.number}")
        manifest = repo.manifest("t")
        chunk_objects = set(manifest.object_ids())
        new_chunks = chunk_objects - known
        known |= chunk_objects
        store = repo.repository.store
        row: dict[str, Any] = {
            "version": version.number,
            "rows": version.rows,
            "new_chunk_bytes": sum(store.size(o) for o in new_chunks),
        }
        for name in urls:
            start = time.perf_counter()
            result = push(repo.repository, name)
            row[f"{name}_sent"] = result.sent.bytes
            row[f"{name}_objects"] = result.sent.objects
            row[f"{name}_seconds"] = time.perf_counter() - start
        rows.append(row)
    again = {name: push(repo.repository, name).sent.objects for name in urls}
    rows.append({"version": "re-push", "objects": again})
    return rows


def dvc_chain(versions: list[Any], work: Path, urls: dict[str, str]) -> list[dict[str, Any]]:
    folder = work / "dvc"
    folder.mkdir()
    env = dict(os.environ, DVC_NO_ANALYTICS="1", NO_COLOR="1", GIT_CEILING_DIRECTORIES=str(work))

    def dvc(*args: str) -> None:
        subprocess.run([str(DVC), *args], cwd=folder, env=env, check=True, capture_output=True)

    dvc("init", "--no-scm")
    dvc("config", "core.check_update", "false")
    for name, url in urls.items():
        dvc("remote", "add", name, url)
        if url.startswith("s3://"):
            dvc("remote", "modify", name, "endpointurl", os.environ["AWS_ENDPOINT_URL"])
    rows: list[dict[str, Any]] = []
    for version in versions:
        shutil.copyfile(version.path, folder / "data.parquet")
        dvc("add", "data.parquet")
        row: dict[str, Any] = {"version": version.number, "file_bytes": version.bytes}
        for name, url in urls.items():
            before = remote_bytes(url)
            start = time.perf_counter()
            dvc("push", "-r", name)
            row[f"{name}_seconds"] = time.perf_counter() - start
            row[f"{name}_sent"] = remote_bytes(url) - before
        rows.append(row)
    return rows


def mib(value: float) -> str:
    return f"{value / 2**20:8.2f}"


def report(dk: list[dict[str, Any]], dvc: list[dict[str, Any]] | None, rows: int) -> str:
    lines = [
        f"# push: bytes sent per version, append chain, {rows:,} rows (+1% per version)",
        "",
        "| v | new chunks MiB | folder sent MiB | ratio | S3 sent MiB | ratio | S3 s "
        "| dvc folder MiB | dvc S3 MiB | dvc S3 s |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    worst = 0.0
    for i, row in enumerate(r for r in dk if isinstance(r["version"], int)):
        new = row["new_chunk_bytes"]
        ratios = [row[f"{n}_sent"] / new for n in ("folder", "s3")]
        if row["version"] > 1:
            worst = max(worst, *ratios)
        other = dvc[i] if dvc else {}
        lines.append(
            f"| {row['version']} | {mib(new)} | {mib(row['folder_sent'])} | {ratios[0]:.3f} | "
            f"{mib(row['s3_sent'])} | {ratios[1]:.3f} | {row['s3_seconds']:.2f} | "
            f"{mib(other.get('folder_sent', 0)) if dvc else '-'} | {mib(other.get('s3_sent', 0)) if dvc else '-'} | "
            f"{other.get('s3_seconds', 0):.2f} |"
        )
    totals = {n: sum(r[f"{n}_sent"] for r in dk if isinstance(r["version"], int)) for n in ("folder", "s3")}
    lines += [
        "",
        f"re-push of an unchanged repository: {dk[-1]['objects']} objects",
        f"worst ratio, versions 2-10: {worst:.3f} (bar ≤ {BAR}) → {'PASS' if worst <= BAR else 'FAIL'}",
        f"total sent: datakeep folder {mib(totals['folder'])} MiB, S3 {mib(totals['s3'])} MiB",
    ]
    if dvc:
        dvc_totals = {n: sum(r[f"{n}_sent"] for r in dvc) for n in ("folder", "s3")}
        lines.append(f"total sent: dvc      folder {mib(dvc_totals['folder'])} MiB, S3 {mib(dvc_totals['s3'])} MiB")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--root", type=Path, default=HERE / "work" / "data")
    parser.add_argument("--no-dvc", action="store_true", help="Skip the DVC side.")
    args = parser.parse_args(argv)
    versions = list(generate_chain(args.root, args.rows, "append"))
    start_s3()
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as scratch:
        work = Path(scratch)
        dk = datakeep_chain(versions, work, {"folder": str(work / "dk-remote"), "s3": f"s3://{BUCKET}/datakeep"})
        dvc = None
        if not args.no_dvc and DVC.exists():
            dvc = dvc_chain(versions, work, {"folder": str(work / "dvc-remote"), "s3": f"s3://{BUCKET}/dvc"})
        os.chdir(HERE)
    print(report(dk, dvc, args.rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
