"""Soak: `watchdog-agent serve` on real containers under churn and readers, its resident
memory every 30 s, bounded in time.

    python bench/soak.py [--minutes 30] [--containers 50] [--every 2] [--rss-every 30]

Starts ``--containers`` long-lived busybox containers (no network), then the agent
(``serve --listen 127.0.0.1:0`` with a journal in a temporary directory), then for
``--minutes``: one short-lived container (``docker run --rm ... sleep 1``) every
``--every`` seconds, ``/metrics`` and ``/api/v1/containers`` every ``--every`` seconds, one
``/api/v1/events`` stream open throughout, and the agent's RSS (VmRSS of
/proc/<pid>/status) every ``--rss-every`` seconds, printed as a Markdown table as it goes.
At the end: RSS at the 6th minute (or the first third of a shorter run), its range from
there to the end, and the agent's counters. Every container it started (labelled
``watchdog.bench.soak=<token>``) is removed, and the agent stopped, at the end.

``--compare-env K=V[,K=V]`` (repeatable) also runs an agent B<n> with that environment
(e.g. glibc's MALLOC_* variables) under the same containers, churn and readers, and
prints its RSS in another column: an A/B comparison under one load.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scrapers import serve

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
IMAGE = "watchdog-test/busybox:latest"


def docker(*args: str, timeout: float = 120) -> str:
    return subprocess.run(
        [DOCKER, *args], check=True, capture_output=True, text=True, timeout=timeout
    ).stdout


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Soak:
    def __init__(self, agents: list[tuple[str, int]], label: str, args: argparse.Namespace) -> None:
        self.agents = agents  # (base URL, pid); the first is the one measured, any other
        self.base, self.pid = agents[0]  # an A/B comparison under the same load
        self.label = label
        self.args = args
        self.created = 0
        self.run_errors = 0
        self.scrapes = 0
        self.scrape_errors = 0
        self.events_seen = 0
        self.rows: list[tuple[float, float]] = []  # (seconds since start, RSS MB)
        self.other_rows: list[list[float]] = [[] for _ in agents[1:]]

    async def churn(self, stop: asyncio.Event) -> None:
        procs: set[asyncio.subprocess.Process] = set()

        async def one() -> None:
            proc = await asyncio.create_subprocess_exec(
                DOCKER, "run", "-d", "--rm", "--network", "none", "--label", self.label,
                IMAGE, "sleep", "1",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )  # fmt: skip
            procs.add(proc)
            if await proc.wait() == 0:
                self.created += 1
            else:
                self.run_errors += 1
            procs.discard(proc)

        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            await _sleep_or_stop(stop, self.args.every)
        if tasks:
            await asyncio.wait(tasks)

    async def readers(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        while not stop.is_set():
            for (base, _), path in (
                (a, p) for a in self.agents for p in ("/metrics", "/api/v1/containers")
            ):
                try:
                    async with session.get(base + path) as resp:
                        await resp.read()
                        self.scrapes += 1
                        self.scrape_errors += resp.status != 200
                except aiohttp.ClientError:
                    self.scrape_errors += 1
            await _sleep_or_stop(stop, self.args.every)

    async def events(self, session: aiohttp.ClientSession, base: str) -> None:
        async with session.get(base + "/api/v1/events") as resp:
            async for _line in resp.content:
                self.events_seen += base == self.base

    async def watch_rss(self, start: float, stop: asyncio.Event) -> None:
        others = "".join(f" B{i} RSS MB |" for i in range(1, len(self.agents)))
        print(f"| minute | RSS MB |{others} short-lived created | events read | reads |")
        print("|---:|---:|" + "---:|" * (len(self.agents) + 2), flush=True)
        while True:
            t = time.monotonic() - start
            rss = rss_mb(self.pid)
            self.rows.append((t, rss))
            cells = ""
            for i, (_, pid) in enumerate(self.agents[1:]):
                self.other_rows[i].append(rss_mb(pid))
                cells += f" {self.other_rows[i][-1]:6.1f} |"
            print(f"| {t / 60:6.1f} | {rss:6.1f} |{cells} {self.created:5d} | "
                  f"{self.events_seen:6d} | {self.scrapes:6d} |", flush=True)  # fmt: skip
            if stop.is_set():
                return
            await _sleep_or_stop(stop, self.args.rss_every)

    async def run(self) -> None:
        stop = asyncio.Event()
        timeout = aiohttp.ClientTimeout(total=None, sock_read=None)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            start = time.monotonic()
            streams = [asyncio.create_task(self.events(session, b)) for b, _ in self.agents]
            rss = asyncio.create_task(self.watch_rss(start, stop))
            work = [asyncio.create_task(self.churn(stop)),
                    asyncio.create_task(self.readers(session, stop))]  # fmt: skip
            await asyncio.sleep(self.args.minutes * 60)
            stop.set()
            await asyncio.wait(work)
            await asyncio.sleep(5)  # the last short-lived ones die and go
            await rss
            for stream in streams:
                stream.cancel()
            await asyncio.wait(streams)
            async with session.get(self.base + "/api/v1/info") as resp:
                info = await resp.json()
        self.report(info)

    def report(self, info: dict[str, object]) -> None:
        end = self.rows[-1][0]
        settle = min(360.0, end / 3)
        later = [rss for t, rss in self.rows if t >= settle]
        at_settle = later[0]
        print()
        print(f"- short-lived containers created: {self.created} (failed runs: {self.run_errors})")
        print(f"- reads of /metrics and /api/v1/containers: {self.scrapes} "
              f"(errors: {self.scrape_errors}); event lines read: {self.events_seen}")  # fmt: skip
        print(f"- RSS at start {self.rows[0][1]:.1f} MB, at minute {settle / 60:.1f} "
              f"{at_settle:.1f} MB, at the end {self.rows[-1][1]:.1f} MB")  # fmt: skip
        print(f"- from minute {settle / 60:.1f} to {end / 60:.1f}: min {min(later):.1f} MB, "
              f"max {max(later):.1f} MB, spread {max(later) - min(later):.1f} MB, "
              f"end - start of window {later[-1] - at_settle:+.1f} MB")  # fmt: skip
        print(f"- agent: {json.dumps(info)}")
        for i, rows in enumerate(self.other_rows, 1):
            window = rows[len(self.rows) - len(later) :]
            print(f"- B{i}: RSS at start {rows[0]:.1f} MB, at minute {settle / 60:.1f} "
                  f"{window[0]:.1f} MB, at the end {rows[-1]:.1f} MB; window min "
                  f"{min(window):.1f}, max {max(window):.1f}, spread "
                  f"{max(window) - min(window):.1f} MB")  # fmt: skip


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--containers", type=int, default=50)
    ap.add_argument("--every", type=float, default=2.0, help="seconds between churn and reads")
    ap.add_argument("--rss-every", type=float, default=30.0)
    ap.add_argument(
        "--compare-env",
        action="append",
        default=[],
        metavar="K=V[,K=V]",
        help="also run agent B<n> with this environment under the same load (A/B)",
    )
    args = ap.parse_args()
    token = secrets.token_hex(4)
    label = f"watchdog.bench.soak={token}"
    print(f"# soak: {args.containers} containers, {args.minutes:g} min, label {label}", flush=True)
    try:
        for _ in range(args.containers):
            docker("run", "-d", "--network", "none", "--label", label, IMAGE, "sleep", "86400")
        with tempfile.TemporaryDirectory(prefix="wd-soak-") as tmp, ExitStack() as stack:
            agents = []
            for i, extra in enumerate(["", *args.compare_env]):
                env = dict(os.environ, **dict(kv.split("=", 1) for kv in extra.split(",") if kv))
                Path(f"{tmp}/{i}").mkdir()
                journal = f"{tmp}/{i}/state/events.db"
                proc, base = stack.enter_context(
                    serve(["--journal", journal], Path(f"{tmp}/{i}"), env)
                )
                agents.append((base, proc.pid))
            asyncio.run(Soak(agents, label, args).run())
    finally:
        ids = docker("ps", "-aq", "--filter", f"label={label}").split()
        if ids:
            docker("rm", "-f", *ids)


if __name__ == "__main__":
    main()
