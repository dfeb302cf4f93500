"""The agent's memory: RSS and tracemalloc's top allocations with the history full, at
real and generated containers, and what grows under container churn.

    python bench/memory.py full [--generated 1000] [--real 50] [--interval 1]
    python bench/memory.py churn [--minutes 10] [--settle 3] [--every 2]

``full``: for each case (``--real`` busybox containers on the Docker engine, and a
generated pure-v2 tree of ``--generated`` containers from bench/gentree.py, no Docker),
a child process runs the agent as ``serve`` wires it (create_app and its contexts, on
127.0.0.1:0). After a few real passes it fills the history with 300 synthetic passes (the
latest real numbers recorded with earlier sample times: what 5 minutes at 1 s leave in
the rings, without waiting 5 minutes); real passes go on at ``--interval``. This process
reads one container's ``?history=300`` and scrapes /metrics once (its cache is part of
the service's memory), then reads the child's RSS (VmRSS). A second child does the same
under tracemalloc and reports the top allocations by line, the bytes the history holds
per container (row storage, and everything history.py allocated), and what one whole
Snapshot costs per container (the old history kept 300 of them).

``churn``: the agent in this process against the engine, one short-lived container
(``docker run --rm ... sleep 1``) every ``--every`` s, /metrics and /api/v1/containers
read every ``--every`` s and an events stream open; RSS every 30 s, and the tracemalloc
lines that grew most between minute ``--settle`` and the end.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gentree import make_tree
from watchdog_agent.agent.history import NARROW, ROW
from watchdog_agent.agent.malloctune import tune_allocator
from watchdog_agent.agent.wiring import Agent
from watchdog_agent.config import DEFAULT_DOCKER_HOST, Settings
from watchdog_agent.server.app import create_app

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
IMAGE = "watchdog-test/busybox:latest"
HISTORY = 300
FILL_TIMEOUT = 600.0


def docker(*args: str) -> str:
    return subprocess.run(
        [DOCKER, *args], check=True, capture_output=True, text=True, timeout=120
    ).stdout


def rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def deep_size(obj: object, seen: set[int] | None = None) -> int:
    """Bytes of ``obj`` and everything it holds (not shared singletons, types, modules)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or obj is None or isinstance(obj, type | bool):
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, str | bytes | int | float):
        return size
    return size + sum(deep_size(r, seen) for r in gc.get_referents(obj))


# -- full history ---------------------------------------------------------------------


