"""The quick run of the benchmark modules that need no engine (generated trees, the
events bus, dstats, the abuse benches): a file of its own, so it runs beside the shared
engine's tests (tests/conftest.py groups files by engine use)."""

from __future__ import annotations

from pathlib import Path

from helpers.benchrun import QUICK_RUN, quick_run


def test_quick_run_of_the_other_modules(tmp_path: Path) -> None:
    """No engine: DOCKER_HOST names a socket nobody listens on."""
    quick_run(tmp_path, QUICK_RUN, f"unix://{tmp_path}/no-docker.sock")
