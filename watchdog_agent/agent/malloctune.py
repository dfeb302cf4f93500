"""glibc allocator settings for the long-running ``serve`` process.

What the agent keeps is bounded (history rings, the latest Snapshot and its rendering),
yet with glibc's defaults its resident memory crept up for tens of minutes under
container churn while Python's own heap stayed flat (tracemalloc): two allocator
behaviours hold on to freed memory.

- Each thread that allocates gets its own arena (up to 8 per core), and the agent runs
  every sampling pass, journal write and post-mortem read in a pool thread: memory freed
  in one arena is not reused by another. M_ARENA_MAX = 2 shares two.
- The mmap threshold is dynamic: once a large block (a rendered /metrics body, a JSON
  list of every container) has been freed, blocks up to that size come from the heap
  instead of their own mapping, and fragment it. Fixed M_MMAP_THRESHOLD and
  M_TRIM_THRESHOLD (128 KiB, glibc's starting values) keep large blocks in mappings that
  go back to the kernel when freed.

A third holds on to freed memory still: a free block in the middle of a heap is given
back only by ``malloc_trim``. The rings' growth while the history fills (each ring's
buffer doubles, then is re-packed when a value outgrows its column) and a ``/metrics``
rendering (megabytes of short-lived pieces) leave such blocks; ``release_free_memory``
returns their whole pages, after a rendering and every minute of sampling.

The same as MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
in the environment (bench/soak.py --compare-env measures either). Call before threads
start. Not glibc (musl, ...): nothing is changed.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
SETTINGS = ((M_ARENA_MAX, 2), (M_MMAP_THRESHOLD, 128 * 1024), (M_TRIM_THRESHOLD, 128 * 1024))


def tune_allocator() -> bool:
    """Apply SETTINGS through glibc's mallopt; False when this is not glibc."""
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - only glibc has it (musl has a no-op mallopt)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return all(mallopt(param, value) == 1 for param, value in SETTINGS)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc's malloc_trim only
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Give the kernel the whole free pages inside glibc's heaps (``malloc_trim(0)``);
    True when some were given, False when none were or this is not glibc. It holds the
    allocator's locks while it walks the free blocks (0.25 ms at 1,000 containers,
    bench/memory.py's tree): call it from a worker thread."""
    trim = _malloc_trim()
    return trim is not None and trim(0) == 1
