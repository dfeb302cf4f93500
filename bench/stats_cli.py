"""`watchdog-agent stats --no-stream` next to `docker stats --no-stream`, same run, same
containers (started here, removed at the end).

    DOCKER_HOST=unix:///tmp/wd-engine/docker.sock python bench/stats_cli.py [--containers 50]
        [--cpus 0.5]

With ``--cpus`` every container has a CPU quota, so the one-shot CPU window follows CFS
periods (up to one period's wait, then two periods) instead of 0.2 s of wall clock.
The row "through a running agent" starts ``watchdog-agent serve`` on a free loopback
port (no journal) and runs the same command with ``$WATCHDOG_AGENT_URL`` pointing at it:
its latest sample, no CPU window; the plain row has no agent to find.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
AGENT = str(Path(sys.executable).with_name("watchdog-agent"))
IMAGE = "watchdog-test/busybox:latest"


NO_AGENT = "http://127.0.0.1:1"  # nothing listens there: the plain row finds no agent


def run(*cmd: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300,
                          env=env).stdout  # fmt: skip


def timed(cmd: list[str], agent_url: str) -> tuple[float, int]:
    """(wall seconds, rows printed)."""
    env = {**os.environ, "WATCHDOG_AGENT_URL": agent_url}
    t0 = time.perf_counter()
    out = run(*cmd, env=env)
    return time.perf_counter() - t0, len(out.splitlines()) - 1


@contextmanager
def serving(containers: int) -> Iterator[str]:
    """``watchdog-agent serve`` on a free loopback port; its URL once it has sampled the
    containers twice (CPU % needs two samples)."""
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([AGENT, "serve", "--listen", "127.0.0.1:0", "--journal", "none"],
                                stdout=subprocess.DEVNULL, stderr=log, text=True)  # fmt: skip
        try:
            url = _address(log, proc)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with urllib.request.urlopen(f"{url}/api/v1/info", timeout=10) as resp:
                    if json.loads(resp.read())["containers_sampled"] >= containers:
                        break
                time.sleep(0.5)
            time.sleep(2.5)  # two more samples
            yield url
        finally:
            proc.terminate()
            proc.wait(20)


def _address(log: IO[str], proc: subprocess.Popen[str]) -> str:
    """The URL the agent's "serving" log line names."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        log.seek(0)
        for line in log:
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("event") == "serving":
                return f"http://{entry['addresses'][0]}"
        time.sleep(0.1)
    raise SystemExit("watchdog-agent serve did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cpus", help="give every container this CPU quota (docker run --cpus)")
    args = ap.parse_args()
    quota = ["--cpus", args.cpus] if args.cpus else []
    ids = [
        run(DOCKER, "run", "-d", "--network", "none", "--label", "watchdog.bench=1", *quota,
            IMAGE, "sleep", "3600").strip()
        for _ in range(args.containers)
    ]  # fmt: skip
    try:
        with serving(args.containers) as url:
            ours, through, docker = [], [], []
            stats = [AGENT, "stats", "--no-stream"]
            for _ in range(args.repeat):
                ours.append(timed(stats, NO_AGENT))
                through.append(timed(stats, url))
                docker.append(timed([DOCKER, "stats", "--no-stream"], NO_AGENT))
        o, a, d = (statistics.median(t for t, _ in r) for r in (ours, through, docker))
        rows = (ours[0][1], through[0][1], docker[0][1])
        print(f"containers running: {rows[0]} (ours) / {rows[1]} (agent) / {rows[2]} (docker)")
        print("| command                                  | median s | runs (s)           |")
        print("|------------------------------------------|---------:|--------------------|")
        for label, runs, med in (
            ("watchdog-agent stats --no-stream", ours, o),
            ("  the same, through a running agent", through, a),
            ("docker stats --no-stream", docker, d),
        ):
            print(f"| {label:<40} | {med:>8.3f} | {' '.join(f'{t:.2f}' for t, _ in runs):<18} |")
        print(f"ratio docker/ours: {d / o:.1f}x; docker/through the agent: {d / a:.1f}x")
    finally:
        run(DOCKER, "rm", "-f", *ids)


if __name__ == "__main__":
    main()
