"""Does a disk sample (Docker's /system/df) delay stats sampling?

    python -m bench.disk [--quick] [--images 200] [--volumes 200] [--files 200]
                         [--containers 10] [--seconds 20] [--interval 0.5]
                         [--docker-host unix:///...]

Creates, on the engine (``--docker-host``, else ``$DOCKER_HOST``, else the test engine),
labelled objects of its own: ``--images`` dangling images (``docker import`` of a small
tarball each), ``--volumes`` volumes holding ``--files`` files of 4 KiB each (what
/system/df walks) and ``--containers`` sleeping containers (what the sampler samples).
Then runs the agent's parts in this process (the app's contexts, no HTTP listener) with
``--interval`` and measures the interval between consecutive snapshots for
``--seconds``: first with no disk sample, then while disk samples run back to back
(``refresh()`` with no rate limit). Prints a Markdown table (key ``disk-sampling``);
removes only what it made. ``--quick``: 2 images, 2 volumes of 2 files, 1 container,
3 s a phase. Without an engine answering, it says so on stderr and prints no table. Not
in ``python -m bench``'s default run (making 200 images and 40,000 files takes minutes):
``python -m bench --only disk``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import itertools
import os
import secrets
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from bench.machine import docker_version
from bench.tableout import progress, skipped, table
from watchdog_agent.agent.wiring import Agent
from watchdog_agent.config import Settings
from watchdog_agent.server.app import create_app

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
TEST_ENGINE = "unix:///tmp/wd-engine/docker.sock"
IMAGE = "watchdog-test/busybox:latest"


class Engine:
    def __init__(self, host: str) -> None:
        self.host = host
        self.label = f"watchdog.bench=disk-{secrets.token_hex(4)}"

    def run(self, *args: str, timeout: float = 300) -> str:
        env = {**os.environ, "DOCKER_HOST": self.host}
        proc = subprocess.run([DOCKER, *args], env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)  # fmt: skip
        if proc.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args[:3])}: {proc.stderr.strip()}")
        return proc.stdout

    def make_image(self, tmp: Path, n: int) -> str:
        path = tmp / f"img{n}.tar"
        with tarfile.open(path, "w") as tar:
            data = f"bench image {n} {self.label}\n".encode() * 100
            info = tarfile.TarInfo("data.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        return self.run("import", "--change", f"LABEL {self.label}", str(path)).strip()

    def make_volumes(self, names: list[str], files: int) -> None:
        mounts = [a for i, v in enumerate(names) for a in ("-v", f"{v}:/v/{i}")]
        script = (f"for d in /v/*; do i=0; while [ $i -lt {files} ]; do "
                  "dd if=/dev/zero of=$d/f$i bs=4096 count=1 2>/dev/null; i=$((i+1)); "
                  "done; done")  # fmt: skip
        self.run("run", "--rm", "--network", "none", "--label", self.label, *mounts,
                 IMAGE, "sh", "-c", script, timeout=1800)  # fmt: skip


def summary(intervals: list[float]) -> tuple[float, float, float, float]:
    ordered = sorted(intervals)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return statistics.mean(ordered), statistics.median(ordered), p99, ordered[-1]


async def measure(agent: Agent, seconds: float, disk: bool) -> tuple[list[float], list[float]]:
    """Snapshot intervals over ``seconds``; with ``disk``, disk samples back to back
    meanwhile (their durations returned too)."""
    sampler = agent.disk
    assert sampler is not None
    durations: list[float] = []
    stop = asyncio.Event()

    async def disk_loop() -> None:
        sampler.min_refresh = 0.0
        while not stop.is_set():
            usage = await sampler.refresh()
            durations.append(usage.duration_seconds)

    task = asyncio.create_task(disk_loop()) if disk else None
    stamps: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        latest = agent.store.latest
        if latest is not None and (not stamps or latest.taken_at != stamps[-1]):
            stamps.append(latest.taken_at)
        await asyncio.sleep(0.01)
    stop.set()
    if task is not None:
        await task
    return [b - a for a, b in itertools.pairwise(stamps)], durations


async def bench(host: str, interval: float, seconds: float) -> list[list[str]]:
    agent = Agent(Settings(docker_host=host, interval=interval, disk_interval=3600.0,
                           journal=None))  # fmt: skip
    runner = web.AppRunner(create_app(agent.settings, agent))
    await runner.setup()  # the agent's contexts, no listener
    try:
        while agent.store.latest is None or agent.disk is None or agent.disk.latest is None:
            await asyncio.sleep(0.1)
        table = []
        for name, disk in (("no disk sample", False), ("disk samples back to back", True)):
            intervals, durations = await measure(agent, seconds, disk)
            mean, p50, p99, worst = summary(intervals)
            dur = f"{len(durations)} x {statistics.median(durations):.2f} s" if durations else "-"
            table.append([name, str(len(intervals)), f"{mean:.3f}", f"{p50:.3f}",
                          f"{p99:.3f}", f"{worst:.3f}", dur])  # fmt: skip
        return table
    finally:
        await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    p.add_argument("--quick", action="store_true", help="a few objects, 3 s a phase")
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--volumes", type=int, default=200)
    p.add_argument("--files", type=int, default=200)
    p.add_argument("--containers", type=int, default=10)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--interval", type=float, default=0.5)
    p.add_argument("--docker-host", default=os.environ.get("DOCKER_HOST") or TEST_ENGINE)
    args = p.parse_args()
    if args.quick:
        args.images, args.volumes, args.files, args.containers, args.seconds = 2, 2, 2, 1, 3.0
    if docker_version(args.docker_host) is None:
        skipped("disk-sampling", f"no Docker engine answers at {args.docker_host}")
        return
    engine = Engine(args.docker_host)
    images: list[str] = []
    volumes = [f"wdbench-{secrets.token_hex(4)}-{i}" for i in range(args.volumes)]
    containers: list[str] = []
    try:
        start = time.monotonic()
        progress(f"making {args.images} images, {args.volumes} volumes, "
                 f"{args.containers} containers")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(4) as pool:
            images = list(pool.map(lambda n: engine.make_image(Path(tmp), n),
                                   range(args.images)))  # fmt: skip
        for v in volumes:
            engine.run("volume", "create", "--label", engine.label, v)
        for i in range(0, len(volumes), 50):
            engine.make_volumes(volumes[i : i + 50], args.files)
        for _ in range(args.containers):
            containers.append(engine.run("run", "-d", "--network", "none", "--label",
                                         engine.label, IMAGE, "sleep", "3600").strip())  # fmt: skip
        made = time.monotonic() - start
        print(f"made {len(images)} images, {len(volumes)} volumes x {args.files} files, "
              f"{len(containers)} containers in {made:.0f} s", file=sys.stderr)  # fmt: skip
        progress(f"two phases of {args.seconds:g} s")
        rows = asyncio.run(bench(args.docker_host, args.interval, args.seconds))
    finally:
        if containers:
            engine.run("rm", "-f", *containers)
        for i in range(0, len(volumes), 100):
            subprocess.run([DOCKER, "-H", args.docker_host, "volume", "rm", "-f",
                            *volumes[i : i + 100]], capture_output=True, check=False)  # fmt: skip
        for i in range(0, len(images), 100):
            subprocess.run([DOCKER, "-H", args.docker_host, "rmi", *images[i : i + 100]],
                           capture_output=True, check=False)  # fmt: skip
    heads = ("phase", "intervals", "mean s", "p50 s", "p99 s", "max s", "disk samples (median)")
    caption = (f"sampling interval {args.interval} s, {args.seconds:.0f} s per phase; "
               f"{args.images} images, {args.volumes} volumes x {args.files} files of 4 KiB, "
               f"{args.containers} containers sampled")  # fmt: skip
    table("disk-sampling", heads, rows, align="lrrrrrl", caption=caption)


if __name__ == "__main__":
    main()
