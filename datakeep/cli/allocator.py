"""Allocator settings for the `datakeep` process.

A commit or a checkout allocates and frees many numpy and Arrow buffers of a few MiB each.
glibc serves every allocation above 128 KiB with a fresh ``mmap`` by default, so each one comes
back as zero pages the kernel must fault in, and each free returns it at once: on the issue-2
bench that was a third to half of a commit's CPU time, spent in the kernel. Keeping buffers up to
32 MiB on the heap, and freed memory for reuse until 256 MiB of it pile up, removes nearly all of it
(commit 2.3 s -> 1.6 s, system time 1.1 s -> 0.25 s at 1M rows).

Arrow's default pool here is mimalloc, which marks its memory for transparent huge pages when the
kernel's THP mode is ``madvise`` (common on servers), then gives freed pages back. Each later use
of such a region faults in a whole 2 MiB page the kernel must zero, after compacting memory to
find one: on a 5M-row commit a third of all CPU time was ``clear_page``, and system time varied
from 1 s to 3 s between identical runs. Without THP in mimalloc system time halves and steadies.

OpenBLAS (loaded by numpy) starts a spinning thread per core although datakeep does no linear
algebra; with two cores that thread competes with the decoding, so it is limited to one.

Only the CLI does this, because it owns its process; a library must not retune the allocator of
the program that imports it. A ``MALLOC_*``, ``MIMALLOC_*`` or ``OPENBLAS_NUM_THREADS`` variable
set by the user wins. ``tune`` must run before numpy or pyarrow is imported.
"""

from __future__ import annotations

import contextlib
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 256 * 1024 * 1024


def tune() -> None:
    """Apply the settings above (glibc's only where the C library is glibc)."""
    if not any(name.startswith("MIMALLOC_") for name in os.environ):
        os.environ["MIMALLOC_ALLOW_THP"] = "0"
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if not sys.platform.startswith("linux") or any(name.startswith("MALLOC_") for name in os.environ):
        return
    import ctypes

    with contextlib.suppress(OSError, AttributeError):
        mallopt = ctypes.CDLL(None).mallopt  # absent from musl and other C libraries
        mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
