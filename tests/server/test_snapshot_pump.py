"""The snapshot stream's pump on a real SnapshotStore (no socket): the latest document
first, one per new pass, nothing stale or twice for a reader that fell behind, and the
end when the store closes (shutdown)."""

from __future__ import annotations

import asyncio
import json

from helpers.serving import tree_settings

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.inventory.psfilter import parse_ps_filters
from watchdog_agent.model import CgroupMode, Snapshot
from watchdog_agent.server.routes_snapshot import _pump
from watchdog_agent.server.streams import Writer
from watchdog_agent.wire.fromjson import parse_time

T0 = 1_800_000_000.0


class Recorder(Writer):
    """A Writer that keeps what it is given (the stream's framing is tested elsewhere)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []

    async def send(self, kind: str, line: str) -> None:
        self.sent.append((kind, json.loads(line)))

    async def keepalive(self) -> bool:
        return True

    def times(self) -> list[float | None]:
        return [parse_time(doc["sampled_at"]) for _, doc in self.sent]


def snap(n: int) -> Snapshot:
    return Snapshot(taken_at=T0 + n, mode=CgroupMode.V2, containers={})


async def test_latest_first_then_each_pass_once_and_the_end_at_close() -> None:
    agent = Agent(tree_settings())
    agent.store.put(snap(0))
    sub = agent.store.subscribe()
    writer = Recorder()
    pump = asyncio.create_task(_pump(writer, agent, sub, False, parse_ps_filters([])))
    for _ in range(100):
        if writer.sent:
            break
        await asyncio.sleep(0.01)
    assert writer.times() == [T0]
    assert writer.sent[0][0] == "snapshot"
    # three passes land before the reader runs again: only the newest is sent
    for n in (1, 2, 3):
        agent.store.put(snap(n))
    for _ in range(100):
        if len(writer.sent) == 2:
            break
        await asyncio.sleep(0.01)
    agent.store.put(snap(4))
    agent.store.close()  # shutdown: the pump ends after what was queued
    await asyncio.wait_for(pump, 5)
    assert writer.times() == [T0, T0 + 3, T0 + 4]
    doc = writer.sent[-1][1]
    assert doc["containers"] == [] and doc["interval_seconds"] == 0.1
    assert doc["host"] is None and doc["daemon"] is None and doc["agent"] is None


async def test_no_document_before_the_first_pass() -> None:
    agent = Agent(tree_settings())
    sub = agent.store.subscribe()
    writer = Recorder()
    pump = asyncio.create_task(_pump(writer, agent, sub, True, parse_ps_filters([])))
    await asyncio.sleep(0.05)
    assert writer.sent == []  # no empty document with a null time
    agent.store.put(snap(1))
    agent.store.close()
    await asyncio.wait_for(pump, 5)
    assert writer.times() == [T0 + 1]
