"""The agent's memory (RSS): at 0 containers, at real ones, at 1,000 generated ones with
the history full, and at 1,000 generated ones after an hour of simulated churn.

    python -m bench.memory [--quick] [--real 200] [--generated 1000] [--passes 3600]
    python bench/memory.py full [--generated 1000] [--real 50]   # and tracemalloc's view

Each case runs the agent as ``serve`` wires it (create_app and its contexts, on
127.0.0.1:0, glibc tuned as ``serve`` tunes it) in a child process of its own, and
reads the child's VmRSS after this process has read one container's ``?history=300``
and scraped ``/metrics`` (``Accept-Encoding: gzip``, as Prometheus asks).

- 0 containers: a generated tree with none (the interpreter, the libraries, the server).
- real: ``--real`` busybox containers on the engine at DOCKER_HOST (skipped, and said
  so on stderr, when none answers), and the history full, as below.
- history full: after a few real passes the history is filled with 300 synthetic passes
  whose numbers move like a busy container's (counters advancing, memory and PSI
  going up and down: what 5 minutes at 1 s leave in the rings, without the 5 minutes).
- churn: a generated tree of ``--generated`` containers in which ``--replace``
  containers are removed and as many new ones started every 15 sampling passes, and
  every container's CPU, memory, I/O and pressure files move, for ``--passes`` passes
  (3,600: an hour at 1 s). No waiting: the child runs the passes back to back, as the
  agent's sampling task does (inventory off: no Docker; targets found by cgroup path),
  with the sampler's clock faked here (one second per pass), so the history's 30 s
  grace releases removed containers as in service; this process scrapes ``/metrics``
  every 15 passes.

Markdown tables on stdout, progress on stderr. ``--quick``: 0, 10 real, 100 generated,
a churn of 45 passes.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import gc
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack, asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.children import stop
from bench.gentree import make_tree
from bench.treechurn import Tree, moving
from watchdog_agent.agent.malloctune import tune_allocator
from watchdog_agent.agent.widerows import ROW
from watchdog_agent.agent.wiring import Agent
from watchdog_agent.aio import cancel_and_wait, run_to_end
from watchdog_agent.collectors import sampler as sampler_module
from watchdog_agent.config import DEFAULT_DOCKER_HOST, Settings
from watchdog_agent.server.app import create_app

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
IMAGE = "watchdog-test/busybox:latest"
HISTORY = 300
SCRAPE_EVERY = 15  # passes between /metrics scrapes and between churn steps
GZIP = {"Accept-Encoding": "gzip"}


def say(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def docker(*args: str) -> str:
    return subprocess.run(
        [DOCKER, *args], check=True, capture_output=True, text=True, timeout=120
    ).stdout


def docker_answers() -> bool:
    try:
        docker("version", "--format", "{{.Server.Version}}")
    except (OSError, subprocess.SubprocessError):
        return False
    return True


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


@contextmanager
def real_containers(n: int) -> Iterator[str]:
    label = f"watchdog.bench.memory={secrets.token_hex(4)}"
    run = ("run", "-d", "--network", "none", "--label", label, IMAGE, "sleep", "86400")
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda _: docker(*run), range(n)))
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


# -- the child: the agent ---------------------------------------------------------------


def fill(agent: Agent) -> int:
    """HISTORY synthetic passes before the latest real one, one interval apart, with
    moving numbers (``moving``): every container's ring full. Returns the containers."""
    latest = agent.store.latest
    assert latest is not None
    step = agent.settings.interval
    rng = random.Random(1)
    for i in range(HISTORY, 0, -1):
        agent.store.rows.record(
            {cid: moving(s, i, rng) for cid, s in latest.containers.items()},
            latest.taken_at - i * step,
        )  # (moving() gives the sample times a pass's jitter)
    return len(latest.containers)


class FakeClock:
    """The sampler's ``time`` while churning: one interval per pass, no waiting."""

    def __init__(self) -> None:
        self.wall, self.mono = time.time(), time.monotonic()

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono


def history_figures(agent: Agent) -> dict[str, Any]:
    rows = agent.store.rows
    rings = list(rows._rings.values())
    held = sum(r.count for r in rings)
    return {
        "rings": len(rings),
        "wide": rows.wide,
        "row_bytes": rows.nbytes / max(1, held),
        "held": held,
        "dropped": rows.dropped,
    }


