"""Sampling cost per container per pass, and the share of one core it takes at a 1 s and
a 10 s interval: generated pure-v2 trees (100, 1,000 and 5,000 containers) and, when a
Docker engine answers at DOCKER_HOST, real containers (200; created and removed here).

    python -m bench.sampling [--quick] [--passes 20] [--rounds 3] [--real 200]
                             [--sizes 100,1000,5000] [--default-gc]

Each figure is CPU time (``process_time``) of ``Sampler.sample`` alone (the counters are
moved between passes, outside the timing), averaged over a round of passes after two
warm-up passes; the median of the rounds, which alternate between the schedules so the
machine's load hits all alike. The schedules, on the same tree in the same run:

- before: every file of every container read and parsed on every pass, limits every
  tenth pass (what the sampler did until Step 9);
- 1 s: the sampler's defaults at a 1 s interval (the rest of a container that did not
  move read every tenth pass, limits every 60th);
- 10 s: at a 10 s interval every pass is at least ``full_seconds`` after the previous
  one, so everything but the limits is read every pass (limits every sixth).

Counters moving: none (idle), every counter of one container in five each pass (mix),
or every counter of every container each pass (busy: CPU, memory, io, network, PSI).
Real containers are idle (``sleep``): moving 200 real ones every pass would load this
shared machine more than it measures; a busy real container is read as "before" reads.
Progress goes to stderr; the tables to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gentree import TreeCounters, make_tree
from watchdog_agent.agent import gctune
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.fileio import FileReader
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.collectors.targets import TargetCache, discovered_targets
from watchdog_agent.docker.decode import container_from_inspect
from watchdog_agent.model import CgroupMode

T = TypeVar("T")
IMAGE = "watchdog-test/busybox:latest"
PARALLEL = 8  # Engine API calls at once while creating or removing real containers
SCHEDULES = ("before", "1 s", "10 s")
SCENARIOS = {"idle": 0, "mix": 5, "busy": 1}  # one container in N moves each pass (0: none)
TUNE_GC = True


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class ReadEverything(FileReader):
    """A reader for which every file changed since its last read: the sampler then reads
    and parses everything on every pass, as it did before Step 9."""

    def memo(self, path: str, parser: Callable[[bytes], T]) -> tuple[T | None, bool]:
        return self.get(path, parser), False


def make_sampler(schedule: str, proc_root: str, mode: CgroupMode) -> Sampler:
    if schedule == "before":
        sampler = Sampler(proc_root, mode, 10, limits_seconds=float("inf"), full_every=1)
        sampler.files = ReadEverything()
        return sampler
    if schedule == "10 s":  # passes 10 s apart: each is due for everything, limits 1 in 6
        return Sampler(proc_root, mode, 6, limits_seconds=float("inf"), full_every=1)
    return Sampler(proc_root, mode)  # 1 s: the defaults (10 passes / 10 s, limits 60)


def run_round(
    sampler: Sampler, targets: Mapping[str, Target], passes: int, move: Callable[[int], None]
) -> float:
    """Mean CPU µs per container per pass over ``passes`` passes."""
    total = 0.0
    for p in range(passes):
        move(p)
        c0 = time.process_time()
        snap = sampler.sample(targets)
        total += time.process_time() - c0
        if len(snap.containers) != len(targets):
            raise RuntimeError(f"sampled {len(snap.containers)} of {len(targets)} containers")
    return total / passes / len(targets) * 1e6


def compare(
    targets: Mapping[str, Target],
    proc_root: str,
    mode: CgroupMode,
    passes: int,
    rounds: int,
    move: Callable[[int], None],
) -> dict[str, float]:
    """Median µs/container/pass of each schedule, rounds alternating between them. One
    sampler at a time (each keeps its descriptors: three would pass RLIMIT_NOFILE)."""
    results: dict[str, list[float]] = {s: [] for s in SCHEDULES}
    if TUNE_GC:
        gctune.tune_for_service()
    for r in range(rounds):
        for name in SCHEDULES:
            sampler = make_sampler(name, proc_root, mode)
            try:
                for _ in range(2):  # warm-up: descriptors opened, first reads
                    sampler.sample(targets)
                results[name].append(run_round(sampler, targets, passes, move))
            finally:
                sampler.close()
        log(f"    round {r + 1}/{rounds}: " + ", ".join(
            f"{n} {v[-1]:.1f} µs" for n, v in results.items()))  # fmt: skip
    return {name: statistics.median(values) for name, values in results.items()}


def core_percent(us: float, n: int, interval: float) -> float:
    return us * n / (interval * 1e6) * 100.0


def table_row(source: str, n: int, moving: str, us: Mapping[str, float]) -> str:
    before, one, ten = us["before"], us["1 s"], us["10 s"]
    return (
        f"| {source} | {n:,} | {moving} | {before:.1f} | {one:.1f} | {ten:.1f} "
        f"| {core_percent(before, n, 1):.1f} | {core_percent(one, n, 1):.1f} "
        f"| {core_percent(before, n, 10):.2f} | {core_percent(ten, n, 10):.2f} |"
    )


HEADER = (
    "| source | containers | counters moving | µs before | µs at 1 s | µs at 10 s "
    "| % core 1 s before | % core 1 s now | % core 10 s before | % core 10 s now |\n"
    "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
)


class Mover:
    """Between passes: moves every counter of one container in ``every`` (0: none),
    a different one each pass."""

    def __init__(self, counters: TreeCounters, n: int, every: int) -> None:
        self.counters, self.n, self.every = counters, n, every

    def __call__(self, p: int) -> None:
        if self.every:
            self.counters.bump(range(p % self.every, self.n, self.every))


def generated(n: int, passes: int, rounds: int) -> list[str]:
    rows = []
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None  # in memory, like cgroupfs
    with tempfile.TemporaryDirectory(dir=shm, prefix="wd-bench-sampling-") as tmp:
        log(f"generated tree: writing {n} containers")
        make_tree(Path(tmp), n, lean=True)
        layout = Layout(f"{tmp}/cgroup")
        targets = discovered_targets(layout)
        counters = TreeCounters(Path(tmp), n, lean=True)
        for scenario, every in SCENARIOS.items():
            log(f"  {n} containers, {scenario}")
            move = Mover(counters, n, every)
            us = compare(targets, f"{tmp}/proc", layout.mode, passes, rounds, move)
            label = {"idle": "none", "mix": "1 in 5 containers", "busy": "all"}[scenario]
            rows.append(table_row("generated pure v2", n, label, us))
    return rows


# -- real containers ---------------------------------------------------------------------


def docker_socket() -> str | None:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    return host.removeprefix("unix://") if host.startswith("unix://") else None


async def create_real(sock: str, n: int, label: str) -> list[dict[str, Any]]:
    """Create and start ``n`` labelled idle containers (no network); their inspect docs."""
    import aiohttp

    limit = asyncio.Semaphore(PARALLEL)
    ids: list[str] = []
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as api:

        async def one(i: int) -> None:
            body = {
                "Image": IMAGE,
                "Cmd": ["sleep", "3600"],
                "Labels": {"watchdog.bench": label},
                "HostConfig": {"NetworkMode": "none"},
            }
            async with limit:
                async with api.post("http://docker/containers/create", json=body) as resp:
                    if resp.status != 201:
                        raise RuntimeError(f"create: {resp.status} {await resp.text()}")
                    cid = (await resp.json())["Id"]
                ids.append(cid)
                async with api.post(f"http://docker/containers/{cid}/start") as resp:
                    if resp.status != 204:
                        raise RuntimeError(f"start: {resp.status} {await resp.text()}")
            if len(ids) % 50 == 0:
                log(f"  {len(ids)} of {n} started")

        try:
            await asyncio.gather(*(one(i) for i in range(n)))
        except BaseException:
            await remove_real(sock, label)
            raise
        docs = []
        for cid in ids:
            async with api.get(f"http://docker/containers/{cid}/json") as resp:
                docs.append(await resp.json())
        return docs


async def remove_real(sock: str, label: str) -> None:
    """Remove every container carrying this run's label (and only those)."""
    import aiohttp

    limit = asyncio.Semaphore(PARALLEL)
    filters = json.dumps({"label": [f"watchdog.bench={label}"]})
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=sock)) as api:
        params = {"all": "1", "filters": filters}
        async with api.get("http://docker/containers/json", params=params) as resp:
            found = [c["Id"] for c in await resp.json()]

        async def rm(cid: str) -> None:
            async with limit:
                params = {"force": "1"}
                async with api.delete(f"http://docker/containers/{cid}", params=params) as r:
                    if r.status not in (204, 404):
                        log(f"  could not remove {cid[:12]}: {r.status} {await r.text()}")

        await asyncio.gather(*(rm(c) for c in found))
    log(f"  removed {len(found)} bench containers")


