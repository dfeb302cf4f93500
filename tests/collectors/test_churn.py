"""Sampling while containers come and go: no exception, no zero rows, no negative rates.

A background thread creates and removes 50 containers a few at a time while the test
samples every 100 ms with the collectors API, the way `serve` does: DockerSource.poll()
for the targets, one Sampler for the whole run.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import deque

import pytest
from helpers.dockercli import IMAGE, DockerCLI

from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.sampler import Sampler
from watchdog_agent.docker.client import DockerClient
from watchdog_agent.inventory.sources import DockerSource
from watchdog_agent.model import Snapshot

engine = pytest.mark.engine

TOTAL = 50  # containers created (and removed) during the churn
ALIVE = 4  # at most this many at once; the oldest two are removed together
INTERVAL = 0.1  # seconds between sampling passes
DEADLINE = 90.0  # seconds; the churn takes about 15 s on 2 cores
# Only `lo` either way on this engine (--bridge=none), but a container in the default
# network mode leaves a stale libnetwork sandbox that the engine's next start removes at
# ~0.2 s each; with --network none it leaves none.
NO_NET = ("--network", "none")


class Churn(threading.Thread):
    """Starts TOTAL labelled containers, removing the oldest as it goes, then the rest."""

    def __init__(self, docker_cli: DockerCLI, label: str) -> None:
        super().__init__(name="churn", daemon=True)
        self.docker_cli = docker_cli
        self.label = label
        self.started: list[str] = []
        self.removed: list[str] = []
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        alive: deque[str] = deque()
        try:
            for _ in range(TOTAL):
                if self.stop.is_set():
                    break
                cid = self.docker_cli.start(*NO_NET, "--label", self.label, IMAGE, "sleep", "1000")
                self.started.append(cid)
                alive.append(cid)
                if len(alive) >= ALIVE:
                    old = [alive.popleft(), alive.popleft()]
                    self.docker_cli.rm(*old)
                    self.removed.extend(old)
            while alive:
                cid = alive.popleft()
                self.docker_cli.rm(cid)
                self.removed.append(cid)
        except BaseException as exc:
            self.error = exc


def check(snap: Snapshot, problems: list[str]) -> None:
    """Every row is a live container with real numbers; vanished ones are gaps."""
    for cid, s in snap.containers.items():
        what = f"pass at {snap.taken_at:.3f}: {cid[:12]}"
        if s.memory_usage_bytes is None or s.memory_usage_bytes <= 0:
            problems.append(f"{what} memory_usage_bytes={s.memory_usage_bytes}")
        if s.cpu_usage_seconds_total is None or s.cpu_usage_seconds_total <= 0:
            problems.append(f"{what} cpu_usage_seconds_total={s.cpu_usage_seconds_total}")
        if s.pids is None or s.pids < 1:
            problems.append(f"{what} pids={s.pids}")
        if s.cpu_percent is not None and s.cpu_percent < 0:
            problems.append(f"{what} cpu_percent={s.cpu_percent}")
        if cid in snap.gone:
            problems.append(f"{what} is both sampled and gone")


@engine
async def test_sampling_through_container_churn(docker_cli: DockerCLI, docker_host: str) -> None:
    label = f"watchdog.test.churn={secrets.token_hex(4)}"
    filters = {"label": [label]}
    layout = Layout("/sys/fs/cgroup")
    sampler = Sampler(proc_root="/proc", mode=layout.mode)
    source = DockerSource(DockerClient(docker_host), layout, "/proc")
    churn = Churn(docker_cli, label)
    problems: list[str] = []
    sampled: set[str] = set()
    gone: set[str] = set()
    passes = 0
    last: Snapshot | None = None
    t0 = time.monotonic()
    churn.start()
    try:
        # sample for the whole churn, then a few passes more once all are removed
        after = 5
        while after > 0:
            if not churn.is_alive():
                after -= 1
            assert time.monotonic() - t0 < DEADLINE, "the churn took too long"
            _refs, targets = await source.poll(filters=filters)
            snap = last = sampler.sample(targets)
            passes += 1
            check(snap, problems)
            sampled.update(snap.containers)
            gone.update(snap.gone)
            await asyncio.sleep(INTERVAL)
    finally:
        churn.stop.set()
        await asyncio.to_thread(churn.join, 60)
        sampler.close()
        await source.close()
    elapsed = time.monotonic() - t0
    print(
        f"churn: {len(churn.started)} started, {len(churn.removed)} removed in {elapsed:.1f} s;"
        f" {passes} passes, {len(sampled)} containers sampled, {len(gone)} seen going"
    )
    assert churn.error is None, repr(churn.error)
    assert len(churn.started) == TOTAL
    assert sorted(churn.removed) == sorted(churn.started)
    assert problems == []
    assert sampled <= set(churn.started)
    # the sampling really saw the churn (each container lives about a second)
    assert len(sampled) >= TOTAL // 2
    # once everything is removed, nothing is left to report
    assert last is not None and dict(last.containers) == {}


@engine
async def test_bug_restart_keeps_stale_init_pid(docker_cli: DockerCLI, docker_host: str) -> None:
    """DockerSource re-inspects a container only when its listed state changes. A
    ``docker restart`` between two polls leaves it "running", so the source keeps the old
    init PID: the Target points at a dead process, and the Sampler, which anchors the
    network namespace on ``target.pid``, reports no network counters for it ever again
    (a long-running ``stats`` shows NET I/O "-" from then on)."""
    cid = docker_cli.start(*NO_NET, IMAGE, "sleep", "100000")
    filters = {"id": [cid]}
    layout = Layout("/sys/fs/cgroup")
    sampler = Sampler(proc_root="/proc", mode=layout.mode)
    source = DockerSource(DockerClient(docker_host), layout, "/proc")
    try:
        _refs, targets = await source.poll(filters=filters)
        first = sampler.sample(targets).containers[cid]
        assert first.net_rx_bytes == 0 and first.sample.net is not None
        old_pid = docker_cli.inspect(cid)["State"]["Pid"]
        assert targets[cid].pid == old_pid

        await asyncio.to_thread(docker_cli.run, "restart", "-t", "0", cid)
        new_pid = docker_cli.inspect(cid)["State"]["Pid"]
        assert new_pid != old_pid
        rows = []
        for _ in range(5):  # a few passes, as `serve` or a streaming `stats` would make
            refs, targets = await source.poll(filters=filters)
            rows.append(sampler.sample(targets).containers.get(cid))
            await asyncio.sleep(INTERVAL)
    finally:
        sampler.close()
        await source.close()
        docker_cli.rm(cid)
    (ref,) = [r for r in refs if r.id == cid]
    last = rows[-1]
    assert last is not None, "the restarted container is no longer sampled"
    assert (ref.pid, targets[cid].pid) == (new_pid, new_pid)
    assert last.net_rx_bytes == 0 and last.sample.net is not None
