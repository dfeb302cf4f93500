"""Stats of N real containers, four ways side by side in the same run, against
``docker stats --no-stream``:

    python -m bench.stats_cli [--quick] [--sizes 50,200] [--repeat 7] [--cpus 0.5]
        [--docker-host unix:///...] [--own-engine]

- our API: ``GET /api/v1/containers`` of a running agent (``watchdog-agent serve`` on a
  free loopback port, no journal), fetched from this process over a new connection and
  parsed; the same command, ``watchdog-agent stats --no-stream``, through that agent
  (``$WATCHDOG_AGENT_URL``) is a row too;
- ``watchdog-agent stats --no-stream`` with no agent to find: it samples itself (one
  shared CPU window, collectors/cpuwindow.py);
- ``docker stats --no-stream`` (the 20.10 client);
- Docker's stats endpoint called for every container at once, from this process:
  ``GET /containers/{id}/stats?stream=false`` (the daemon waits for a second sample, so
  CPU % can be computed, as ``docker stats`` does) and with ``one-shot=true`` (API 1.41:
  one sample at once, no CPU %).

Each method runs ``--repeat`` times, alternating; the table gives the median, the range
and docker's median over each. A table of the floor (``python -c pass``, ``python -m
watchdog_agent version``, measured the same way) comes first: a command cannot start
faster than that.

The containers (``sleep 3600``, no network, a random ``watchdog.bench`` label) are
created and removed here through the Engine API (bench/realfleet.py). Sizes above 30 run
on a throwaway engine of this run's own (``own_engine``) unless ``--docker-host`` names
one; ``--quick`` runs 3 containers, one run of each method and no warm-up, on
``$DOCKER_HOST`` (or the test engine).
With no engine, only the floor table is printed and stderr says what was skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import aiohttp

if __package__ in (None, ""):  # `python bench/stats_cli.py`
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import realfleet

AGENT = str(Path(sys.executable).with_name("watchdog-agent"))
NO_AGENT = "http://127.0.0.1:1"  # nothing listens there: the plain row finds no agent
SHARED_LIMIT = 30  # containers at most on an engine this run did not start
SNAPSHOT_TIMEOUT = 90.0
# the commands run as installed: their bytecode cached (the warm-up run writes it when
# the caller's environment says not to)
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run(cmd: Sequence[str], env: dict[str, str] | None = None) -> str:
    return subprocess.run(list(cmd), check=True, capture_output=True, text=True, timeout=300,
                          env=CHILD_ENV if env is None else env).stdout  # fmt: skip


def timed_command(cmd: Sequence[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = run(cmd, env)
    return time.perf_counter() - t0, out


# -- the agent -----------------------------------------------------------------------------


@contextmanager
def serving(host: str) -> Iterator[str]:
    """``watchdog-agent serve`` on a free loopback port against ``host``; its URL."""
    with tempfile.TemporaryFile("w+") as log:
        argv = [AGENT, "serve", "--listen", "127.0.0.1:0", "--journal", "none",
                "--docker-host", host]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log, text=True)
        try:
            yield _address(log, proc)
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
    raise RuntimeError("watchdog-agent serve did not start")


def api_list(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/containers", timeout=30) as resp:
        doc: list[dict[str, Any]] = json.loads(resp.read())
    return doc


def with_cpu(doc: list[dict[str, Any]], ids: set[str]) -> int:
    return sum(
        1 for c in doc if c["id"] in ids and (c.get("stats") or {}).get("cpu_percent") is not None
    )


def wait_sampled(url: str, ids: set[str]) -> None:
    """Until the agent's list has CPU % for every container (two samples of each)."""
    deadline = time.monotonic() + SNAPSHOT_TIMEOUT
    while (seen := with_cpu(api_list(url), ids)) < len(ids):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the agent has CPU % for {seen} of {len(ids)} containers")
        time.sleep(0.3)


# -- Docker's stats endpoint ---------------------------------------------------------------


async def _endpoint(host: str, ids: Sequence[str], one_shot: bool) -> float:
    params = {"stream": "false", **({"one-shot": "true"} if one_shot else {})}
    connector = aiohttp.UnixConnector(path=host.removeprefix("unix://"), limit=0)
    async with aiohttp.ClientSession("http://docker", connector=connector) as session:
        # the API version of the engine (1.41 for 20.10): one-shot is read from 1.41 on
        async with session.get("/version") as resp:
            version = (await resp.json())["ApiVersion"]

        async def one(cid: str) -> None:
            async with session.get(f"/v{version}/containers/{cid}/stats", params=params) as r:
                doc = await r.json()
            if r.status != 200 or doc.get("id") != cid:
                raise RuntimeError(f"stats of {cid[:12]}: HTTP {r.status}")
            if not one_shot and not doc.get("precpu_stats", {}).get("system_cpu_usage"):
                raise RuntimeError(f"stats of {cid[:12]}: no previous sample for CPU %")

        t0 = time.perf_counter()
        await asyncio.gather(*(one(cid) for cid in ids))
        return time.perf_counter() - t0


# -- the table -----------------------------------------------------------------------------


