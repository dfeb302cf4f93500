"""The Fleet over a real agent watching the real engine: the snapshot stream into rows,
the per-container requests, an agent that is down and then starts, one that stalls."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest
from helpers import dstats as shared
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.dstats import Workload, free_port, serve

from watchdog_agent.tui.fleet import AgentFleet, sources_for
from watchdog_agent.tui.view import FleetView, HostView, LinkState

pytestmark = pytest.mark.engine
workload, agent_url = shared.workload, shared.agent_url  # the module fixtures


def host(view: FleetView) -> HostView:
    assert len(view.hosts) == 1
    return view.hosts[0]


def names(h: HostView) -> set[str | None]:
    return {r.name for r in h.rows.values()}


async def test_connected_with_the_engines_containers(
    agent_url: str, workload: Workload, docker_cli: DockerCLI
) -> None:
    # one that dies while the agent watches (the agent inspects live containers only: one
    # that was already dead when it started shows its exit code as a gap)
    died = unique_name("dstats-died")
    docker_cli.run("wait", docker_cli.start(IMAGE, "sh", "-c", "exit 5", name=died))
    fleet = AgentFleet(sources_for([agent_url]))
    published: list[FleetView] = []
    runner = asyncio.create_task(fleet.run(published.append))
    try:

        def ready(v: FleetView) -> bool:
            h = host(v)
            rows = {r.name: r for r in h.rows.values()}
            busy = rows.get(workload.busy)
            return (
                h.link == LinkState.CONNECTED and fleet.documents(agent_url) >= 2
                and busy is not None and busy.net_rx_rate is not None
                and died in rows and rows[died].finished_exit_code is not None
            )  # fmt: skip

        h = host(await fleet.until(ready, 30))
        assert h.link == LinkState.CONNECTED, h.detail
        assert h.detail is None and h.key == agent_url
        assert h.name == os.uname().nodename  # the agent's host name, not the URL
        assert h.host is not None and h.daemon is not None and h.agent is not None
        assert h.interval == 0.5 and h.sampled_at is not None
        rows = {r.name: r for r in h.rows.values()}
        busy, idle, dead = rows[workload.busy], rows[workload.idle], rows[died]
        assert busy.cpu_limit == 0.5 and busy.cpu_percent is not None and busy.cpu_percent > 5
        assert busy.pids == 1 and busy.state == "running" and busy.finished_exit_code is None
        assert busy.net_rx_rate == 0.0  # no network: a real 0, measured over an interval
        assert idle.cpu_limit is None and idle.memory_usage_bytes is not None
        assert dead.state == "exited" and dead.finished_exit_code == 5
        assert rows[workload.dead].state == "exited"
        assert dead.cpu_percent is None  # stopped: gaps, not zeros
        assert published and published[-1].hosts[0].link == LinkState.CONNECTED
    finally:
        runner.cancel()
        await fleet.close()


async def test_per_container_requests(agent_url: str, workload: Workload) -> None:
    fleet = AgentFleet(sources_for([agent_url]))
    try:
        view = await fleet.until(lambda v: bool(host(v).rows), 30)
        rows = {r.name: r for r in host(view).rows.values()}
        busy = rows[workload.busy]
        doc = await fleet.container(agent_url, busy.id)
        assert doc["name"] == workload.busy and doc["limits"]["cpus"] == 0.5
        history = await fleet.history(agent_url, busy.id, 5)
        assert 1 <= len(history) <= 5 and all(s.id == busy.id for s in history)
        assert history[0].sampled_at <= history[-1].sampled_at  # oldest first
        roots = await fleet.top(agent_url, busy.id)
        assert roots and roots[0].ns_pid == 1 and "while" in roots[0].cmd
        assert await fleet.postmortem(agent_url, busy.id) is None  # alive: none recorded
        disk = await fleet.disk(agent_url)
        assert isinstance(disk, dict) and disk
        lines = [line async for line in fleet.logs(agent_url, rows[workload.idle].id,
                                                   tail=5, follow=False)]  # fmt: skip
        assert lines == []  # sleep prints nothing; the request itself worked
        events = fleet.events(agent_url, [f"container={workload.dead}"], "1h")
        first = await asyncio.wait_for(anext(aiter(events)), 20)
        assert first.actor_id == rows[workload.dead].id
        await events.aclose()  # type: ignore[attr-defined]
    finally:
        await fleet.close()


async def test_down_then_up(docker_host: str, workload: Workload) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    fleet = AgentFleet(sources_for([url]))
    proc = None
    try:
        view = await fleet.until(lambda v: host(v).link == LinkState.RETRYING, 15)
        h = host(view)
        assert h.link == LinkState.RETRYING
        assert h.detail is not None and "connection refused" in h.detail and url in h.detail
        assert h.name == f"127.0.0.1:{port}" and not h.rows
        proc = serve(docker_host, "--listen", f"127.0.0.1:{port}")
        proc.wait_url()
        view = await fleet.until(lambda v: workload.busy in names(host(v)), 30)
        h = host(view)
        assert h.link == LinkState.CONNECTED and h.detail is None
        assert workload.busy in {r.name for r in h.rows.values()}
    finally:
        await fleet.close()
        if proc is not None:
            proc.kill()


async def test_a_stalled_stream_counts_as_broken(docker_host: str, workload: Workload) -> None:
    proc = serve(docker_host)
    url = proc.wait_url()
    fleet = AgentFleet(sources_for([url]))
    try:

        def live(v: FleetView) -> bool:
            return host(v).link == LinkState.CONNECTED and bool(host(v).rows)

        view = await fleet.until(live, 30)
        assert live(view)
        os.kill(proc.proc.pid, signal.SIGSTOP)  # the connection stays open, silent
        try:
            view = await fleet.until(lambda v: host(v).link == LinkState.RETRYING, 30)
            h = host(view)
            assert h.link == LinkState.RETRYING and h.detail is not None
            assert "no snapshot" in h.detail
            assert h.rows  # the last rows are kept while the link is down
        finally:
            os.kill(proc.proc.pid, signal.SIGCONT)
        view = await fleet.until(lambda v: host(v).link == LinkState.CONNECTED, 60)
        assert host(view).link == LinkState.CONNECTED
    finally:
        await fleet.close()
        proc.kill()


async def test_close_ends_run_and_open_streams(agent_url: str, workload: Workload) -> None:
    fleet = AgentFleet(sources_for([agent_url]))
    runner = asyncio.create_task(fleet.run(lambda _: None))
    view = await fleet.until(lambda v: workload.idle in names(host(v)), 30)
    idle = next(r for r in host(view).rows.values() if r.name == workload.idle)
    logs = aiter(fleet.logs(agent_url, idle.id, tail=0, follow=True))  # silent: stays open
    nobody = f"container={unique_name('dstats-nobody')}"  # the engine is shared: no events
    events = aiter(fleet.events(agent_url, [nobody], None))  # live only
    pending = [asyncio.ensure_future(anext(logs)), asyncio.ensure_future(anext(events))]
    await asyncio.sleep(0.5)
    assert not any(p.done() for p in pending) and not runner.done()
    await fleet.close()
    await asyncio.wait_for(runner, 10)  # run() returns once the fleet is closed
    for waiting in pending:
        with pytest.raises(StopAsyncIteration):  # the streams end, no hang
            await asyncio.wait_for(waiting, 10)
    await fleet.close()  # idempotent
