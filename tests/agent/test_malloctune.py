"""The allocator settings serve applies: taken by glibc, skipped elsewhere."""

from __future__ import annotations

import platform

from watchdog_agent.agent.malloctune import tune_allocator


def test_allocator_settings_apply_on_glibc_only() -> None:
    assert tune_allocator() is (platform.libc_ver()[0] == "glibc")
