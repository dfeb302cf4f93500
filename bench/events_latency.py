"""Event delivery latency, daemon to subscriber: `watchdog-agent events` next to
`docker events`, both following the same engine in the same run.

Each tool prints ``{{.TimeNano}} ...`` per event; a thread per tool stamps every line as
it arrives (time.time_ns) and the latency is arrival minus the event's timeNano (the
daemon's publish time; same host clock). The events are `docker tag` / `docker rmi` of
the test image (cheap: no container), all removed at the end.

    DOCKER_HOST=unix:///tmp/wd-engine/docker.sock .venv/bin/python -m bench.events_latency \
        [--quick] [--events 200] [--pace 0]

Prints one Markdown table (key ``events-latency``). ``--quick``: 10 events. Without an
engine answering at ``$DOCKER_HOST`` there is nothing to measure: it says so on stderr
and prints no table.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.children import stop
from bench.tableout import docker_host, progress, skipped, table

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
AGENT = str(Path(sys.executable).with_name("watchdog-agent"))
IMAGE = "watchdog-test/busybox:latest"
FORMAT = "{{.TimeNano}} {{.Type}} {{.Action}} {{.Actor.Attributes.name}}"


class Follower(threading.Thread):
    """Runs a following command and stamps each stdout line on arrival."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__(daemon=True)
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1
        )
        self.lines: list[tuple[int, str]] = []  # (arrival ns, line)
        self.start()

    def run(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append((time.time_ns(), line.rstrip("\n")))

    def stop(self) -> None:
        stop(self.proc, 10)
        self.join(5)

    def saw(self, marker: str) -> bool:
        return any(line.endswith(marker) for _, line in self.lines)

    def latencies_ms(self, start: int, end: int) -> list[float]:
        out = []
        for arrival, line in self.lines:
            nanos = int(line.split(" ", 1)[0])
            if start <= nanos <= end:
                out.append((arrival - nanos) / 1e6)
        return out


def docker(*args: str) -> None:
    subprocess.run([DOCKER, *args], check=True, capture_output=True, timeout=60)


def wait_for(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.02)


def percentile(data: list[float], q: int) -> float:
    return statistics.quantiles(data, n=100, method="inclusive")[q - 1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="10 events")
    ap.add_argument("--events", type=int, default=200, help="events to produce (tag + untag)")
    ap.add_argument("--pace", type=float, default=0.0, help="seconds between two events")
    args = ap.parse_args()
    if args.quick:
        args.events = 10
    host = docker_host()
    if host is None:
        skipped("events-latency", "no Docker engine answers at $DOCKER_HOST")
        return
    repo = f"wdbench-{secrets.token_hex(4)}"
    tags: list[str] = []
    followers = {
        "watchdog-agent events": Follower([AGENT, "events", "--format", FORMAT]),
        "docker events": Follower([DOCKER, "events", "--format", FORMAT]),
    }
    try:

        def subscribed() -> bool:  # each follower has printed a warm-up event
            tags.append(f"{repo}:w{len(tags)}")
            docker("tag", IMAGE, tags[-1])
            time.sleep(0.2)
            return all(f.lines for f in followers.values())

        wait_for(subscribed, 30, "both followers to subscribe")
        progress(f"both followers subscribed; {args.events} events (docker tag / rmi)")
        start = time.time_ns()
        for i in range(args.events // 2):
            docker("tag", IMAGE, f"{repo}:{i}")
            time.sleep(args.pace)
            docker("rmi", f"{repo}:{i}")
            time.sleep(args.pace)
        tags.append(f"{repo}:end")
        docker("tag", IMAGE, tags[-1])
        marker = f"image tag {repo}:end"
        wait_for(lambda: all(f.saw(marker) for f in followers.values()), 30, "the end marker")
        end = next(int(x.split()[0]) for _, x in followers["docker events"].lines if marker in x)
    finally:
        for f in followers.values():
            f.stop()
        for tag in tags:
            subprocess.run([DOCKER, "rmi", tag], capture_output=True, check=False, timeout=60)

    rows = []
    for name, f in followers.items():
        lat = f.latencies_ms(start, end)
        rows.append((f"`{name}`", len(lat), f"{percentile(lat, 50):.2f}",
                     f"{percentile(lat, 95):.2f}", f"{max(lat):.2f}"))  # fmt: skip
    table(
        "events-latency",
        ("subscriber", "events", "p50 ms", "p95 ms", "max ms"),
        rows,
        caption=f"{args.events} events (`docker tag` / `docker rmi`), pace {args.pace:g} s, "
        "both following the same engine in the same run",
    )


if __name__ == "__main__":
    main()