def table(key: str, head: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print(f"<!-- table: {key} -->")
    print("| " + " | ".join(head) + " |")
    print("|---" + "|---:" * (len(head) - 1) + "|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print(flush=True)


def seconds(runs: Sequence[float]) -> tuple[str, str]:
    med = statistics.median(runs)
    fmt = "{:.3f}" if med >= 0.01 else "{:.4f}"
    return fmt.format(med), f"{fmt.format(min(runs))} - {fmt.format(max(runs))}"


def alternate(
    methods: dict[str, Callable[[], float]], repeat: int, warm: bool = True
) -> dict[str, list[float]]:
    """Every method once per round, in turn, ``repeat`` rounds (after one warm-up)."""
    runs: dict[str, list[float]] = {name: [] for name in methods}
    for fn in methods.values() if warm else ():
        fn()  # warm-up: page cache, bytecode, the engine's first answers
    for r in range(repeat):
        for name, fn in methods.items():
            runs[name].append(fn())
        say(f"  round {r + 1}/{repeat}: " + ", ".join(f"{v[-1]:.3f}" for v in runs.values()))
    return runs


def floor(repeat: int, warm: bool) -> None:
    py = sys.executable
    methods = {
        "`python -c pass`": lambda: timed_command([py, "-c", "pass"])[0],
        "`python -m watchdog_agent version`": lambda: timed_command(
            [py, "-m", "watchdog_agent", "version"]
        )[0],
        "`watchdog-agent version`": lambda: timed_command([AGENT, "version"])[0],
    }
    say("floor: interpreter start and the CLI's own start")
    runs = alternate(methods, repeat, warm)
    table("stats-floor", ["command", "median s", "runs (s)"],
          [(name, *seconds(r)) for name, r in runs.items()])  # fmt: skip


def measure(host: str, n: int, repeat: int, cpus: float | None, warm: bool) -> None:
    with realfleet.containers(host, n, cpus) as ids, serving(host) as url:
        idset = set(ids)
        label = realfleet.docker(host, "inspect", "-f", "{{json .Config.Labels}}", ids[0])
        bench_label = json.loads(label)[realfleet.LABEL]
        ours = [AGENT, "stats", "--no-stream", "--docker-host", host]
        theirs = [realfleet.DOCKER, "-H", host, "stats", "--no-stream"]
        # ours only, by label (docker's by id), always: another container can start on
        # the engine while the bench runs
        ours += ["--filter", f"label={realfleet.LABEL}={bench_label}"]
        theirs += ids
        wait_sampled(url, idset)
        plain = {**CHILD_ENV, "WATCHDOG_AGENT_URL": NO_AGENT}
        through = {**CHILD_ENV, "WATCHDOG_AGENT_URL": url}
        rows_seen: dict[str, int] = {}

        def command(name: str, cmd: list[str], env: dict[str, str] | None) -> Callable[[], float]:
            def go() -> float:
                t, out = timed_command(cmd, env)
                rows_seen[name] = len(out.splitlines()) - 1
                return t

            return go

        def api() -> float:
            t0 = time.perf_counter()
            doc = api_list(url)
            t = time.perf_counter() - t0
            rows_seen["api"] = with_cpu(doc, idset)
            return t

        methods = {
            "api": api,
            "ours": command("ours", ours, plain),
            "through": command("through", ours, through),
            "docker": command("docker", theirs, None),
            "endpoint": lambda: asyncio.run(_endpoint(host, ids, one_shot=False)),
            "one-shot": lambda: asyncio.run(_endpoint(host, ids, one_shot=True)),
        }
        say(f"{n} containers: " + ", ".join(methods) + f" ({repeat} rounds)")
        runs = alternate(methods, repeat, warm)
    for name, count in rows_seen.items():
        if count != n:
            raise RuntimeError(f"{name}: {count} rows, expected {n}")
    d = statistics.median(runs["docker"])
    labels = {
        "api": "our API: `GET /api/v1/containers` of a running agent (in-process client)",
        "ours": "`watchdog-agent stats --no-stream` (samples itself, no agent)",
        "through": "`watchdog-agent stats --no-stream` through a running agent",
        "docker": "`docker stats --no-stream`",
        "endpoint": f"Docker's `/containers/{{id}}/stats?stream=false`, {n} at once (in-process)",
        "one-shot": f"the same with `one-shot=true` (no CPU %), {n} at once (in-process)",
    }
    rows = []
    for name, label_text in labels.items():
        med, spread = seconds(runs[name])
        rows.append((label_text, med, spread, f"{d / statistics.median(runs[name]):.1f}x"))
    quota = f", `--cpus {cpus}`" if cpus is not None else ""
    table(f"stats-{n}", [f"{n} containers{quota}", "median s", "runs (s)", "docker / this"],
          rows)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 containers, 1 run, no warm-up")
    ap.add_argument("--sizes", default="50,200", help="container counts (default 50,200)")
    ap.add_argument("--containers", type=int, help="one container count (--sizes N)")
    ap.add_argument("--repeat", type=int, default=7, help="runs of each method (default 7)")
    ap.add_argument("--cpus", type=float, help="give every container this CPU quota")
    ap.add_argument("--docker-host", help="the engine to use (default: see above)")
    ap.add_argument("--own-engine", action="store_true", help="always start a throwaway one")
    args = ap.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    sizes = [3] if args.quick else [args.containers] if args.containers else sizes
    repeat = 1 if args.quick else args.repeat
    floor(repeat, warm=not args.quick)
    with ExitStack() as stack:
        if args.docker_host:
            if not realfleet.answers(args.docker_host):
                raise SystemExit(f"no engine answers on {args.docker_host}")
            host: str | None = args.docker_host
        elif args.own_engine or max(sizes) > SHARED_LIMIT:
            try:
                host = stack.enter_context(realfleet.own_engine())
            except RuntimeError as exc:
                say(f"skipped: stats of real containers (no engine of our own: {exc})")
                return 0
        else:
            host = realfleet.reachable()
        if host is None:
            say("skipped: stats of real containers (no Docker engine answers)")
            return 0
        realfleet.ensure_image(host)
        for n in sizes:
            measure(host, n, repeat, args.cpus, warm=not args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