def engine_answers(sock: str) -> str | None:
    """None when the engine answers its ping, else why not."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(sock)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            head = s.recv(64)
    except OSError as exc:
        return str(exc)
    return None if b" 200 " in head else head.decode(errors="replace")


def real(n: int, passes: int, rounds: int) -> list[str]:
    sock = docker_socket()
    why = "DOCKER_HOST is not a unix socket" if sock is None else engine_answers(sock)
    if sock is None or why is not None:
        log(f"real containers skipped: no Docker engine answers at DOCKER_HOST ({why})")
        return []
    label = f"sampling-{secrets.token_hex(4)}"
    log(f"real containers: starting {n} on {sock} (label watchdog.bench={label})")
    try:
        docs = asyncio.run(create_real(sock, n, label))
        refs = [container_from_inspect(d) for d in docs]
        layout = Layout("/sys/fs/cgroup")
        targets = TargetCache(layout, "/proc").targets(refs)
        if len(targets) != n:
            raise RuntimeError(f"found the cgroups of {len(targets)} of {n} containers")
        log(f"  {n} real containers ({layout.mode.value}), idle")
        us = compare(targets, "/proc", layout.mode, passes, rounds, lambda p: None)
        return [table_row(f"real ({layout.mode.value} host)", n, "none (sleep)", us)]
    finally:
        asyncio.run(remove_real(sock, label))


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="100 and 1,000, few passes, 10 real")
    ap.add_argument("--passes", type=int, help="passes per round (default 20; quick 3)")
    ap.add_argument("--rounds", type=int, help="rounds per schedule (default 3; quick 1)")
    ap.add_argument("--sizes", help="generated tree sizes, comma-separated")
    ap.add_argument("--real", type=int, help="real containers (default 200; quick 10; 0 skips)")
    ap.add_argument("--default-gc", action="store_true", help="Python's GC defaults")
    args = ap.parse_args(argv)
    # stopped by SIGTERM: unwind, so the tree and the real containers are removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    global TUNE_GC
    TUNE_GC = not args.default_gc
    passes = args.passes or (3 if args.quick else 20)
    rounds = args.rounds or (1 if args.quick else 3)
    default_sizes = "100,1000" if args.quick else "100,1000,5000"
    sizes = [int(s) for s in (args.sizes or default_sizes).split(",") if s]
    n_real = args.real if args.real is not None else (10 if args.quick else 200)
    rows: list[str] = []
    try:
        for n in sizes:
            rows += generated(n, passes if n < 5000 else max(2, passes // 2), rounds)
        if n_real:
            rows += real(n_real, passes, rounds)
    except (OSError, RuntimeError) as exc:
        log(f"bench.sampling failed: {exc}")
        return 1
    gc = "Python's defaults" if args.default_gc else "the agent's (gctune)"
    print("<!-- table: sampling -->")
    print(HEADER)
    print("\n".join(rows))
    log(
        f"CPU µs per container per pass: median of {rounds} rounds of {passes} passes "
        f"(5,000: {max(2, passes // 2)}); garbage collector settings: {gc}; % core: that "
        "cost times the containers, over the interval"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