async def churn_passes(agent: Agent, stop: asyncio.Event) -> None:
    """Passes on commands from stdin (``passes N``), as Agent._sample_forever runs them,
    with the sampler's clock faked; a JSON line after each command. Ends at SIGTERM or
    when stdin closes."""
    await cancel_and_wait([agent.tasks["sampler"]])  # this loop samples instead
    clock, jitter = FakeClock(), random.Random(2)
    setattr(sampler_module, "time", clock)  # noqa: B010 - the bench's clock, not the agent's
    done = 0
    while (line := await asyncio.to_thread(sys.stdin.readline)).startswith("passes"):
        for _ in range(int(line.split()[1])):
            if stop.is_set():
                return
            tick = agent.settings.interval + jitter.random() * 0.002  # as FixedRate wakes
            clock.wall += tick
            clock.mono += tick
            snapshot, targets = await run_to_end(agent._pass, None, {})
            agent.targets = targets
            agent.store.put(snapshot)
            done += 1
        latest = agent.store.latest
        assert latest is not None
        print(json.dumps({"passes": done, "rss": rss_mb(), "sampled": len(latest.containers),
                          **history_figures(agent)}), flush=True)  # fmt: skip


async def child(settings_json: str, mode: str) -> None:
    """The agent; prints its address and figures as JSON lines, then (fill) waits for
    SIGTERM, (churn) runs passes on command, (trace) prints tracemalloc's figures."""
    tune_allocator()  # as serve does
    if mode == "trace":
        tracemalloc.start(1)
    settings = Settings(**json.loads(settings_json))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    stages = {"imported": rss_mb()}
    async with running(settings) as (agent, base):
        while agent.store.latest is None:
            await asyncio.sleep(0.05)
        if mode == "churn":
            print(json.dumps({"base": base, "stages": stages}), flush=True)
            await churn_passes(agent, stop)
            return
        await asyncio.sleep(settings.interval * 3)  # a few real passes first (rates)
        stages["sampling"] = rss_mb()
        n = fill(agent)
        stages["filled"] = rss_mb()
        print(json.dumps({"base": base, "filled": n, "stages": stages,
                          **history_figures(agent)}), flush=True)  # fmt: skip
        if mode != "trace":
            await stop.wait()
            return
        await scrape(base)  # (the body read is released before the snapshot is taken)
        await asyncio.sleep(settings.interval * 2)
        gc.collect()
        snap = tracemalloc.take_snapshot()
        latest = agent.store.latest
        by_file = snap.statistics("filename")
        history_traced = sum(s.size for s in by_file if s.traceback[0].filename.endswith(
            os.sep + "history.py"))  # fmt: skip
        top = [(_where(s.traceback[0]), s.size, s.count) for s in snap.statistics("lineno")[:12]]
        print(json.dumps({
            "history_bytes": history_traced / max(1, len(agent.store.rows)),
            "snapshot_bytes": deep_size(latest) / max(1, len(latest.containers)),
            "traced_mb": sum(s.size for s in by_file) / 2**20,
            "top": top,
        }), flush=True)  # fmt: skip


# -- this process: the cases --------------------------------------------------------------


async def scrape(base: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(base + "/metrics", headers=GZIP) as r,
    ):
        return len(await r.read())


async def check_and_scrape(base: str) -> int:
    """The history as a reader sees it (one container's ?history=300), then /metrics."""
    rows = 0
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/api/v1/containers") as resp:
            found = [c["id"] for c in await resp.json() if c["stats"]]
        if found:
            url = f"{base}/api/v1/containers/{found[0]}/stats"
            async with session.get(url, params={"history": str(HISTORY)}) as resp:
                rows = len(await resp.json())
        async with session.get(base + "/metrics", headers=GZIP) as resp:
            await resp.read()
    return rows


@contextmanager
def spawn(settings: dict[str, Any], mode: str) -> Iterator[tuple[subprocess.Popen[str], Any]]:
    cmd = [sys.executable, __file__, "child", json.dumps(settings), "--mode", mode]
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True
        )
        try:
            yield proc, _json_line(proc, err)
        finally:
            if proc.poll() is None:
                assert proc.stdin is not None
                proc.stdin.close()
                stop(proc, 30)


def _json_line(proc: subprocess.Popen[str], err: Any = None) -> Any:
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            return json.loads(line)
    if err is not None:
        err.seek(0)
        say(err.read()[-3000:])
    raise RuntimeError("the agent's process ended early (its stderr is above)")


