"""Child processes of the benchmarks (agents, servers, engines): stopped one way."""

from __future__ import annotations

import signal
import subprocess
from typing import Any


def stop(proc: subprocess.Popen[Any], timeout: float) -> None:
    """SIGTERM if still running, wait up to ``timeout`` seconds, then SIGKILL and reap."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
