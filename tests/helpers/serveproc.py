"""`watchdog-agent serve` as a subprocess, as users run it: against the engine
(``ServeProcess``) or over a fixture tree with no Docker (``serve_args``, ``agent``)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from helpers.agentcli import AGENT, agent_env
from helpers.serving import TREES


class ServeProcess:
    """``watchdog-agent serve`` as a user runs it, its stderr (JSON logs) collected.
    ``argv`` runs that command line instead (a deployment file's, as written there)."""

    def __init__(
        self, *args: str, docker_host: str | None, argv: Sequence[str] | None = None
    ) -> None:
        self.argv = list(argv or [AGENT, "serve", "--listen", "127.0.0.1:0", *args])
        self.proc = subprocess.Popen(
            self.argv,
            env=agent_env(docker_host),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.logs: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            try:
                self.logs.append(json.loads(line))
            except ValueError:
                self.logs.append({"event": line.rstrip("\n")})

    def said(self, event: str) -> dict[str, Any] | None:
        return next((entry for entry in self.logs if entry.get("event") == event), None)

    def wait_url(self, timeout: float = 30) -> str:
        """Block until the agent says it is serving; its base URL."""
        deadline = time.monotonic() + timeout
        while self.said("serving") is None and self.proc.poll() is None:
            assert time.monotonic() < deadline, self.logs
            time.sleep(0.05)
        entry = self.said("serving")
        assert entry is not None, self.logs
        return f"http://{entry['addresses'][0]}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)

    def stop(self) -> int:
        """SIGTERM, as systemd or a kubelet stops it (SIGKILL after 15 s); its exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(5)


def serve_args(*more: str) -> list[str]:
    tree = TREES / "systemd"
    return [sys.executable, "-m", "watchdog_agent", "serve", "--no-docker", "--journal", "none",
            "--listen", "127.0.0.1:0", "--interval", "0.2", "--proc-root", str(tree / "proc"),
            "--cgroup-root", str(tree / "cgroup"), *more]  # fmt: skip


@dataclass
class Agent:
    port: int
    pid: int
    log: list[str] = field(default_factory=list)

    def events(self, name: str) -> list[dict[str, object]]:
        out = []
        for line in self.log:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == name:
                out.append(entry)
        return out

    def sockets(self) -> int:
        """Sockets the agent process holds open now (from /proc/PID/fd)."""
        count = 0
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            with suppress(OSError):
                count += os.readlink(f"/proc/{self.pid}/fd/{fd}").startswith("socket:")
        return count


@contextmanager
def agent(*more: str) -> Iterator[Agent]:
    """`watchdog-agent serve` in a subprocess; every stderr line kept in ``log``, the
    process stopped (SIGTERM) before the block's assertions on the log run."""
    proc = subprocess.Popen(serve_args(*more), stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    stderr = proc.stderr
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stderr:
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    running: Agent | None = None
    try:
        seen: list[str] = []
        while running is None:
            line = lines.get(timeout=30)
            seen.append(line)
            entry = json.loads(line)
            if entry.get("event") == "serving":
                port = int(entry["addresses"][0].rsplit(":", 1)[1])
                running = Agent(port, proc.pid, seen)
        yield running
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        reader.join(10)
        while not lines.empty():
            (running.log if running else []).append(lines.get())
