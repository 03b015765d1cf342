"""Memory settings for the `datakeep` process: the allocators', and the garbage collector's.

A commit or a checkout allocates and frees many numpy and Arrow buffers of a few MiB each.
glibc serves every allocation above 128 KiB with a fresh ``mmap`` by default, so each one comes
back as zero pages the kernel must fault in, and each free returns it at once: on the issue-2
bench that was a third to half of a commit's CPU time, spent in the kernel. Keeping buffers up to
32 MiB on the heap, and freed memory for reuse until 256 MiB of it pile up, removes nearly all of it
(commit 2.3 s -> 1.6 s, system time 1.1 s -> 0.25 s at 1M rows).

With glibc tuned so, Arrow allocates through it too (its "system" pool) instead of its bundled
mimalloc, which returns freed pages to the kernel and faults them in again for the next batch:
on a 5M-row edit commit 14% less CPU (7.6 s -> 6.6 s, 215,000 -> 180,000 page faults), on a
400-column table 14-17 s -> 13 s with half the system time, and 5-10% less peak memory (5M-row
commits: 0.55 -> 0.51 GB); a 5M-row checkout is no slower. Where glibc is not tuned, mimalloc
stays, without transparent huge pages: each use of a region marked for them faulted in a whole
2 MiB page the kernel must zero, and system time varied from 1 s to 3 s between identical
5M-row commits.

OpenBLAS (loaded by numpy) starts a spinning thread per core although datakeep does no linear
algebra; with two cores that thread competes with the decoding, so it is limited to one.

Python's cyclic garbage collector runs after every 700 new container objects, and every tenth
and hundredth run walks older generations: everything numpy, pyarrow and pandera left behind at
import. A commit of a 400-column table spent 0.10 s of its 2.7 s there (109 + 10 + 1 runs), with
the GIL held; after every 10,000 objects, 0.01 s (6 runs). Few of datakeep's objects form cycles,
so memory hardly waits longer. A full collection walks every object alive, and a commit of a
folder of many files holds its parent's manifest and the new one (millions of lists and dicts of
per-file statistics): at 20,000 files its two full collections took 0.8-1.2 s of a 6-7 s commit,
and freed nothing. They come after every 100 middle-generation runs instead of 10 (Python still
also waits for the long-lived objects to have grown by a quarter): none in that commit, and the
same peak memory in it, in a 3M-row commit and checkout, and in a 3M-row validate.

Only the CLI does this, because it owns its process; a library must not retune the allocator (or
the collector) of the program that imports it. A ``MALLOC_*``, ``MIMALLOC_*``, ``ARROW_DEFAULT_MEMORY_POOL`` or
``OPENBLAS_NUM_THREADS`` variable set by the user wins. ``tune`` must run before numpy or pyarrow
is imported.
"""

from __future__ import annotations

import gc
import os
import sys

#: New container objects between two runs of Python's youngest garbage collection (700 by default).
GC_THRESHOLD = 10_000
#: Runs of the middle generation between two full collections (10 by default).
GC_FULL_AFTER = 100
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 256 * 1024 * 1024


def tune() -> None:
    """Apply the settings above (glibc's only where the C library is glibc)."""
    mimalloc_chosen = any(name.startswith("MIMALLOC_") for name in os.environ)
    if not mimalloc_chosen:
        os.environ["MIMALLOC_ALLOW_THP"] = "0"
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    gc.set_threshold(GC_THRESHOLD, gc.get_threshold()[1], GC_FULL_AFTER)
    if not sys.platform.startswith("linux") or any(name.startswith("MALLOC_") for name in os.environ):
        return
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt  # absent from musl and other C libraries
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    if not mimalloc_chosen:
        os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
