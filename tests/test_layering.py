"""Imports point down the layers only: store < records < repo < operations < api < cli."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "datakeep"

# Lower number = lower layer. A module may import only from its own layer or below.
LAYERS = {
    "errors": 0,
    "arguments": 0,
    "partitions": 0,
    "progress": 0,
    "ids": 0,
    "fsutil": 0,
    "serialize": 0,
    "digest": 0,
    "hashing": 0,
    "rowhash": 0,
    "native": 0,
    "numeric_summary": 0,
    "pyvalues": 0,
    "_native": 0,
    "arrow_numpy": 0,
    "kernels": 0,
    "temporal_text": 0,
    "top_values": 0,
    "rowcache": 4,
    "rowcache_files": 4,
    "resume": 4,
    "chunking": 0,
    "parquet_io": 0,
    "parquet_source": 0,
    "parquet_encoding": 0,
    "unify": 0,
    "store": 1,
    "records": 2,
    "patches": 2,
    "column_patches": 2,
    "hash_objects": 2,
    "repo": 3,
    "tracking": 3,
    "snapshot": 4,
    "restore": 4,
    "stats": 4,
    "revisions": 4,
    "worktree": 4,
    "history": 4,
    "merge": 4,
    "checkout": 4,
    "naming": 4,
    "maintenance": 4,
    "summary": 4,
    "diff": 4,
    "schemas": 4,
    "validate": 4,
    "remote": 4,
    "hook": 4,
    "api": 5,
    "render": 6,
    "cli": 7,
    "__main__": 7,
    "__init__": 5,
}


# A result value may render itself (`_repr_html_` for notebooks, `__str__` for print), lazily, inside that method.
ALLOWED = {("diff.result", "render.diff_html"), ("diff.result", "render.diff_text")}


def _layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("datakeep."):
            names.append(node.module.removeprefix("datakeep."))
        elif isinstance(node, ast.ImportFrom) and node.module == "datakeep":
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            names.extend(a.name.removeprefix("datakeep.") for a in node.names if a.name.startswith("datakeep."))
    return names


def test_imports_point_down() -> None:
    upward = []
    for path in PACKAGE.rglob("*.py"):
        module = path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
        own = _layer(module)
        for imported in _imports(path):
            if _layer(imported) > own and (module, imported) not in ALLOWED:
                upward.append(f"{module} imports {imported}")
    assert upward == []


def test_bottom_layers_never_import_pandas_pandera_or_click() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        module = path.relative_to(PACKAGE).with_suffix("").as_posix().replace("/", ".")
        if _layer(module) <= 3:
            text = path.read_text()
            for banned in ("import pandas", "import pandera", "import click"):
                if banned in text:
                    offenders.append(f"{module}: {banned}")
    assert offenders == []
