"""bench/gentree.py (generated pure-v2 cgroup trees) for the tests that build one,
loaded by path: bench/ need not be importable from the tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
NAME = "watchdog_bench_gentree"


def load_gentree() -> ModuleType:
    """The module, loaded once per process."""
    if NAME not in sys.modules:
        spec = importlib.util.spec_from_file_location(NAME, ROOT / "bench" / "gentree.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[NAME] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
    return sys.modules[NAME]
