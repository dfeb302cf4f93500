"""`watchdog-agent serve` under /metrics scrapers: a real agent process over a generated
pure-v2 host of N containers (default 1,000), scraped over loopback.

    python -m bench.scrapers [--quick] [--containers 1000] [--seconds 30] [--scrapers 50]
                             [--runs 200]
    (or python bench/scrapers.py ...)

Starts ``watchdog-agent serve --no-docker --journal none --listen 127.0.0.1:0`` with
``--proc-root``/``--cgroup-root`` on a tree made by ``bench/gentree.py`` in /dev/shm, waits
for /readyz, then prints Markdown tables (each after its ``<!-- table: KEY -->`` line;
progress on stderr) of:

- ``scrapers-sequential-N``: sequential scrapes of ``/metrics`` over one keep-alive
  connection, plain and gzip (``Accept-Encoding: gzip``, as Prometheus asks): p50/p99
  ms, bytes on the wire;
- ``scrapers-concurrent-N``: ``--scrapers`` concurrent scrapers (aiohttp tasks in this
  process, each scraping in a loop) for ``--seconds``, plain then gzip: scrapes, errors
  (non-200 or exceptions), p50/p95/p99 latency, scrapes/s, and the agent's CPU
  (utime+stime of /proc/<pid>/stat) over the window, next to its CPU over an idle window
  of the same process (sampling alone).

The client runs in this process on the same cores as the agent, so under load its own
work (reading the body: ~7 MB plain, ~2 MB gzip, not decompressed) is part of the
latency it measures. ``--quick``: 100 containers, 5 scrapers for 3 s, 10 sequential
scrapes. The agent is stopped with SIGTERM and the tree removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.children import stop
from bench.gentree import make_tree

AGENT = str(Path(sys.executable).with_name("watchdog-agent"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
TEXT_ACCEPT = "text/plain;version=0.0.4"
READY_TIMEOUT = 60.0
IDLE_SECONDS = 5.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


@contextmanager
def serve(
    args: list[str], logdir: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """``watchdog-agent serve`` on an ephemeral loopback port with ``args``; yields
    (process, "http://host:port"); SIGTERM (then SIGKILL) at the end."""
    log_path = logdir / "agent.log"
    cmd = [AGENT, "serve", "--listen", "127.0.0.1:0", *args]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    try:
        yield proc, wait_listening(proc, log_path)
    finally:
        stop(proc, 15)


@contextmanager
def agent_process(
    tree: Path, logdir: Path, *more: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The agent over a generated tree, without Docker (``more``: further flags)."""
    env = dict(os.environ)
    env["DOCKER_HOST"] = f"unix://{logdir}/no-docker.sock"  # never reached: --no-docker
    args = ["--no-docker", "--journal", "none", "--proc-root", str(tree / "proc"),
            "--cgroup-root", str(tree / "cgroup"), *more]  # fmt: skip
    with serve(args, logdir, env) as running:
        yield running