@contextmanager
def real_containers(n: int) -> Iterator[str]:
    label = f"watchdog.bench.memory={secrets.token_hex(4)}"
    try:
        for _ in range(n):
            docker("run", "-d", "--network", "none", "--label", label, IMAGE, "sleep", "86400")
        yield label
    finally:
        ids = docker("ps", "-aq", "--filter", f"label={label}").split()
        if ids:
            docker("rm", "-f", *ids)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[Agent, str]]:
    """The agent as ``serve`` wires it (create_app, the same contexts), on 127.0.0.1:0."""
    agent = Agent(settings)
    runner = web.AppRunner(create_app(settings, agent), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = next(a for a in runner.addresses if isinstance(a, tuple))[:2]
    try:
        yield agent, f"http://{host}:{port}"
    finally:
        await runner.cleanup()


def fill(agent: Agent) -> int:
    """HISTORY synthetic passes: the latest real Snapshot's numbers, recorded with sample
    times one interval apart ending at the latest, as 300 real passes would leave the
    rings (every container's ring full). Returns the containers filled."""
    latest = agent.store.latest
    assert latest is not None
    step = agent.settings.interval
    for i in range(HISTORY, 0, -1):
        t = latest.taken_at - i * step
        agent.store.rows.record(
            {cid: s._replace(sampled_at=s.sampled_at - i * step)
             for cid, s in latest.containers.items()}, t,
        )  # fmt: skip
    return len(latest.containers)


async def child(settings_json: str, trace: bool) -> None:
    """The agent with its history filled; prints its address, then (trace) a JSON line
    of tracemalloc figures, or waits for SIGTERM."""
    tune_allocator()  # as serve does
    if trace:
        tracemalloc.start(1)
    settings = Settings(**json.loads(settings_json))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    stages = {"imported": rss_mb()}
    async with running(settings) as (agent, base):
        while agent.store.latest is None or not agent.store.latest.containers:
            await asyncio.sleep(0.1)
        await asyncio.sleep(settings.interval * 3)  # a few real passes first (rates)
        stages["sampling"] = rss_mb()
        n = fill(agent)
        stages["filled"] = rss_mb()
        print(json.dumps({"base": base, "filled": n, "stages": stages}), flush=True)
        if not trace:
            await stop.wait()
            return
        await scrape(base)  # (the body read is released before the snapshot is taken)
        await asyncio.sleep(settings.interval * 2)
        gc.collect()
        snap = tracemalloc.take_snapshot()
        rows = agent.store.rows
        latest = agent.store.latest
        by_file = snap.statistics("filename")
        history_traced = sum(s.size for s in by_file if s.traceback[0].filename.endswith(
            os.sep + "history.py"))  # fmt: skip
        per_snapshot = deep_size(latest) / max(1, len(latest.containers))
        top = [(_where(s.traceback[0]), s.size, s.count) for s in snap.statistics("lineno")[:12]]
        print(json.dumps({
            "containers": len(rows),
            "rows_bytes": rows.nbytes / max(1, len(rows)),
            "wide": rows.wide,
            "history_bytes": history_traced / max(1, len(rows)),
            "snapshot_bytes": per_snapshot,
            "traced_mb": sum(s.size for s in by_file) / 2**20,
            "top": top,
        }), flush=True)  # fmt: skip


async def scrape(base: str) -> int:
    async with aiohttp.ClientSession() as session, session.get(base + "/metrics") as r:
        return len(await r.read())


@contextmanager
def spawn(settings: dict[str, Any], trace: bool) -> Iterator[tuple[subprocess.Popen[str], Any]]:
    cmd = [sys.executable, __file__, "child", json.dumps(settings)] + (["--trace"] if trace else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        first = _json_line(proc.stdout)
        yield proc, first
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _json_line(stream: Any) -> Any:
    for line in stream:
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("the child ended early")


async def check_and_scrape(base: str) -> int:
    """The history as a reader sees it (one container's ?history=300), then /metrics."""
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/api/v1/containers") as resp:
            found = [c["id"] for c in await resp.json() if c["stats"]]
        url = f"{base}/api/v1/containers/{found[0]}/stats"
        async with session.get(url, params={"history": str(HISTORY)}) as resp:
            rows = len(await resp.json())
        async with session.get(base + "/metrics") as resp:
            await resp.read()
    return rows


def _where(frame: tracemalloc.Frame) -> str:
    return f"{'/'.join(frame.filename.rsplit('/', 2)[-2:])}:{frame.lineno}"


def full_case(label: str, settings: dict[str, Any]) -> None:
    with spawn(settings, trace=False) as (proc, first):
        rows = asyncio.run(check_and_scrape(first["base"]))
        time.sleep(max(3.0, 3 * settings.get("interval", 1.0)))  # real passes on top
        rss = rss_mb(proc.pid)
    print(f"\n## {label}\n")
    print(f"- containers: {first['filled']}; ?history={HISTORY} of one gives {rows} rows")
    print(f"- agent RSS with the history full, after a /metrics scrape: **{rss:.1f} MB**")
    st = first["stages"]
    print(f"- on the way: {st['imported']:.1f} MB imported, {st['sampling']:.1f} MB after a few "
          f"passes (one row each), {st['filled']:.1f} MB with the history filled")  # fmt: skip
    with spawn(settings, trace=True) as (proc, _):
        assert proc.stdout is not None
        t = _json_line(proc.stdout)
    print(f"- under tracemalloc (another run): {t['traced_mb']:.1f} MB traced")
    print(f"- history per container, {HISTORY} samples: rows {t['rows_bytes'] / 1024:.1f} KiB "
          f"({NARROW.size} B a row; {ROW.size} B in the {t['wide']} rings where a value "
          "needed 64 bits); everything history.py allocated "
          f"{t['history_bytes'] / 1024:.1f} KiB")  # fmt: skip
    print(f"- one whole Snapshot per container: {t['snapshot_bytes'] / 1024:.1f} KiB a sample "
          f"(x {HISTORY} = {t['snapshot_bytes'] * HISTORY / 2**20:.2f} MiB a container: "
          "what the old history of whole Snapshots held)")  # fmt: skip
    print("\n| top allocations (file:line) | KiB | blocks |\n|---|---:|---:|")
    for where, size, count in t["top"]:
        print(f"| {where} | {size / 1024:.0f} | {count} |")


def full(args: argparse.Namespace) -> None:
    print(f"History filled with {HISTORY} synthetic passes (the latest real sample repeated "
          "with earlier times) after a few real ones; sampling goes on at --interval.")  # fmt: skip
    if args.real:
        with real_containers(args.real), tempfile.TemporaryDirectory() as tmp:
            host = os.environ.get("DOCKER_HOST", DEFAULT_DOCKER_HOST)
            settings = {"docker_host": host, "journal": f"{tmp}/events.db",
                        "interval": args.interval}  # fmt: skip
            full_case(f"{args.real} real containers (and the others on the engine)", settings)
    if args.generated:
        shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
        with tempfile.TemporaryDirectory(dir=shm) as tmp:
            make_tree(Path(tmp), args.generated)
            settings = {"no_docker": True, "journal": None, "interval": args.interval,
                        "proc_root": f"{tmp}/proc", "cgroup_root": f"{tmp}/cgroup"}  # fmt: skip
            full_case(f"{args.generated} generated containers (pure v2, no Docker)", settings)


# -- churn ------------------------------------------------------------------------------


async def churn(args: argparse.Namespace) -> None:
    label = f"watchdog.bench.memory={secrets.token_hex(4)}"
    stop = asyncio.Event()
    created = 0

    async def one() -> None:
        nonlocal created
        proc = await asyncio.create_subprocess_exec(
            DOCKER, "run", "-d", "--rm", "--network", "none", "--label", label, IMAGE,
            "sleep", "1", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        created += await proc.wait() == 0

    async def loop_every(session: aiohttp.ClientSession, base: str) -> None:
        tasks: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            task = asyncio.create_task(one())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            for path in ("/metrics", "/api/v1/containers"):
                async with session.get(base + path) as resp:
                    await resp.read()
            await asyncio.sleep(args.every)
        if tasks:
            await asyncio.wait(tasks)

    async def events(session: aiohttp.ClientSession, base: str) -> None:
        async with session.get(base + "/api/v1/events") as resp:
            async for _ in resp.content:
                pass

    tune_allocator()  # as serve does
    tracemalloc.start(4)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            docker_host=os.environ.get("DOCKER_HOST", DEFAULT_DOCKER_HOST), journal=f"{tmp}/ev.db"
        )
        async with running(settings) as (agent, base):
            timeout = aiohttp.ClientTimeout(total=None)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                reader = asyncio.create_task(events(session, base))
                work = asyncio.create_task(loop_every(session, base))
                print("| minute | RSS MB | traced MB | created | history rings |")
                print("|---:|---:|---:|---:|---:|")
                start = time.monotonic()
                first: tracemalloc.Snapshot | None = None
                while (t := time.monotonic() - start) < args.minutes * 60:
                    traced = tracemalloc.get_traced_memory()[0] / 2**20
                    print(f"| {t / 60:5.1f} | {rss_mb():6.1f} | {traced:6.1f} | {created:4d} "
                          f"| {len(agent.store.rows)} |", flush=True)  # fmt: skip
                    if first is None and t >= args.settle * 60:
                        gc.collect()
                        first = tracemalloc.take_snapshot()
                    await asyncio.sleep(30)
                stop.set()
                try:
                    await asyncio.wait_for(work, 60)
                except TimeoutError:
                    print("(churn tasks did not end in 60 s: cancelled)")
                reader.cancel()
                await asyncio.wait([reader])
                gc.collect()
                last = tracemalloc.take_snapshot()
    ids = docker("ps", "-aq", "--filter", f"label={label}").split()
    if ids:
        docker("rm", "-f", *ids)
    if first is not None:
        print(f"\n| grew from minute {args.settle} to the end (traceback) | KiB | blocks |")
        print("|---|---:|---:|")
        for stat in last.compare_to(first, "traceback")[:15]:
            frames = " < ".join(
                f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in stat.traceback
            )
            print(f"| {frames} | {stat.size_diff / 1024:+.1f} | {stat.count_diff:+d} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="what", required=True)
    f = sub.add_parser("full")
    f.add_argument("--generated", type=int, default=1000)
    f.add_argument("--real", type=int, default=50)
    f.add_argument("--interval", type=float, default=1.0)
    k = sub.add_parser("child")  # internal: the agent with its history filled
    k.add_argument("settings")
    k.add_argument("--trace", action="store_true")
    c = sub.add_parser("churn")
    c.add_argument("--minutes", type=float, default=10.0)
    c.add_argument("--settle", type=float, default=3.0)
    c.add_argument("--every", type=float, default=2.0)
    args = ap.parse_args()
    if args.what == "child":
        asyncio.run(child(args.settings, args.trace))
        return
    if args.what == "full":
        full(args)
    else:
        asyncio.run(churn(args))
    print(json.dumps({"rss_mb_end": rss_mb()}))


if __name__ == "__main__":
    main()
