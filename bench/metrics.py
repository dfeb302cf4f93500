"""/metrics cost on a generated pure-v2 host: one Snapshot of N containers (default 1,000).

    python bench/metrics.py [--containers 1000] [--runs 200]

Prints a Markdown table of wall time per call (p50, p99):

- the per-cycle render (``MetricsCache.render`` of a new Snapshot: what the first scrape
  after a sampling pass, or the sampler's thread, pays once);
- a scrape from the cache (``Scrape.render``: the cached Snapshot bytes plus the
  per-scrape families), text and OpenMetrics;
- plain ``prometheus_client.generate_latest`` over the same families, built by the tests'
  oracle Collector (tests/helpers/oracle.py): through the registry (``collect()`` builds
  the families, then they are rendered: what a scrape would cost with a Collector and no
  cache) and over families built beforehand (rendering alone).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# the oracle Collector, tests/helpers/oracle.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from helpers.oracle import Oracle
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric

from bench.gentree import make_tree
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.collectors.targets import discovered_targets
from watchdog_agent.exporter.cache import MetricsCache
from watchdog_agent.exporter.exposition import Format
from watchdog_agent.exporter.scrape import Scrape
from watchdog_agent.model import ContainerRef, Snapshot

GOAL_MS = 50.0
ALLOW = ("com.docker.compose.project", "com.docker.compose.service")


def named_targets(layout: Layout) -> dict[str, Target]:
    """Discovered targets with the names, images and labels Docker would give them."""
    out = {}
    for i, (cid, target) in enumerate(discovered_targets(layout).items()):
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


def row(label: str, times: list[float], size: int) -> str:
    p50, p99 = statistics.median(times), pct(times, 0.99)
    return f"| {label:<58} | {len(times):>4} | {p50:>9.2f} | {p99:>9.2f} | {size / 1e6:>6.2f} |"


def run(containers: int, runs: int) -> list[str]:
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        make_tree(Path(tmp), containers, lean=True)
        layout = Layout(f"{tmp}/cgroup")
        targets = named_targets(layout)
        sampler = Sampler(proc_root=f"{tmp}/proc", mode=layout.mode)
        sampler.sample(targets)
        snapshot = sampler.sample(targets)  # the second pass has rates
        sampler.close()
    assert len(snapshot.containers) == containers, len(snapshot.containers)
    refs = {cid: t.ref for cid, t in targets.items() if t.ref is not None}

    def cache() -> MetricsCache:
        return MetricsCache(refs=lambda: refs, label_allowlist=ALLOW)

    def latest() -> Snapshot:
        return snapshot

    def fresh_render() -> bytes:  # a new cache each time: the per-cycle render
        return cache().render(snapshot, Format.TEXT)

    registry = CollectorRegistry()
    Oracle(latest, refs=lambda: refs, label_allowlist=ALLOW, sampling_errors=lambda: 0,
           registry=registry)  # fmt: skip
    scrape = Scrape(cache(), sampling_errors=lambda: 0)
    scrape.cache.render(snapshot)  # the one per-cycle render
    if scrape.render(Format.TEXT) != generate_latest(registry):
        raise SystemExit("the exporter's bytes differ from prometheus_client's")
    families = list(registry.collect())

    class Prebuilt:
        def collect(self) -> list[Metric]:
            return families

    lines = [
        f"{containers} containers, one Snapshot; wall ms per call "
        f"(python {sys.version.split()[0]}).",
        "",
        f"| {'path':<58} | runs | p50 (ms) | p99 (ms) | MB     |",
        f"|{'-' * 60}|-----:|----------:|----------:|-------:|",
    ]
    render_times, size = timed(fresh_render, runs)
    lines.append(row("per-cycle render (MetricsCache.render, new Snapshot)", render_times, size))
    from_cache, size = timed(lambda: scrape.render(Format.TEXT), runs)
    lines.append(row("scrape from the cache, text 0.0.4", from_cache, size))
    om, size = timed(lambda: scrape.render(Format.OPENMETRICS), runs)
    lines.append(row("scrape from the cache, OpenMetrics", om, size))
    via_registry, size = timed(lambda: generate_latest(registry), runs)
    lines.append(row("generate_latest(registry): collect() + render", via_registry, size))
    rendering, size = timed(lambda: generate_latest(Prebuilt()), runs)
    lines.append(row("generate_latest over prebuilt families (render only)", rendering, size))
    p50 = statistics.median(from_cache)
    verdict = "meets" if p50 <= GOAL_MS else "MISSES"
    lines += ["", f"Scrape p50 {p50:.2f} ms {verdict} the {GOAL_MS:.0f} ms goal."]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--containers", "-n", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args(argv)
    print("\n".join(run(args.containers, args.runs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