def wait_listening(proc: subprocess.Popen[bytes], log_path: Path) -> str:
    """The bound address, from the agent's ``serving`` log line."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"agent exited ({proc.returncode}):\n{log_path.read_text()}")
        for line in log_path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("event") == "serving" and entry.get("addresses"):
                return f"http://{entry['addresses'][0]}"
        time.sleep(0.05)
    raise RuntimeError(f"agent did not listen within {READY_TIMEOUT:.0f} s")


async def wait_ready(session: aiohttp.ClientSession, base: str) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < READY_TIMEOUT:
        try:
            async with session.get(f"{base}/readyz") as r:
                if r.status == 200:
                    return time.perf_counter() - t0
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError("agent not ready")


ENCODINGS = ("identity", "gzip")


def progress(message: str) -> None:
    print(f"scrapers: {message}", file=sys.stderr, flush=True)


async def scrape(session: aiohttp.ClientSession, url: str, encoding: str) -> tuple[int, int]:
    headers = {"Accept": TEXT_ACCEPT, "Accept-Encoding": encoding}
    async with session.get(url, headers=headers) as r:
        body = await r.read()
        if r.status == 200 and r.headers.get("Content-Encoding", "identity") != encoding:
            raise RuntimeError(f"asked for {encoding}, got {r.headers.get('Content-Encoding')}")
        return r.status, len(body)


def session(connector: aiohttp.TCPConnector, **more: Any) -> aiohttp.ClientSession:
    """A client that reads bodies as sent (a gzip one is not decompressed)."""
    return aiohttp.ClientSession(connector=connector, auto_decompress=False, **more)


async def sequential(base: str, runs: int, encoding: str) -> tuple[list[float], int, int]:
    """(ms per scrape, bytes of the last, errors) over one keep-alive connection."""
    url, times, size, errors = f"{base}/metrics", [], 0, 0
    async with session(aiohttp.TCPConnector(limit=1)) as http:
        await scrape(http, url, encoding)  # warm-up: connection, first render
        for _ in range(runs):
            t0 = time.perf_counter()
            status, size = await scrape(http, url, encoding)
            times.append((time.perf_counter() - t0) * 1e3)
            errors += status != 200
    return times, size, errors


async def concurrent(
    base: str, scrapers: int, seconds: float, pid: int, encoding: str
) -> tuple[list[float], int, int, float, float, list[str]]:
    """(latencies ms of answered scrapes, non-200 answers, exceptions, wall s, agent CPU s,
    first error messages)."""
    url = f"{base}/metrics"
    latencies: list[float] = []
    bad_status = failures = 0
    messages: list[str] = []
    timeout = aiohttp.ClientTimeout(total=max(30.0, seconds))
    connector = aiohttp.TCPConnector(limit=scrapers)
    async with session(connector, timeout=timeout) as http:
        end = 0.0

        async def worker() -> None:
            nonlocal bad_status, failures
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                try:
                    status, _ = await scrape(http, url, encoding)
                except (TimeoutError, aiohttp.ClientError, OSError, RuntimeError) as exc:
                    failures += 1
                    if len(messages) < 5:
                        messages.append(f"{type(exc).__name__}: {exc}")
                    continue
                latencies.append((time.perf_counter() - t0) * 1e3)
                if status != 200:
                    bad_status += 1
                    if len(messages) < 5:
                        messages.append(f"HTTP {status}")

        c0, w0 = cpu_seconds(pid), time.perf_counter()
        end = w0 + seconds
        await asyncio.gather(*(worker() for _ in range(scrapers)))
        wall, cpu = time.perf_counter() - w0, cpu_seconds(pid) - c0
    return latencies, bad_status, failures, wall, cpu, messages


async def idle_cpu(pid: int, seconds: float) -> tuple[float, float]:
    c0, w0 = cpu_seconds(pid), time.perf_counter()
    await asyncio.sleep(seconds)
    return cpu_seconds(pid) - c0, time.perf_counter() - w0


async def measure(base: str, pid: int, args: argparse.Namespace) -> list[str]:
    async with aiohttp.ClientSession() as session:
        ready_s = await wait_ready(session, base)
        async with session.get(f"{base}/api/v1/info") as r:
            info = await r.json()
    sampled = info.get("containers_sampled")
    progress(f"agent at {base}, ready after {ready_s:.1f} s, {sampled} containers sampled")
    about = (
        f"`serve` over {sampled} generated containers (no Docker), sampling every "
        f"{info.get('interval_seconds')} s; {os.cpu_count()} CPUs, python "
        f"{sys.version.split()[0]}, aiohttp {aiohttp.__version__}."
    )
    lines: list[str] = []
    idle_seconds = min(IDLE_SECONDS, args.seconds)
    idle, idle_wall = await idle_cpu(pid, idle_seconds)
    n = args.containers
    lines += [
        f"<!-- table: scrapers-sequential-{n} -->",
        f"{about} Sequential `/metrics` scrapes (text 0.0.4, one keep-alive connection, "
        "bytes read as sent):",
        "",
        "| Accept-Encoding | scrapes | errors | p50 (ms) | p99 (ms) | max (ms) | bytes |",
        "|---|--------:|-------:|---------:|---------:|---------:|-----------:|",
    ]
    for encoding in ENCODINGS:
        progress(f"{args.runs} sequential scrapes, {encoding}")
        times, size, seq_errors = await sequential(base, args.runs, encoding)
        lines.append(
            f"| {encoding} | {len(times)} | {seq_errors} | {statistics.median(times):.2f} "
            f"| {pct(times, 0.99):.2f} | {max(times):.2f} | {size:,} |"
        )
    lines += [
        "",
        f"<!-- table: scrapers-concurrent-{n} -->",
        f"{args.scrapers} concurrent scrapers for {args.seconds:g} s each "
        f"(agent CPU: utime+stime of its process; 100% = one core):",
        "",
        "| Accept-Encoding | scrapers | scrapes | errors | p50 (ms) | p95 (ms) | p99 (ms) "
        "| scrapes/s | agent CPU s | agent CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    all_messages: list[str] = []
    for encoding in ENCODINGS:
        progress(f"{args.scrapers} concurrent scrapers for {args.seconds:g} s, {encoding}")
        lat, bad, failed, wall, cpu, messages = await concurrent(
            base, args.scrapers, args.seconds, pid, encoding
        )
        total, errors = len(lat) + failed, bad + failed
        nan = float("nan")
        lines.append(
            f"| {encoding} | {args.scrapers} | {total} | {errors} "
            f"| {statistics.median(lat) if lat else nan:.1f} "
            f"| {pct(lat, 0.95) if lat else nan:.1f} | {pct(lat, 0.99) if lat else nan:.1f} "
            f"| {(total - errors) / wall:.1f} | {cpu:.2f} | {100 * cpu / wall:.1f}% |"
        )
        all_messages += messages
    lines.append(
        f"| idle ({idle_seconds:g} s, no scrapes) | | | | | | | "
        f"| {idle:.2f} | {100 * idle / idle_wall:.1f}% |"
    )
    if all_messages:
        progress("first errors: " + "; ".join(all_messages[:5]))
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a small, short run")
    parser.add_argument("--containers", "-n", type=int, default=None, help="default 1000")
    parser.add_argument("--seconds", type=float, default=None, help="concurrent phase length")
    parser.add_argument("--scrapers", type=int, default=None, help="concurrent scrapers")
    parser.add_argument("--runs", type=int, default=None, help="sequential scrapes")
    args = parser.parse_args(argv)
    quick = args.quick
    args.containers = args.containers or (100 if quick else 1000)
    args.seconds = args.seconds or (3.0 if quick else 30.0)
    args.scrapers = args.scrapers or (5 if quick else 50)
    args.runs = args.runs or (10 if quick else 200)
    # SIGTERM unwinds like Ctrl-C, so the agent is stopped and the tree removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="wd-scrapers-", dir=shm) as tmp:
        tree, logdir = Path(tmp) / "tree", Path(tmp)
        t0 = time.perf_counter()
        make_tree(tree, args.containers, lean=True)
        progress(f"tree: {args.containers} containers in {time.perf_counter() - t0:.1f} s")
        with agent_process(tree, logdir) as (proc, base):
            lines = asyncio.run(measure(base, proc.pid, args))
            rc = proc.poll()
        if rc is not None:
            print(f"warning: the agent exited during the run ({rc})", file=sys.stderr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
