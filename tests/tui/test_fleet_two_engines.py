"""The fleet test of issue #10: two private engines, each with its own agent; one fleet
with both shows both hosts' containers; stopping one agent marks that host as retrying
while the other keeps updating."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
from helpers.dockercli import IMAGE, TEST_LABEL, unique_name
from helpers.dstats import serve
from helpers.privateengine import PrivateEngine, started_engine
from helpers.serveproc import ServeProcess

from watchdog_agent.tui.fleet import AgentFleet, sources_for
from watchdog_agent.tui.view import FleetView, HostView, LinkState

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def engines() -> Iterator[tuple[PrivateEngine, PrivateEngine]]:
    with started_engine() as one, started_engine() as two:
        yield one, two


def start_container(eng: PrivateEngine, name: str) -> None:
    eng.docker("run", "-d", "--network", "none", "--label", TEST_LABEL, "--label",
               eng.session_label, "--name", name, IMAGE, "sleep", "600")  # fmt: skip


def names(h: HostView) -> set[str | None]:
    return {r.name for r in h.rows.values()}


async def test_two_hosts_one_down_never_stalls_the_other(
    engines: tuple[PrivateEngine, PrivateEngine],
) -> None:
    one, two = engines
    first, second = unique_name("fleet-one"), unique_name("fleet-two")
    start_container(one, first)
    start_container(two, second)
    agents: list[ServeProcess] = []
    try:
        agents = [serve(one.host), serve(two.host)]
        urls = [a.wait_url() for a in agents]
        fleet = AgentFleet(sources_for(urls))
        try:

            def both(view: FleetView) -> bool:
                a, b = view.hosts
                sampled = a.sampled_at is not None and b.sampled_at is not None
                return sampled and first in names(a) and second in names(b)

            view = await fleet.until(both, 60)
            a, b = view.hosts
            assert (a.key, b.key) == tuple(urls)
            assert a.link == b.link == LinkState.CONNECTED
            assert first in names(a) and second not in names(a)
            assert second in names(b) and first not in names(b)
            assert a.name != b.name  # same machine: told apart by their addresses
            assert {r.host for r in view.rows()} == set(urls)

            agents[0].kill()
            view = await fleet.until(lambda v: v.hosts[0].link == LinkState.RETRYING, 30)
            down, up = view.hosts
            assert down.link == LinkState.RETRYING and down.detail is not None
            assert up.link == LinkState.CONNECTED and up.sampled_at is not None
            since = up.sampled_at

            def advanced(v: FleetView) -> bool:
                other = v.hosts[1].sampled_at
                return other is not None and other > since + 1.0

            view = await fleet.until(advanced, 30)
            down, up = view.hosts
            assert up.sampled_at is not None and up.sampled_at > since + 1.0
            assert up.link == LinkState.CONNECTED and second in names(up)
            assert down.link == LinkState.RETRYING  # still down, still shown as such
        finally:
            await fleet.close()
    finally:
        for agent in agents:
            with contextlib.suppress(Exception):
                agent.kill()
