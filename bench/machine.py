"""The machine a benchmark run measured: CPU, memory, kernel, cgroup layout, Docker,
Python, load average, date and the git commit, as a Markdown table for
docs/performance.md's machine block. Also whether a Docker engine answers at
``$DOCKER_HOST`` (the modules print real-container rows only then)."""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from watchdog_agent.collectors.cgroupfs import detect_mode


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "-"


def memory_total() -> str:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "-"


def cgroup_layout(root: str = "/sys/fs/cgroup") -> str:
    return str(detect_mode(root).value)


def _unix_get(path: str, target: str, timeout: float = 3.0) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(f"GET {target} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or head.split(b" ", 2)[1] != b"200":
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        raise OSError(f"{target}: {status}")
    return body


def docker_version(host: str | None = None) -> str | None:
    """The engine's version at ``host`` (default ``$DOCKER_HOST``), or None when no
    engine answers there (or it is not a unix socket: nothing else is asked)."""
    host = host if host is not None else os.environ.get("DOCKER_HOST", "")
    if not host.startswith("unix://"):
        return None
    try:
        doc = json.loads(_unix_get(host.removeprefix("unix://"), "/version"))
    except (OSError, ValueError):
        return None
    return f"{doc.get('Version', '?')} (API {doc.get('ApiVersion', '?')})"


def load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def git_commit(root: Path) -> str:
    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              timeout=10, check=False)  # fmt: skip
        return proc.stdout.strip() if proc.returncode == 0 else ""

    commit = git("rev-parse", "--short=12", "HEAD")
    if not commit:
        return "-"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return f"{commit}{' (with uncommitted changes)' if dirty else ''}"


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe(
    *,
    commit: str,
    load_before: str,
    load_after: str,
    started: str,
    docker: str | None,
    mode: str,
    modules: list[str],
    stale: list[str],
) -> str:
    """The machine block's Markdown. ``modules``: those whose tables this run wrote (the
    other tables keep the figures of the run that wrote them)."""
    rows = [
        ("date", f"{started} (`{mode}`)"),
        ("tables written by this run", ", ".join(f"`{m}`" for m in modules) or "none"),
        ("git commit", commit),
        ("CPU", f"{cpu_model()}, {os.cpu_count()} logical CPUs"),
        ("memory", memory_total()),
        ("kernel", platform.release()),
        ("cgroup layout", cgroup_layout()),
        ("Docker", docker or "no engine answered at `$DOCKER_HOST`: real-container rows skipped"),
        ("Python", platform.python_version()),
        ("load average (1/5/15 min), before", load_before),
        ("load average (1/5/15 min), after", load_after),
    ]
    if stale:
        rows.append(("tables kept from an earlier run", ", ".join(f"`{s}`" for s in stale)))
    lines = ["| machine | |", "|---|---|"]
    lines += [f"| {name} | {value.replace('|', '/')} |" for name, value in rows]
    return "\n".join(lines)
