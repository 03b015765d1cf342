"""The README's session is real: it is `make demo`'s output, and running the demo reproduces it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _session_block(text: str) -> str:
    section = text.split("## A session", 1)[1]
    return section.split("```console\n", 1)[1].split("\n```", 1)[0]


def _normalise(transcript: str) -> list[str]:
    out = []
    for line in transcript.strip().splitlines():
        line = re.sub(r"[0-9a-f]{32}", "<id>", line)
        line = re.sub(r"\b[0-9a-f]{10,12}\b", "<short>", line)
        line = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", "<time>", line)
        line = re.sub(r"in \S*/demo-work/", "in <root>/demo-work/", line)
        out.append(line.rstrip())
    return out


def test_readme_session_is_the_demo_output(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    expected = _normalise(_session_block(readme))
    work = tmp_path / "project"
    # Run the demo from a copy so the checkout stays clean.
    subprocess.run(["cp", "-r", str(ROOT / "sample_data"), str(ROOT / "schemas"), str(work.parent)], check=True)
    work.mkdir()
    for name in ("sample_data", "schemas"):
        (tmp_path / name).rename(work / name)
    (work / "datakeep.yaml").write_text((ROOT / "datakeep.yaml").read_text())
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    done = subprocess.run(
        ["bash", "sample_data/demo.sh"], cwd=work, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    actual = _normalise(done.stdout)
    assert [line for line in actual if line.startswith("$ ")] == [line for line in expected if line.startswith("$ ")]
    assert actual == expected


@pytest.mark.parametrize("command", ["make demo", "make test"])
def test_readme_names_the_two_setup_commands(command: str) -> None:
    assert command in (ROOT / "README.md").read_text()
    target = command.split()[1]
    assert re.search(rf"^{target}:", (ROOT / "Makefile").read_text(), re.MULTILINE)


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_python_example_runs(tmp_path: Path) -> None:
    block = (ROOT / "README.md").read_text().split("## The same in Python", 1)[1]
    code = block.split("```python\n", 1)[1].split("```", 1)[0]
    (tmp_path / "data").mkdir()
    shutil.copy(ROOT / "sample_data" / "flights" / "2024-01.parquet", tmp_path / "data" / "flights.parquet")
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    shutil.copytree(ROOT / "sample_data" / "incoming", tmp_path / "sample_data" / "incoming")
    shutil.copy(ROOT / "datakeep.yaml", tmp_path / "datakeep.yaml")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "flights unchanged" in done.stdout
    assert "january load" in done.stdout
