"""The test fleet itself: it implements the Fleet protocol and its data is what the
screens' tests rely on (fixed numbers, real filtering of events, follow and push)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TypeVar

import pytest
from helpers.staticfleet import (
    BUSY,
    CLOCK,
    DEAD,
    HISTORY_SAMPLES,
    HOST_A,
    StaticFleet,
    fleet_view,
)

from watchdog_agent.model import Event, LogLine
from watchdog_agent.tui.view import Fleet, FleetError, FleetView

T = TypeVar("T")


async def _next(stream: AsyncIterator[T]) -> T:
    return await anext(stream)


def test_is_a_fleet() -> None:
    fleet: Fleet = StaticFleet()  # mypy checks the protocol here
    assert isinstance(fleet, StaticFleet)


async def test_documents_have_the_agents_shapes() -> None:
    fleet = StaticFleet()
    doc = await fleet.container(HOST_A, BUSY)
    assert doc["limits"] == {"memory_bytes": 128 * 1024 * 1024, "cpus": 0.5, "pids": 100}
    assert doc["stats"]["memory_stat"]["anon"] == 48 * 1024 * 1024
    history = await fleet.history(HOST_A, BUSY, HISTORY_SAMPLES)
    assert len(history) == HISTORY_SAMPLES and history[-1].sampled_at == CLOCK
    pm = await fleet.postmortem(HOST_A, DEAD)
    assert pm is not None and pm["exit_code"] == 137 and pm["oom_killed"] is True
    assert await fleet.postmortem(HOST_A, BUSY) is None
    disk = await fleet.disk(HOST_A)
    assert [a["type"] for a in disk["areas"]] == ["images", "containers", "volumes", "build_cache"]
    with pytest.raises(FleetError, match="no such container"):
        await fleet.container(HOST_A, "f" * 64)


async def test_failures_and_pushes() -> None:
    fleet = StaticFleet()
    fleet.fail("disk", "agent answered 503")
    with pytest.raises(FleetError, match="503"):
        await fleet.disk(HOST_A)
    seen: list[FleetView] = []
    runner = asyncio.create_task(fleet.run(seen.append))
    await asyncio.sleep(0)
    fleet.push(fleet_view(cpu_busy=12.0))
    assert [v.hosts[0].rows[BUSY].cpu_percent for v in seen] == [49.6, 12.0]
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner


async def test_logs_tail_then_follow() -> None:
    fleet = StaticFleet()
    stream = fleet.logs(HOST_A, BUSY, tail=500, follow=True)
    first = [await anext(stream) for _ in range(500)]
    assert first[0].line == "line 020 of b5b5"
    following = asyncio.create_task(_next(stream))
    for _ in range(100):  # until the stream follows
        await asyncio.sleep(0)
        fleet.push_log(BUSY, LogLine("stdout", None, "new"))
        if following.done():
            break
    assert (await asyncio.wait_for(following, 5)).line == "new"
    await stream.aclose()  # type: ignore[attr-defined]


async def test_events_filter_and_since() -> None:
    fleet = StaticFleet()
    stream = fleet.events(HOST_A, (f"container={DEAD}", "event=die"), "1h")
    got = await anext(stream)
    assert (got.action, got.attributes["exitCode"]) == ("die", "137")
    live = Event("container", "die", DEAD, {"name": "dead"}, "local", 1, 1)
    following = asyncio.create_task(_next(stream))
    await asyncio.sleep(0)
    fleet.push_event(live)
    assert await asyncio.wait_for(following, 5) is live
    await stream.aclose()  # type: ignore[attr-defined]
    with pytest.raises(FleetError, match="unknown filter key"):
        await anext(fleet.events(HOST_A, ("colour=red",), None))
