"""Sampling cost per container per cycle: generated pure-v2 trees (100 and 1,000
containers) and, when a Docker engine answers, real containers.

    python bench/sampling.py [--cycles 20] [--real 50]

Prints a table: CPU time (process_time) per container per cycle, with descriptors kept
open (the agent's default) and with open/read/close on every read (keep=0).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.gentree import make_tree
from watchdog_agent.agent import gctune
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.fileio import FileReader
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.collectors.targets import TargetCache, discovered_targets
from watchdog_agent.docker.decode import container_from_inspect

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
IMAGE = "watchdog-test/busybox:latest"
TUNE_GC = True


def measure(sampler: Sampler, targets: Mapping[str, Target], cycles: int) -> tuple[float, float]:
    """(median CPU µs per container per cycle, median wall ms per cycle), with the
    agent's garbage-collector settings (gctune) or Python's defaults (--default-gc)."""
    sampler.sample(targets)  # warm-up: opens the descriptors
    if TUNE_GC:
        gctune.tune_for_service()
    cpu, wall = [], []
    for _ in range(cycles):
        c0, w0 = time.process_time(), time.perf_counter()
        snap = sampler.sample(targets)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
        assert len(snap.containers) == len(targets), (len(snap.containers), len(targets))
    n = len(targets)
    return statistics.median(cpu) / n * 1e6, statistics.median(wall) * 1e3


def row(label: str, n: int, keep: bool, cpu_us: float, wall_ms: float) -> str:
    mode = "kept fds" if keep else "open/read/close"
    return f"| {label:<22} | {n:>6} | {mode:<15} | {cpu_us:>10.1f} | {wall_ms:>9.2f} |"


def generated(n: int, cycles: int) -> list[str]:
    out = []
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None  # in memory, like cgroupfs
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        make_tree(Path(tmp), n)
        layout = Layout(f"{tmp}/cgroup")
        targets = discovered_targets(layout)
        for keep in (True, False):
            sampler = Sampler(proc_root=f"{tmp}/proc", mode=layout.mode)
            if not keep:
                sampler.files = FileReader(keep=0)
            cpu_us, wall_ms = measure(sampler, targets, cycles)
            sampler.close()
            out.append(row("generated pure v2", n, keep, cpu_us, wall_ms))
    return out


def docker(*args: str) -> str:
    return subprocess.run(
        [DOCKER, *args], check=True, capture_output=True, text=True, timeout=120
    ).stdout


def real(n: int, cycles: int) -> list[str]:
    try:
        docker("version")
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return [f"| real containers        | {n:>6} | (no Docker engine answers: skipped)    |"]
    ids = [
        docker(
            "run", "-d", "--network", "none", "--label", "watchdog.bench=1", IMAGE, "sleep", "3600"
        ).strip()
        for _ in range(n)
    ]
    try:
        import json

        refs = [container_from_inspect(r) for r in json.loads(docker("inspect", *ids))]
        layout = Layout("/sys/fs/cgroup")
        targets = TargetCache(layout, "/proc").targets(refs)
        out = []
        for keep in (True, False):
            sampler = Sampler(mode=layout.mode)
            if not keep:
                sampler.files = FileReader(keep=0)
            cpu_us, wall_ms = measure(sampler, targets, cycles)
            sampler.close()
            out.append(row(f"real ({layout.mode.value})", len(targets), keep, cpu_us, wall_ms))
        return out
    finally:
        docker("rm", "-f", *ids)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cycles", type=int, default=20)
    ap.add_argument("--real", type=int, default=50, help="real containers (0: skip)")
    ap.add_argument("--default-gc", action="store_true", help="Python's GC defaults")
    args = ap.parse_args()
    global TUNE_GC
    TUNE_GC = not args.default_gc
    print(f"garbage collector: {'Python defaults' if args.default_gc else 'agent (gctune)'}")
    print("| source                 | contnrs | reads           | CPU µs/ctr | wall ms/cycle |")
    print("|------------------------|--------:|-----------------|-----------:|--------------:|")
    for n in (100, 1000):
        for line in generated(n, args.cycles):
            print(line, flush=True)
    if args.real:
        for line in real(args.real, args.cycles):
            print(line, flush=True)


if __name__ == "__main__":
    main()
