"""Running the installed ``watchdog-agent`` from tests the way a user does."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

# settings the agent would take from the environment; the tests pass flags instead
AGENT_ENV = ("DOCKER_HOST", "DOCKER_CONTEXT", "WATCHDOG_DOCKER_HOST", "WATCHDOG_PROC_ROOT",
             "WATCHDOG_CGROUP_ROOT", "WATCHDOG_INTERVAL", "WATCHDOG_NO_DOCKER")  # fmt: skip


def agent_path() -> str:
    """The console script installed next to the interpreter running the tests."""
    here = Path(sys.executable).parent / "watchdog-agent"
    if here.exists():
        return str(here)
    found = shutil.which("watchdog-agent")
    assert found is not None, "watchdog-agent is not installed (pip install -e .)"
    return found


AGENT = agent_path()


def agent_env(docker_host: str | None = None) -> dict[str, str]:
    """The test process's environment without the agent's settings; DOCKER_HOST set
    when given (the docker CLI run next to the agent reads it too)."""
    env = {k: v for k, v in os.environ.items() if k not in AGENT_ENV}
    if docker_host is not None:
        env["DOCKER_HOST"] = docker_host
    return env


def agent(
    *args: str,
    timeout: float = 60,
    docker_host: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``watchdog-agent <args>`` (``env``: extra variables); the caller decides what
    the exit code means."""
    return subprocess.run(
        [AGENT, *args],
        env={**agent_env(docker_host), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Following:
    """A long-running command whose stdout lines a thread collects as they come."""

    def __init__(self, argv: list[str], docker_host: str | None = None) -> None:
        self.argv = argv
        self.proc = subprocess.Popen(
            argv,
            env=agent_env(docker_host),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> tuple[int, str]:
        """Send ``sig`` (SIGTERM: a clean stop), then (exit code, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=5)
        self._reader.join(5)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()
