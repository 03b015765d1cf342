"""The CLI's allocator settings: applied in a fresh process, and never over the user's own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_PROBE = (
    "import os\n"
    "from datakeep.cli.allocator import tune\n"
    "tune()\n"
    "import pyarrow as pa\n"
    "import gc\n"
    "print(os.environ.get('MIMALLOC_ALLOW_THP', '-'), os.environ.get('OPENBLAS_NUM_THREADS', '-'),"
    " pa.default_memory_pool().backend_name, gc.get_threshold()[0], gc.get_threshold()[2])\n"
)


def _settings(**extra: str) -> list[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MIMALLOC_", "OPENBLAS_", "MALLOC_", "ARROW_"))}
    env.update(extra)
    done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return done.stdout.split()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc is tuned on Linux only")
def test_tune_moves_arrow_to_the_tuned_system_allocator_and_limits_openblas() -> None:
    assert _settings() == ["0", "1", "system", "10000", "100"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"MIMALLOC_PURGE_DELAY": "100"}, ["-", "1", "mimalloc", "10000", "100"]),
        ({"MIMALLOC_ALLOW_THP": "1"}, ["1", "1", "mimalloc", "10000", "100"]),
        ({"OPENBLAS_NUM_THREADS": "4"}, ["0", "4", "system", "10000", "100"]),
        ({"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}, ["0", "1", "jemalloc", "10000", "100"]),
        ({"MALLOC_ARENA_MAX": "2"}, ["0", "1", "mimalloc", "10000", "100"]),
    ],
)
def test_a_setting_made_by_the_user_wins(extra: dict[str, str], expected: list[str]) -> None:
    assert _settings(**extra) == expected


def test_the_library_leaves_the_garbage_collector_as_the_program_set_it() -> None:
    """Only the CLI owns its process: importing and using datakeep's API changes no threshold."""
    probe = "import gc\ngc.set_threshold(1234, 5, 6)\nimport datakeep.api\nprint(*gc.get_threshold())\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["1234", "5", "6"]
