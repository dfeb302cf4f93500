"""`watchdog-agent stats --no-stream` next to `docker stats --no-stream`, same run, same
containers (started here, removed at the end).

    DOCKER_HOST=unix:///tmp/wd-engine/docker.sock python bench/stats_cli.py [--containers 50]
        [--cpus 0.5]

With ``--cpus`` every container has a CPU quota, so the one-shot CPU window follows CFS
periods (up to one period's wait, then two periods) instead of 0.2 s of wall clock.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
AGENT = str(Path(sys.executable).with_name("watchdog-agent"))
IMAGE = "watchdog-test/busybox:latest"


def run(*cmd: str) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=300).stdout


def timed(cmd: list[str]) -> tuple[float, int]:
    """(wall seconds, rows printed)."""
    t0 = time.perf_counter()
    out = run(*cmd)
    return time.perf_counter() - t0, len(out.splitlines()) - 1


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
        time.sleep(1)
        ours, docker = [], []
        for _ in range(args.repeat):
            ours.append(timed([AGENT, "stats", "--no-stream"]))
            docker.append(timed([DOCKER, "stats", "--no-stream"]))
        o = statistics.median(t for t, _ in ours)
        d = statistics.median(t for t, _ in docker)
        print(f"containers running: {ours[0][1]} (ours) / {docker[0][1]} (docker)")
        print("| command                           | median s | runs (s)           |")
        print("|-----------------------------------|---------:|--------------------|")
        for label, runs, med in (
            ("watchdog-agent stats --no-stream", ours, o),
            ("docker stats --no-stream", docker, d),
        ):
            print(f"| {label:<33} | {med:>8.3f} | {' '.join(f'{t:.2f}' for t, _ in runs):<18} |")
        print(f"ratio docker/ours: {d / o:.1f}x")
    finally:
        run(DOCKER, "rm", "-f", *ids)


if __name__ == "__main__":
    main()
