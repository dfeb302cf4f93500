"""List-then-inspect on the real engine: a live container removed between Docker's list and
its inspect is left out, by the function and by both of its users (the agent's Inventory
and the commands' DockerSource). The removal is real: the client removes the container
right after Docker answered the list, before anything is inspected."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name

from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.docker.client import DockerClient
from watchdog_agent.inventory.follow import Inventory
from watchdog_agent.inventory.listing import list_inspected
from watchdog_agent.inventory.sources import DockerSource
from watchdog_agent.model import ContainerRef

pytestmark = pytest.mark.engine


class RemovesAfterListing(DockerClient):
    """The real client; after Docker answers a list, ``victim`` is removed for real."""

    def __init__(self, host: str, docker_cli: DockerCLI) -> None:
        super().__init__(host)
        self.docker_cli = docker_cli
        self.victim: str | None = None

    async def list_containers(
        self, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None
    ) -> list[ContainerRef]:
        listed = await super().list_containers(all=all, filters=filters)
        if self.victim is not None:
            await asyncio.to_thread(self.docker_cli.rm, self.victim)
            self.victim = None
        return listed


@pytest.fixture
def three(docker_cli: DockerCLI) -> tuple[str, dict[str, str]]:
    """A name prefix and three of its containers: two running, one exited."""
    prefix = unique_name("lst")
    ids = {
        role: docker_cli.start(IMAGE, *command, name=f"{prefix}-{role}")
        for role, command in (("stays", ("sleep", "1000")), ("goes", ("sleep", "1000")),
                              ("exited", ("true",)))
    }  # fmt: skip
    docker_cli.run("wait", ids["exited"])
    return prefix, ids


async def test_a_container_removed_between_list_and_inspect_is_left_out(
    docker_cli: DockerCLI, docker_host: str, three: tuple[str, dict[str, str]]
) -> None:
    prefix, ids = three
    mine = {"name": [prefix]}
    async with RemovesAfterListing(docker_host, docker_cli) as client:
        client.victim = ids["goes"]
        refs = await list_inspected(client, all=True, filters=mine)
        assert client.victim is None, "the removal did not happen between list and inspect"
        by_id = {r.id: r for r in refs}
        assert set(by_id) == {ids["stays"], ids["exited"]}
        stays = by_id[ids["stays"]]
        assert stays.pid == docker_cli.inspect(ids["stays"])["State"]["Pid"]  # inspected
        assert (by_id[ids["exited"]].state, by_id[ids["exited"]].pid) == ("exited", None)


async def test_inventory_and_docker_source_leave_the_removed_one_out(
    docker_cli: DockerCLI, docker_host: str, three: tuple[str, dict[str, str]]
) -> None:
    prefix, ids = three
    second = docker_cli.start(IMAGE, "sleep", "1000", name=f"{prefix}-goes2")
    async with RemovesAfterListing(docker_host, docker_cli) as client:
        inventory = Inventory(client)
        client.victim = ids["goes"]
        await inventory.resync()
        assert client.victim is None
        assert ids["goes"] not in inventory.refs and ids["stays"] in inventory.refs
        assert inventory.refs[ids["stays"]].pid is not None

        source = DockerSource(client, Layout("/sys/fs/cgroup"), "/proc")
        client.victim = second
        refs, targets = await source.poll(all=True, filters={"name": [prefix]})
        assert client.victim is None
        assert {r.id for r in refs} == {ids["stays"], ids["exited"]}
        assert set(targets) == {ids["stays"]}