def _where(frame: tracemalloc.Frame) -> str:
    return f"{'/'.join(frame.filename.rsplit('/', 2)[-2:])}:{frame.lineno}"


def filled_case(settings: dict[str, Any]) -> dict[str, Any]:
    """RSS with the history full (or, with no container, after a few passes)."""
    with spawn(settings, "fill") as (proc, first):
        rows = asyncio.run(check_and_scrape(first["base"]))
        time.sleep(3 * settings.get("interval", 1.0))  # real passes on top
        rss = rss_mb(proc.pid)
    say(f"  RSS {rss:.1f} MB ({first['filled']} containers, {first['row_bytes']:.1f} B a row)")
    return {**first, "history_rows": rows, "rss": rss}


@contextmanager
def generated_tree(n: int) -> Iterator[tuple[Path, list[str]]]:
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm, prefix="wd-memory-") as tmp:
        yield Path(tmp), make_tree(Path(tmp), n)


def tree_settings(root: Path, interval: float) -> dict[str, Any]:
    return {"no_docker": True, "journal": None, "interval": interval,
            "proc_root": f"{root}/proc", "cgroup_root": f"{root}/cgroup"}  # fmt: skip


def churn_case(n: int, passes: int, replace: int) -> dict[str, Any]:
    """``passes`` passes over ``n`` generated containers, ``replace`` of them replaced
    and all of them moving every SCRAPE_EVERY passes, /metrics scraped as often."""
    with generated_tree(n) as (root, ids):
        tree = Tree(root, template=ids[0])
        tree.adopt(ids)
        timeline: list[dict[str, Any]] = []
        with spawn(tree_settings(root, 1.0), "churn") as (proc, first):
            assert proc.stdin is not None
            done, mark = 0, passes / 4
            while done < passes:
                step = min(SCRAPE_EVERY, passes - done)
                tree.replace(replace)
                tree.advance(step)
                proc.stdin.write(f"passes {step}\n")
                proc.stdin.flush()
                got = _json_line(proc)
                done = got["passes"]
                asyncio.run(scrape(first["base"]))
                if done >= mark or not timeline:
                    timeline.append({**got, "rss_now": rss_mb(proc.pid)})
                    mark += passes / 4 if done >= mark else 0
                    say(f"  churn: {done} passes, {tree.made} started, {tree.removed} removed, "
                        f"RSS {timeline[-1]['rss_now']:.1f} MB")  # fmt: skip
            rows = asyncio.run(check_and_scrape(first["base"]))
            rss = rss_mb(proc.pid)
    return {**got, "rss": rss, "history_rows": rows, "stages": first["stages"],
            "started": tree.made, "removed": tree.removed, "timeline": timeline}  # fmt: skip


