"""/metrics of a generated pure-v2 host of N containers (default 1,000; --quick: 100),
plain and gzip, beside prometheus_client over the same families.

    python -m bench.metrics [--quick] [--containers 1000] [--runs 200]
    (or python bench/metrics.py ...)

Markdown tables on stdout (each after its ``<!-- table: KEY -->`` line), progress on
stderr. No Docker: the host is a tree made by bench/gentree.py in /dev/shm.

- ``metrics-http-N``: ``/metrics`` over HTTP on loopback, scraped one at a time over a
  keep-alive connection (aiohttp client, bytes read as sent, not decompressed): a real
  ``watchdog-agent serve --no-docker`` over the tree, plain and gzip, text and
  OpenMetrics (what Prometheus asks for), beside prometheus_client's aiohttp handler
  (``prometheus_client.aiohttp.make_aiohttp_handler``) serving the same families (the
  tests' oracle Collector, tests/helpers/oracle.py, over a Snapshot of the same tree) in
  its own process, plain and gzip as it does them (aiohttp's compression, level 6, per
  scrape). p50 and p99 of the wall time per scrape, bytes on the wire.
- ``metrics-render-N``: in this process, what a Snapshot costs once (render and
  compress, ``MetricsCache.build``; the compression alone) and what a scrape costs from
  the cache, beside ``prometheus_client.generate_latest`` over the same families per
  scrape (with ``gzip.compress``, as its WSGI and ASGI apps do).
- ``metrics-levels-N``: zlib's levels on that body: time to compress, size.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# the oracle Collector, tests/helpers/oracle.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import aiohttp
from helpers.oracle import Oracle
from prometheus_client import CollectorRegistry, generate_latest

from bench.children import stop
from bench.gentree import make_tree
from bench.scrapers import agent_process
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.collectors.targets import discovered_targets
from watchdog_agent.exporter.cache import MetricsCache
from watchdog_agent.exporter.exposition import Format
from watchdog_agent.exporter.gzipped import LEVEL
from watchdog_agent.exporter.scrape import Scrape
from watchdog_agent.model import ContainerRef, Snapshot

ALLOW = ("com.docker.compose.project", "com.docker.compose.service")
TEXT = "text/plain;version=0.0.4"
# what Prometheus 2.42 sends (scrape/scrape.go, scrapeAcceptHeader)
PROMETHEUS_ACCEPT = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
PEER_READY = 60.0


def progress(message: str) -> None:
    print(f"metrics: {message}", file=sys.stderr, flush=True)


def named_targets(layout: Layout, named: bool = True) -> dict[str, Target]:
    """Discovered targets with the names, images and labels Docker would give them (with
    ``named``; else as ``serve --no-docker`` has them: no name, image or label)."""
    out = {}
    for i, (cid, target) in enumerate(discovered_targets(layout).items()):
        if not named:
            out[cid] = Target(id=cid, location=target.location, pid=target.pid)
            continue
        ref = ContainerRef(
            id=cid,
            name=f"app-{i:04d}",
            image=f"registry.example.com/team/service-{i % 40}:1.{i % 7}",
            labels={
                "com.docker.compose.project": f"stack{i % 25}",
                "com.docker.compose.service": f"svc{i % 40}",
                "maintainer": "ops@example.com",
            },
            started_at=1_732_780_800.0 + i,
        )
        out[cid] = Target(id=cid, location=target.location, pid=target.pid, ref=ref)
    return out


def snapshot_of(tree: Path, named: bool = True) -> tuple[Snapshot, dict[str, ContainerRef]]:
    """A Snapshot with rates (two passes) of a generated tree, and its refs."""
    layout = Layout(f"{tree}/cgroup")
    targets = named_targets(layout, named)
    sampler = Sampler(proc_root=f"{tree}/proc", mode=layout.mode)
    try:
        sampler.sample(targets)
        snapshot = sampler.sample(targets)
    finally:
        sampler.close()
    return snapshot, {cid: t.ref for cid, t in targets.items() if t.ref is not None}


def timed(fn: Callable[[], object], runs: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
        size = len(out) if isinstance(out, bytes) else size
    return times, size


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(label: str, times: list[float], size: int | None) -> str:
    p50, p99 = statistics.median(times), pct(times, 0.99)
    shown = "-" if size is None else f"{size / 1e6:.2f}"
    return f"| {label} | {len(times)} | {p50:.2f} | {p99:.2f} | {shown} |"


# ------------------------------------------------------------------ in this process


def in_process(snapshot: Snapshot, refs: dict[str, ContainerRef], runs: int) -> list[str]:
    n = len(snapshot.containers)
    registry = CollectorRegistry()
    Oracle(lambda: snapshot, refs=lambda: refs, label_allowlist=ALLOW, sampling_errors=lambda: 0,
           registry=registry)  # fmt: skip
    cache = MetricsCache(refs=lambda: refs, label_allowlist=ALLOW)
    scrape = Scrape(cache, sampling_errors=lambda: 0)
    cache.render(snapshot)
    plain = scrape.render(Format.TEXT)
    if plain != generate_latest(registry):
        raise SystemExit("the exporter's bytes differ from prometheus_client's")
    if gzip.decompress(b"".join(scrape.gzip_parts(Format.TEXT))) != plain:
        raise SystemExit("the exporter's gzip body is not its plain body")
    few = max(3, runs // 10)  # the once-per-snapshot rows are slow: fewer runs
    progress(f"in process: render and compress {few} times, scrapes {runs} times")
    render_only, _ = timed(lambda: cache.build(snapshot, forms={None}), few)
    build, _ = timed(lambda: cache.build(snapshot, forms={Format.OPENMETRICS}), few)
    text = b"".join(cache.last(Format.TEXT))  # the Snapshot's part of the body
    zipped, zsize = timed(lambda: zlib.compress(text, LEVEL), few)
    lines = [
        f"<!-- table: metrics-render-{n} -->",
        f"{n} containers, one Snapshot, in this process; wall ms per call "
        f"(python {sys.version.split()[0]}, zlib {zlib.ZLIB_RUNTIME_VERSION}).",
        "",
        "| path | runs | p50 (ms) | p99 (ms) | MB |",
        "|---|---:|---:|---:|---:|",
        row("ours, once per Snapshot: render, plain text kept", render_only, None),
        row(
            "ours, once per Snapshot: render and compress OpenMetrics, no plain copy "
            "(a Prometheus-only agent)",
            build,
            None,
        ),
        row(f"... of which compressing the text body (zlib level {LEVEL})", zipped, zsize),
        row("ours, a scrape from the cache: text", *timed(lambda: scrape.render(), runs)),
        row(
            "ours, a scrape from the cache: gzip (the per-scrape part compressed)",
            *timed(lambda: b"".join(scrape.gzip_parts(Format.TEXT)), runs),
        ),
        row(
            "prometheus_client `generate_latest`, per scrape",
            *timed(lambda: generate_latest(registry), few),
        ),
        row(
            "prometheus_client `generate_latest` + `gzip.compress`, per scrape",
            *timed(lambda: gzip.compress(generate_latest(registry)), few),
        ),
        "",
        f"<!-- table: metrics-levels-{n} -->",
        f"zlib levels on the {len(text) / 1e6:.1f} MB text body of {n} containers "
        f"(ours uses level {LEVEL}; aiohttp's compression uses 6, `gzip.compress` 9):",
        "",
        "| zlib level | runs | p50 (ms) | p99 (ms) | MB |",
        "|---|---:|---:|---:|---:|",
    ]
    for level in (1, 3, 6, 9):
        lines.append(row(str(level), *timed(partial(zlib.compress, text, level), 3)))
    return lines


# ------------------------------------------------------------------ over HTTP


def peer_main(tree: str) -> None:
    """The peer server (a child process): prometheus_client's aiohttp handler over the
    oracle's families of a Snapshot of ``tree``; prints its URL, serves until SIGTERM."""
    from aiohttp import web
    from prometheus_client.aiohttp import make_aiohttp_handler

    snapshot, refs = snapshot_of(Path(tree), named=False)  # as the agent has it, no Docker
    registry = CollectorRegistry()
    Oracle(lambda: snapshot, refs=lambda: refs, label_allowlist=ALLOW, sampling_errors=lambda: 0,
           registry=registry)  # fmt: skip

    async def serve() -> None:
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(registry))
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        print(f"http://127.0.0.1:{port}", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(serve())


@contextmanager
def agent_url(tree: Path, logdir: Path, *more: str) -> Iterator[str]:
    """``watchdog-agent serve`` over the tree (bench/scrapers.py), ready; its base URL."""
    with agent_process(tree, logdir, *more) as (_, base):
        asyncio.run(ready(base))
        yield base


@contextmanager
def peer_process(tree: Path) -> Iterator[str]:
    cmd = [sys.executable, __file__, "--peer", str(tree)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if not line.startswith("http://"):
            raise RuntimeError(f"the prometheus_client server did not start ({proc.wait()})")
        yield line
    finally:
        stop(proc, 15)


async def scrapes(url: str, accept: str, encoding: str, runs: int) -> tuple[list[float], int, str]:
    """(ms per scrape, bytes on the wire of the last, its Content-Encoding)."""
    headers = {"Accept": accept, "Accept-Encoding": encoding}
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as http:

        async def one() -> tuple[int, str]:
            async with http.get(url, headers=headers) as resp:
                if resp.status != 200:
                    raise RuntimeError(f"{url}: HTTP {resp.status}")
                return len(await resp.read()), resp.headers.get("Content-Encoding", "identity")

        await one()  # warm-up: the connection, a first rendering
        times, size, coding = [], 0, ""
        for _ in range(runs):
            t0 = time.perf_counter()
            size, coding = await one()
            times.append((time.perf_counter() - t0) * 1e3)
    return times, size, coding


async def ready(base: str) -> None:
    deadline = time.monotonic() + PEER_READY
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("the agent did not get ready")


def over_http(tree: Path, logdir: Path, n: int, runs: int, quick: bool) -> list[str]:
    kinds = [  # (label, accept, accept-encoding)
        ("text, plain", TEXT, "identity"),
        ("text, gzip", TEXT, "gzip"),
        ("OpenMetrics, gzip (Prometheus's request)", PROMETHEUS_ACCEPT, "gzip"),
    ]
    lines = [
        f"<!-- table: metrics-http-{n} -->",
        f"`/metrics` of {n} generated containers (no Docker: no names or images) over HTTP "
        "on loopback, sequential scrapes over one keep-alive connection (aiohttp "
        f"{aiohttp.__version__} client in this process, each server in its own; bytes "
        "read as sent); ms per scrape. Sampling every second, most scrapes find a new "
        "Snapshot and start its rendering (in a thread, holding the GIL for most of it; "
        "they are answered from the previous one); sampling every 60 s, the agent serves "
        "one Snapshot (the scrape alone).",
        "",
        "| server | body | scrapes | p50 (ms) | p99 (ms) | bytes on the wire | Content-Encoding |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    servers: list[tuple[str, Callable[[], AbstractContextManager[str]], int]] = [
        ("`watchdog-agent serve`, sampling every 1 s", partial(agent_url, tree, logdir), runs),
        ("`watchdog-agent serve`, sampling every 60 s",
         partial(agent_url, tree, logdir, "--interval", "60"), runs),
        # seconds a scrape at 1,000 containers: fewer
        ("prometheus_client aiohttp handler", partial(peer_process, tree), max(3, runs // 10)),
    ]  # fmt: skip
    if quick:  # the same code as at 1 s
        progress("quick: not the agent sampling every 60 s")
        del servers[1]
    for name, context, count in servers:
        with context() as base:
            for label, accept, encoding in kinds:
                progress(f"over HTTP: {name}, {label}")
                times, size, coding = asyncio.run(
                    scrapes(f"{base}/metrics", accept, encoding, count)
                )
                if coding != encoding:
                    raise SystemExit(f"{name} answered {coding} to {encoding}")
                lines.append(
                    f"| {name} | {label} | {len(times)} | {statistics.median(times):.1f} "
                    f"| {pct(times, 0.99):.1f} | {size:,} | {coding} |"
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="100 containers, few runs")
    parser.add_argument("--containers", "-n", type=int, default=None)
    parser.add_argument("--runs", type=int, default=None, help="scrapes per row")
    parser.add_argument("--peer", help=argparse.SUPPRESS)  # the peer server's child
    args = parser.parse_args(argv)
    if args.peer:
        peer_main(args.peer)
        return 0
    n = args.containers or (100 if args.quick else 1000)
    runs = args.runs or (5 if args.quick else 100)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="wd-metrics-", dir=shm) as tmp:
        tree = Path(tmp) / "tree"
        progress(f"making a tree of {n} containers")
        make_tree(tree, n, lean=True)
        snapshot, refs = snapshot_of(tree)
        if len(snapshot.containers) != n:
            raise SystemExit(f"sampled {len(snapshot.containers)} containers, not {n}")
        lines = over_http(tree, Path(tmp), n, runs, args.quick)
        lines += ["", *in_process(snapshot, refs, runs)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
