"""Shared helpers for the hook tests (no tests here): real git repositories in ``tmp_path``, a
tiny project (one entity, one source, rules) and Parquet files that pass or fail it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable

SCHEMA = """\
schema_type: dataframe
version: 0.20.0
columns:
  id:
    dtype: int64
    nullable: false
    unique: true
  country:
    dtype: str
    nullable: false
    checks:
      isin: [DE, FR, US]
  age:
    dtype: int64
    nullable: true
    checks:
      in_range: {min_value: 0, max_value: 130}
"""

SOURCE = """\
entity: customers
columns:
  land:
    to: country
    values: {Deutschland: DE, Frankreich: FR}
    unmapped: error
"""

RULES = """\
rules:
  - glob: "data/**/*.parquet"
    entity: customers
  - glob: "incoming/crm/*.parquet"
    source: crm
"""


def isolate_git(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's git config and any enclosing hook's git variables out of the test.

    A global ``core.hooksPath`` or a ``GIT_INDEX_FILE`` inherited from a hook running pytest
    would silently change what these tests exercise.
    """
    for name in list(os.environ):
        if name.startswith("GIT_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)


def git(repo: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run git in ``repo``; output captured as text (stdout and stderr together)."""
    proc = subprocess.run(
        ["git", *args],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{proc.stdout}")
    return proc


def init_repo(path: Path) -> Path:
    """A fresh git repository with a local identity and one empty commit."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Hook Test")
    git(path, "config", "user.email", "hook@example.com")
    git(path, "config", "commit.gpgsign", "false")
    git(path, "commit", "-q", "--allow-empty", "-m", "start")
    return path


def write_project(root: Path) -> Path:
    """Schema, source mapping and rules for the tiny `customers` entity."""
    (root / "schemas" / "sources").mkdir(parents=True, exist_ok=True)
    (root / "schemas" / "customers.yaml").write_text(SCHEMA)
    (root / "schemas" / "sources" / "crm.yaml").write_text(SOURCE)
    (root / "datakeep.yaml").write_text(RULES)
    return root


def customers(rows: int = 5, *, bad: bool = False) -> pa.Table:
    """Customers that pass the schema; ``bad`` plants country 'XX' in row 2 and age 200 in row 3."""
    countries = [("DE", "FR", "US")[i % 3] for i in range(rows)]
    ages = [20 + i % 50 for i in range(rows)]
    if bad:
        countries[2] = "XX"
        ages[3] = 200
    return pa.table(
        {
            "id": pa.array(range(1, rows + 1), pa.int64()),
            "country": pa.array(countries, pa.string()),
            "age": pa.array(ages, pa.int64()),
        }
    )


def crm_customers(rows: int = 5, *, bad: bool = False) -> pa.Table:
    """The same rows as the `crm` source sends them: column `land`, German country names."""
    names = [("Deutschland", "Frankreich")[i % 2] for i in range(rows)]
    if bad:
        names[1] = "Atlantis"
    return pa.table(
        {
            "id": pa.array(range(1, rows + 1), pa.int64()),
            "land": pa.array(names, pa.string()),
            "age": pa.array([30] * rows, pa.int64()),
        }
    )


def write_parquet(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def data_repo(path: Path) -> Path:
    """A git repository holding the tiny project, committed, with no data yet."""
    init_repo(path)
    write_project(path)
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "schemas and rules")
    return path
