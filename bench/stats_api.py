"""Stats of N real containers (default 50) from the agent's HTTP API next to
``docker stats --no-stream``, same run, same containers.

    python -m bench.stats_api [--quick] [--containers 50] [--repeat 3]
        [--docker-host unix:///...] [--own-engine]

The engine: ``--docker-host`` when given; else, for more than 30 containers, a throwaway
engine of this run's own (bench/realfleet.py: under /tmp/wdb-<random>, ``--bridge=none``,
no iptables, its own cgroup parent, stopped at the end; ``--own-engine`` always starts
one); else ``$DOCKER_HOST`` or the test engine. ``--quick``: 3 containers, 1 run. With
no engine, nothing is measured (stderr says so).

The containers (``--network none``, a random ``watchdog.bench`` label, ``sleep 3600``,
created through the Engine API) are started first, then ``watchdog-agent serve --listen
127.0.0.1:0 --journal none`` against that engine; once its snapshot holds every
container with stats, each method runs ``--repeat`` times, interleaved:

- ``GET /api/v1/containers`` (aiohttp in this process, a new connection each time, the
  JSON parsed): every running container with its latest stats;
- ``GET /api/v1/containers/{id}/stats`` once per container, one after the other over a
  keep-alive connection;
- ``curl`` of ``/api/v1/containers`` (a process per fetch, like a CLI);
- ``/usr/bin/docker stats --no-stream`` (with the ids when the engine runs other
  containers too).

Prints a Markdown table (``<!-- table: api-N -->``) of the medians and the ratio docker /
ours (goal: >= 50), what it saw on stderr. The containers are removed, the agent stopped
(SIGTERM) and a started engine stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import aiohttp

if __package__ in (None, ""):  # `python bench/stats_api.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.realfleet import containers as bench_containers
from bench.realfleet import docker, ensure_image, own_engine, reachable, say
from bench.scrapers import serve

SHARED_LIMIT = 30  # containers at most on an engine this run did not start
GOAL = 50.0
SNAPSHOT_TIMEOUT = 60.0


@contextmanager
def agent(host: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="wdb-agent-") as tmp:
        args = ["--docker-host", host, "--journal", "none"]
        with serve(args, Path(tmp)) as (_proc, url):
            yield url


def with_stats(doc: list[dict[str, Any]], ids: set[str]) -> int:
    return sum(1 for c in doc if c["id"] in ids and c.get("stats") is not None)


async def wait_snapshot(base: str, ids: set[str]) -> tuple[float, list[dict[str, Any]]]:
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{base}/api/v1/containers") as r:
                    doc = await r.json() if r.status == 200 else []
            except aiohttp.ClientError:
                doc = []
            if with_stats(doc, ids) == len(ids):
                return time.perf_counter() - t0, doc
            if time.perf_counter() - t0 > SNAPSHOT_TIMEOUT:
                raise RuntimeError(
                    f"after {SNAPSHOT_TIMEOUT:.0f} s the agent has stats for "
                    f"{with_stats(doc, ids)} of {len(ids)} containers"
                )
            await asyncio.sleep(0.2)


async def list_once(base: str, ids: set[str]) -> float:
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api/v1/containers") as r:
        doc = json.loads(await r.read())
    elapsed = time.perf_counter() - t0
    if r.status != 200 or with_stats(doc, ids) != len(ids):
        raise RuntimeError(f"/api/v1/containers: HTTP {r.status}, {with_stats(doc, ids)} stats")
    return elapsed


async def each_once(base: str, ids: list[str]) -> float:
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        for cid in ids:
            async with session.get(f"{base}/api/v1/containers/{cid}/stats") as r:
                doc = json.loads(await r.read())
            if r.status != 200 or doc.get("sampled_at") is None:
                raise RuntimeError(f"/api/v1/containers/{cid[:12]}/stats: HTTP {r.status}")
    return time.perf_counter() - t0


def curl_once(base: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["curl", "-sf", "-o", "/dev/null", f"{base}/api/v1/containers"], check=True, timeout=30
    )
    return time.perf_counter() - t0


def docker_once(host: str, extra: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    out = docker(host, "stats", "--no-stream", *extra)
    return time.perf_counter() - t0, len(out.splitlines()) - 1


def measure(host: str, ids: list[str], base: str, repeat: int) -> list[str]:
    """The table's lines (Markdown, after its key line); what was seen goes to stderr."""
    idset = set(ids)
    waited, doc = asyncio.run(wait_snapshot(base, idset))
    running = docker(host, "ps", "-q", "--no-trunc").split()
    extra = [] if set(running) == idset else ids
    stats_keys = sorted(next(c for c in doc if c["id"] in idset)["stats"])
    lists, each, curls, dockers = [], [], [], []
    rows = 0
    for r in range(repeat):
        lists.append(asyncio.run(list_once(base, idset)))
        each.append(asyncio.run(each_once(base, ids)))
        if shutil.which("curl"):
            curls.append(curl_once(base))
        t, rows = docker_once(host, extra)
        dockers.append(t)
        say(f"  round {r + 1}/{repeat}: list {lists[-1]:.4f} s, docker {t:.3f} s")
    if rows != len(ids):
        raise RuntimeError(f"docker stats printed {rows} rows, expected {len(ids)}")
    say(f"engine {host}: {len(running)} running containers, {len(ids)} of them ours; "
        f"the agent had stats for all {len(ids)} {waited:.1f} s after it listened; "
        f"each container's `stats`: {', '.join(stats_keys)}")  # fmt: skip
    if not curls:
        say("skipped: the curl row (curl is not installed)")
    d = statistics.median(dockers)
    docker_cmd = "`docker stats --no-stream`" + (f" <{len(ids)} ids>" if extra else "")
    n = len(ids)
    methods = [
        ("`GET /api/v1/containers` (aiohttp, new connection)", lists),
        (f"{n} x `GET /api/v1/containers/{{id}}/stats` (sequential, keep-alive)", each),
        ("`curl` of `/api/v1/containers` (a process per fetch)", curls),
        (docker_cmd, dockers),
    ]
    lines = [
        f"| {n} containers | median ms | runs (ms) | docker / this |",
        "|---|---:|---:|---:|",
    ]
    for label, runs in methods:
        if not runs:
            continue
        med = statistics.median(runs)
        shown = f"{min(runs) * 1e3:,.1f} - {max(runs) * 1e3:,.1f}"
        lines.append(f"| {label} | {med * 1e3:,.1f} | {shown} | {d / med:.0f}x |")
    ratio = d / statistics.median(lists)
    verdict = "meets" if ratio >= GOAL else "misses"
    say(f"GET /api/v1/containers is {ratio:.0f}x faster than docker stats --no-stream: "
        f"{verdict} the {GOAL:.0f}x goal")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 containers, 1 run")
    parser.add_argument("--containers", "-n", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--docker-host", help="engine to use (default: see above)")
    parser.add_argument("--own-engine", action="store_true", help="always start a throwaway one")
    args = parser.parse_args(argv)
    n, repeat = (3, 1) if args.quick else (args.containers, args.repeat)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.perf_counter()
    with ExitStack() as stack:
        host: str
        if args.docker_host:
            if reachable(args.docker_host) != args.docker_host:
                raise SystemExit(f"no engine answers on {args.docker_host}")
            host = args.docker_host
        elif args.own_engine or n > SHARED_LIMIT:
            try:
                host = stack.enter_context(own_engine())
            except RuntimeError as exc:
                say(f"skipped: the API against docker stats (no engine of our own: {exc})")
                return 0
        else:
            found = reachable()
            if found is None:
                say("skipped: the API against docker stats (no Docker engine answers)")
                return 0
            host = found
        say(f"using the engine on {host}")
        ensure_image(host)
        ids = stack.enter_context(bench_containers(host, n))
        base = stack.enter_context(agent(host))
        lines = measure(host, ids, base, repeat)
    print(f"<!-- table: api-{n} -->")
    print("\n".join(lines))
    print(flush=True)
    say(f"wall time of the whole run, set-up and clean-up included: "
        f"{time.perf_counter() - t0:.0f} s")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
