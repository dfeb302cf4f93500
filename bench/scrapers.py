"""`watchdog-agent serve` under /metrics scrapers: a real agent process over a generated
pure-v2 host of N containers (default 1,000), scraped over loopback.

    python bench/scrapers.py [--containers 1000] [--seconds 30] [--scrapers 50] [--runs 200]

Starts ``watchdog-agent serve --no-docker --journal none --listen 127.0.0.1:0`` with
``--proc-root``/``--cgroup-root`` on a tree made by ``bench/gentree.py`` in /dev/shm, waits
for /readyz, then prints Markdown tables of:

- sequential scrapes of ``/metrics`` over one keep-alive connection: p50/p99 ms, bytes;
- ``--scrapers`` concurrent scrapers (aiohttp tasks in this process, each scraping in a
  loop) for ``--seconds``: scrapes, errors (non-200 or exceptions), p50/p95/p99 latency,
  scrapes/s, and the agent's CPU (utime+stime of /proc/<pid>/stat) over the window, next
  to its CPU over an idle window of the same process (sampling alone).

The client runs in this process on the same cores as the agent, so under load its own
work (reading ~7 MB per scrape) is part of the latency it measures. The agent is
stopped with SIGTERM and the tree removed at the end.
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

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def agent_process(tree: Path, logdir: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """The agent over a generated tree, without Docker."""
    env = dict(os.environ)
    env["DOCKER_HOST"] = f"unix://{logdir}/no-docker.sock"  # never reached: --no-docker
    args = ["--no-docker", "--journal", "none",
            "--proc-root", str(tree / "proc"), "--cgroup-root", str(tree / "cgroup")]  # fmt: skip
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


async def scrape(session: aiohttp.ClientSession, url: str) -> tuple[int, int]:
    async with session.get(url, headers={"Accept": TEXT_ACCEPT}) as r:
        body = await r.read()
        return r.status, len(body)


async def sequential(base: str, runs: int) -> tuple[list[float], int, int]:
    """(ms per scrape, bytes of the last, errors) over one keep-alive connection."""
    url, times, size, errors = f"{base}/metrics", [], 0, 0
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        await scrape(session, url)  # warm-up: connection, first render
        for _ in range(runs):
            t0 = time.perf_counter()
            status, size = await scrape(session, url)
            times.append((time.perf_counter() - t0) * 1e3)
            errors += status != 200
    return times, size, errors


async def concurrent(
    base: str, scrapers: int, seconds: float, pid: int
) -> tuple[list[float], int, int, float, float, list[str]]:
    """(latencies ms of answered scrapes, non-200 answers, exceptions, wall s, agent CPU s,
    first error messages)."""
    url = f"{base}/metrics"
    latencies: list[float] = []
    bad_status = failures = 0
    messages: list[str] = []
    timeout = aiohttp.ClientTimeout(total=max(30.0, seconds))
    connector = aiohttp.TCPConnector(limit=scrapers)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        end = 0.0

        async def worker() -> None:
            nonlocal bad_status, failures
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                try:
                    status, _ = await scrape(session, url)
                except (TimeoutError, aiohttp.ClientError, OSError) as exc:
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
    lines = [
        f"agent: `{base}`, ready after {ready_s:.1f} s, {sampled} containers sampled, "
        f"interval {info.get('interval_seconds')} s, {os.cpu_count()} CPUs "
        f"(python {sys.version.split()[0]}, aiohttp {aiohttp.__version__}).",
        "",
    ]
    idle, idle_wall = await idle_cpu(pid, IDLE_SECONDS)
    times, size, seq_errors = await sequential(base, args.runs)
    lines += [
        "Sequential `/metrics` scrapes (text 0.0.4, one keep-alive connection):",
        "",
        "| scrapes | errors | p50 (ms) | p99 (ms) | max (ms) | bytes      |",
        "|--------:|-------:|---------:|---------:|---------:|-----------:|",
        f"| {len(times):>7} | {seq_errors:>6} | {statistics.median(times):>8.2f} "
        f"| {pct(times, 0.99):>8.2f} | {max(times):>8.2f} | {size:>10,} |",
        "",
    ]
    lat, bad, failed, wall, cpu, messages = await concurrent(base, args.scrapers, args.seconds, pid)
    total, errors = len(lat) + failed, bad + failed
    lines += [
        f"{args.scrapers} concurrent scrapers for {args.seconds:g} s "
        f"(agent CPU: utime+stime of its process; 100% = one core):",
        "",
        "| scrapers | scrapes | errors | p50 (ms) | p95 (ms) | p99 (ms) | scrapes/s "
        "| agent CPU s | agent CPU % |",
        "|---------:|--------:|-------:|---------:|---------:|---------:|----------:"
        "|------------:|------------:|",
        f"| {args.scrapers:>8} | {total:>7} | {errors:>6} "
        f"| {statistics.median(lat) if lat else float('nan'):>8.1f} "
        f"| {pct(lat, 0.95) if lat else float('nan'):>8.1f} "
        f"| {pct(lat, 0.99) if lat else float('nan'):>8.1f} "
        f"| {(total - errors) / wall:>9.1f} | {cpu:>11.2f} | {100 * cpu / wall:>10.1f}% |",
        f"| idle ({IDLE_SECONDS:g} s, no scrapes) |  |  |  |  |  |  "
        f"| {idle:>11.2f} | {100 * idle / idle_wall:>10.1f}% |",
    ]
    if messages:
        lines += ["", "first errors: " + "; ".join(messages)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--containers", "-n", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=30.0, help="concurrent phase length")
    parser.add_argument("--scrapers", type=int, default=50, help="concurrent scrapers")
    parser.add_argument("--runs", type=int, default=200, help="sequential scrapes")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the agent is stopped and the tree removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="wd-scrapers-", dir=shm) as tmp:
        tree, logdir = Path(tmp) / "tree", Path(tmp)
        t0 = time.perf_counter()
        make_tree(tree, args.containers, lean=True)
        print(f"tree: {args.containers} containers in {time.perf_counter() - t0:.1f} s", flush=True)
        with agent_process(tree, logdir) as (proc, base):
            lines = asyncio.run(measure(base, proc.pid, args))
            rc = proc.poll()
        if rc is not None:
            print(f"warning: the agent exited during the run ({rc})", file=sys.stderr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
