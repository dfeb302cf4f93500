"""The inventory follows events (create, start, rename, die, destroy) on the real engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name

from watchdog_agent.docker.client import DockerClient
from watchdog_agent.events.bus import Bus
from watchdog_agent.events.service import EventsService
from watchdog_agent.inventory.follow import Inventory
from watchdog_agent.model import Event

pytestmark = pytest.mark.engine


async def _until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.05)


async def test_inventory_follows_container_lifecycle(
    docker_cli: DockerCLI, docker_host: str
) -> None:
    async with DockerClient(docker_host) as client:
        inventory = Inventory(client, resync_seconds=3600)
        bus = Bus()
        service = EventsService(client, bus, on_open=inventory.resync)
        follower = asyncio.create_task(inventory.follow(bus.subscribe()))
        tap = asyncio.create_task(service.run())
        try:
            await _until(lambda: inventory.resyncs == 1)
            name = unique_name("inv")
            cid = await asyncio.to_thread(docker_cli.start, IMAGE, "sleep", "1000", name=name)
            await _until(lambda: (r := inventory.refs.get(cid)) is not None and r.pid is not None)
            ref = inventory.refs[cid]
            assert (ref.name, ref.state, ref.image) == (name, "running", IMAGE)
            assert ref.pid == docker_cli.inspect(cid)["State"]["Pid"]

            await asyncio.to_thread(docker_cli.run, "rename", name, name + "-new")
            await _until(lambda: inventory.refs[cid].name == name + "-new")

            await asyncio.to_thread(docker_cli.run, "kill", cid)
            await _until(lambda: inventory.refs[cid].state == "exited")
            assert inventory.refs[cid].pid is None

            await asyncio.to_thread(docker_cli.rm, cid)
            await _until(lambda: cid not in inventory.refs)
            assert inventory.resyncs == 1  # events alone kept it current
        finally:
            tap.cancel()
            bus.close()
            await asyncio.gather(tap, follower, return_exceptions=True)


async def test_a_resync_keeps_what_inspect_said_about_a_stopped_container(
    docker_cli: DockerCLI, docker_host: str
) -> None:
    """Docker's list has no OOMKilled and no RestartCount: a resync must not turn what
    inspect said about a stopped container into unknowns (its state series would vanish)."""
    async with DockerClient(docker_host) as client:
        inventory = Inventory(client, resync_seconds=3600)
        cid = await asyncio.to_thread(docker_cli.start, IMAGE, "sh", "-c", "exit 3")
        await asyncio.to_thread(docker_cli.run, "wait", cid)
        await inventory.resync()
        assert inventory.refs[cid].oom_killed is None  # known from the list only
        await inventory.apply(Event("container", "die", cid, {}, "local", 0, 0))
        ref = inventory.refs[cid]
        assert (ref.state, ref.exit_code, ref.oom_killed, ref.restart_count) == (
            "exited",
            3,
            False,
            0,
        )
        await inventory.resync()
        assert inventory.refs[cid] == ref