def contract(args: argparse.Namespace) -> None:
    quick = args.quick
    real = 10 if quick else args.real
    generated = 100 if quick else args.generated
    passes = 45 if quick else args.passes
    replace = max(1, generated // 100) if args.replace is None else args.replace
    interval = 0.2 if quick else 1.0
    rows: list[tuple[str, dict[str, Any]]] = []
    cases = set(args.cases.split(","))
    if "zero" in cases:
        say("memory: 0 containers")
        with generated_tree(0) as (root, _):
            rows.append(("0 containers", filled_case(tree_settings(root, interval))))
    if "real" not in cases:
        real = 0
    if real and docker_answers():
        say(f"memory: {real} real containers (history full)")
        host = os.environ.get("DOCKER_HOST", DEFAULT_DOCKER_HOST)
        with real_containers(real), tempfile.TemporaryDirectory() as tmp:
            settings = {"docker_host": host, "journal": f"{tmp}/events.db", "interval": interval}
            rows.append((f"{real} real (busybox), history full", filled_case(settings)))
    elif real:
        say(f"memory: no Docker engine answers at DOCKER_HOST: the {real} real containers' "
            "row is skipped")  # fmt: skip
    if "full" in cases:
        say(f"memory: {generated} generated containers (history full)")
        with generated_tree(generated) as (root, _):
            rows.append((f"{generated:,} generated, history full",
                         filled_case(tree_settings(root, interval))))  # fmt: skip
    churned: dict[str, Any] = {}
    if passes and "churn" in cases:
        say(f"memory: {generated} generated containers, {passes} passes of churn")
        churned = churn_case(generated, passes, replace)
        rows.append((f"{generated:,} generated, after {passes:,} passes of churn", churned))
    else:
        say("memory: --passes 0: no churn row")
    print("<!-- table: rss -->")
    print("| agent (`serve`, its own process) | containers sampled | history rows held "
          "| bytes a row | RSS after imports | RSS |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|")
    for label, r in rows:
        sampled = r.get("sampled", r.get("filled", 0))
        print(f"| {label} | {sampled:,} | {r['held']:,} | {r['row_bytes']:.1f} "
              f"| {r['stages']['imported']:.1f} MB | **{r['rss']:.1f} MB** |")  # fmt: skip
    if not churned:
        return
    print()
    print("<!-- table: churn -->")
    print(f"| churn at {generated:,} generated containers | passes | started | removed "
          "| rings held | rings released | wide rings | RSS |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for t in churned["timeline"]:
        print(f"| after {t['passes']:,} passes | {t['passes']:,} | | | {t['rings']:,} "
              f"| {t['dropped']:,} | {t['wide']} | {t['rss_now']:.1f} MB |")  # fmt: skip
    print(f"| end | {churned['passes']:,} | {churned['started']:,} | {churned['removed']:,} "
          f"| {churned['rings']:,} | {churned['dropped']:,} | {churned['wide']} "
          f"| {churned['rss']:.1f} MB |")  # fmt: skip


def full(args: argparse.Namespace) -> None:
    """The history full at real and generated containers, and tracemalloc's view."""
    with ExitStack() as stack:
        cases: list[tuple[str, dict[str, Any]]] = []
        if args.real:
            stack.enter_context(real_containers(args.real))
            tmp = stack.enter_context(tempfile.TemporaryDirectory())
            host = os.environ.get("DOCKER_HOST", DEFAULT_DOCKER_HOST)
            settings = {"docker_host": host, "journal": f"{tmp}/events.db", "interval": 1.0}
            cases.append((f"{args.real} real containers", settings))
        if args.generated:
            root, _ = stack.enter_context(generated_tree(args.generated))
            cases.append((f"{args.generated} generated containers", tree_settings(root, 1.0)))
        for label, settings in cases:
            r = filled_case(settings)
            with spawn(settings, "trace") as (proc, _):
                t = _json_line(proc)
            st = r["stages"]
            print(f"\n## {label}\n")
            print(f"- RSS with the history full, after a /metrics scrape: **{r['rss']:.1f} MB** "
                  f"({st['imported']:.1f} MB after imports, {st['sampling']:.1f} MB after a few "
                  f"passes, {st['filled']:.1f} MB with the history filled)")  # fmt: skip
            print(f"- history: {r['row_bytes']:.1f} B a row on average ({ROW.size} B in the "
                  f"{r['wide']} wide rings); everything history.py allocated "
                  f"{t['history_bytes'] / 1024:.1f} KiB a container; "
                  f"{t['traced_mb']:.1f} MB traced in all")  # fmt: skip
            print(f"- one whole Snapshot: {t['snapshot_bytes'] / 1024:.1f} KiB a container")
            print("\n| top allocations (file:line) | KiB | blocks |\n|---|---:|---:|")
            for where, size, count in t["top"]:
                print(f"| {where} | {size / 1024:.0f} | {count} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="0, 10 real, 100 generated, 45 passes")
    ap.add_argument("--real", type=int, default=200, help="real containers (0: none)")
    ap.add_argument("--generated", type=int, default=1000)
    ap.add_argument("--passes", type=int, default=3600, help="churn passes (1 s each)")
    ap.add_argument("--cases", default="zero,real,full,churn", help="a comma-separated subset")
    what = f"containers replaced every {SCRAPE_EVERY} passes (default 1 %% of them)"
    ap.add_argument("--replace", type=int, default=None, help=what)
    sub = ap.add_subparsers(dest="what")
    f = sub.add_parser("full", help="the history full, with tracemalloc's top allocations")
    f.add_argument("--generated", type=int, default=1000)
    f.add_argument("--real", type=int, default=50)
    k = sub.add_parser("child")  # internal: the agent
    k.add_argument("settings")
    k.add_argument("--mode", choices=("fill", "churn", "trace"), default="fill")
    args = ap.parse_args()
    if args.what == "child":
        asyncio.run(child(args.settings, args.mode))
    elif args.what == "full":
        full(args)
    else:
        contract(args)


if __name__ == "__main__":
    main()
