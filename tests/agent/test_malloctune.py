"""The allocator settings serve applies, and the hand-back of free heap pages: taken by
glibc, skipped elsewhere."""

from __future__ import annotations

import platform

import pytest

from watchdog_agent.agent.malloctune import release_free_memory, tune_allocator

GLIBC = platform.libc_ver()[0] == "glibc"


def test_allocator_settings_apply_on_glibc_only() -> None:
    assert tune_allocator() is GLIBC


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_free_blocks_in_the_middle_of_the_heap_go_back_to_the_kernel() -> None:
    """200 blocks of 64 KiB (below the mmap threshold: in the heap), written, then freed
    while a block allocated after them keeps the heap's top in use: free() alone keeps
    their pages; release_free_memory gives them back."""
    tune_allocator()
    blocks = [bytearray(b"x" * 65536) for _ in range(200)]
    pin = bytearray(b"y" * 65536)
    del blocks
    held = _rss_kib()
    assert release_free_memory() is True
    assert held - _rss_kib() > 8 * 1024, "less than 8 MiB of the 12.5 MiB freed went back"
    assert pin[0] == ord("y")
