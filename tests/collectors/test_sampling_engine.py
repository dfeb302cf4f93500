"""The sampler's schedule on real containers (this host: hybrid, v1 memory/pids/blkio):
an idle container's slow fields catch up when it moves, and a ``docker update`` shows in
the served limit on the next passes, through the inventory's update event, long before
the periodic re-read would have come."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
from helpers.dockercli import IMAGE, DockerCLI
from helpers.serving import serving

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.sampler import Sampler
from watchdog_agent.collectors.targets import target_for
from watchdog_agent.config import Settings
from watchdog_agent.docker.decode import container_from_inspect

pytestmark = pytest.mark.engine

NEVER = 10**9


@pytest.fixture(scope="module")
def idle(docker_cli: DockerCLI) -> str:
    """One idle container with a memory limit, shared by this module's tests."""
    return docker_cli.start(
        "--network", "none", "--memory", "64m", "--memory-swap", "64m", IMAGE, "sleep", "1000",
        name=f"wd-sched-{secrets.token_hex(3)}",
    )  # fmt: skip


def test_idle_real_container_catches_up_when_a_process_starts(
    docker_cli: DockerCLI, idle: str
) -> None:
    layout = Layout("/sys/fs/cgroup")
    ref = container_from_inspect(docker_cli.inspect(idle))
    target = target_for(layout, "/proc", ref)
    assert target is not None
    sampler = Sampler("/proc", layout.mode, full_every=NEVER, full_seconds=NEVER)
    try:
        first = sampler.sample({idle: target}).containers[idle].sample
        assert first.pids_current == 1
        reads = sampler.slow_reads
        for _ in range(5):  # bounded: a sleeping container does not move
            sampler.sample({idle: target})
            if sampler.slow_reads == reads:
                break
            reads = sampler.slow_reads
        docker_cli.run("exec", "-d", idle, "sleep", "999")
        # passes 0.05 s apart, up to 10 s, until the new process is counted. At least 2,
        # not exactly: CI once read 3 (not reproduced here: most likely one of runc's
        # short-lived helpers for the exec, not yet reaped), and once such a task is
        # reaped nothing moves, so with full_every NEVER the count stays as it was read
        deadline = time.monotonic() + 10
        now = sampler.sample({idle: target}).containers[idle].sample
        while (now.pids_current is None or now.pids_current < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
            now = sampler.sample({idle: target}).containers[idle].sample
        assert now.pids_current is not None and now.pids_current >= 2
        assert sampler.slow_reads > reads  # it moved, so the rest was read again
    finally:
        sampler.close()


async def test_docker_update_shows_on_the_next_passes(
    docker_cli: DockerCLI, docker_host: str, idle: str, tmp_path: Path
) -> None:
    settings = Settings(docker_host=docker_host, interval=0.2, journal=None)
    agent = Agent(settings)
    async with asyncio.timeout(120), serving(settings, agent) as client:  # fail, never hang

        async def limit() -> Any:
            async with client.get(f"/api/v1/containers/{idle}/stats") as resp:
                body = await resp.json() if resp.status == 200 else {}
            return body.get("memory_limit_bytes")

        for _ in range(100):
            if await limit() == 64 << 20:
                break
            await asyncio.sleep(0.1)
        assert await limit() == 64 << 20
        sampler = agent._sampler
        assert sampler is not None
        sampler.limits_every, sampler.limits_seconds = NEVER, NEVER  # only the event now
        await asyncio.to_thread(
            docker_cli.run, "update", "--memory", "96m", "--memory-swap", "96m", idle
        )
        for _ in range(100):  # bounded: a few passes of 0.2 s once the event is in
            if await limit() == 96 << 20:
                break
            await asyncio.sleep(0.1)
        assert await limit() == 96 << 20
        assert agent.inventory is not None and agent.inventory.limit_updates[idle] == 1
