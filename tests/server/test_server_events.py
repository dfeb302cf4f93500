"""/api/v1/events without Docker: journal history, the live tail from the bus, the same
filters on both, gaps and losses in the stream, NDJSON, SSE and WebSocket."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from helpers.serving import (
    check_schema,
    json_lines,
    response_schema,
    serving,
    sse_events,
    tree_settings,
    until,
)

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.events.journal import Journal
from watchdog_agent.model import Event, Gap

T0 = 1_700_000_000 * 10**9
ITEM = response_schema("/api/v1/events", 200, "application/x-ndjson")


def event(action: str, n: int, name: str = "web", kind: str = "container") -> Event:
    nano = T0 + n * 10**9
    return Event(kind, action, f"{n:064x}", {"name": name}, "local", nano // 10**9, nano)


def journal_with_history(path: Path) -> None:
    with Journal(str(path)) as journal:
        journal.append([event("create", 1), event("start", 2), event("pull", 3, kind="image")])
        journal.add_gap(Gap(T0 + int(2.5 * 10**9), T0 + int(2.7 * 10**9), "daemon-restart"))
        journal.append([event("die", 4), event("start", 5, name="db")])


async def test_history_then_live_tail_with_one_filter(tmp_path: Path) -> None:
    journal_with_history(tmp_path / "events.db")
    agent = Agent(tree_settings(journal=str(tmp_path / "events.db")))
    async with serving(agent.settings, agent) as client:
        since = T0 // 10**9 + 1  # the first stored event: the journal covers the window
        url = f"/api/v1/events?since={since}&filter=type=container&filter=container!=db"
        async with client.get(url) as resp:
            assert resp.status == 200 and resp.content_type == "application/x-ndjson"
            history = await json_lines(resp, 5)
            for line in history:
                check_schema(line, ITEM)
            assert [h.get("Action") for h in history] == ["create", "start", None, "die", None]
            assert history[2]["gap"]["reason"] == "daemon-restart"
            # no events come from Docker (--no-docker): said at once, before any live event
            assert history[4]["gap"]["reason"] == "no-docker"
            assert history[0]["Actor"]["Attributes"] == {"name": "web"}
            # live: the same filter applies, and nothing stored before is sent again
            agent.bus.publish(event("die", 4))  # already in the history
            agent.bus.publish(event("pull", 6, kind="image"))
            agent.bus.publish(event("start", 7, name="db"))
            agent.bus.publish(event("destroy", 8))
            (live,) = await json_lines(resp, 1)
            assert (live["Action"], live["timeNano"]) == ("destroy", T0 + 8 * 10**9)


async def test_until_in_the_past_is_history_only(tmp_path: Path) -> None:
    journal_with_history(tmp_path / "events.db")
    agent = Agent(tree_settings(journal=str(tmp_path / "events.db")))
    async with serving(agent.settings, agent) as client:
        url = f"/api/v1/events?since={T0 // 10**9 + 1}&until={T0 // 10**9 + 3}&filter=event=start"
        async with client.get(url) as resp:
            body = await asyncio.wait_for(resp.text(), 5)  # the response ends by itself
    lines = [json.loads(line) for line in body.splitlines()]
    assert [line.get("Action", "gap" if "gap" in line else "?") for line in lines] == [
        "start",
        "gap",
    ]


async def test_a_slow_reader_is_told_how_many_it_lost() -> None:
    agent = Agent(tree_settings())
    url = "/api/v1/events?filter=event=start"
    async with serving(agent.settings, agent) as client, client.get(url) as resp:
        await until(lambda: agent.bus.subscribers == 1)
        total = agent.bus.maxsize + 50
        for n in range(total):  # no await: the stream cannot read in between
            agent.bus.publish(event("start", n))
        lines = await json_lines(resp, agent.bus.maxsize + 2)
    assert lines[0]["gap"]["reason"] == "no-docker"  # why no events come: said at once
    lost = [line["lost"] for line in lines if "lost" in line]
    assert lost == [50]
    assert sum(1 for line in lines if "Action" in line) == agent.bus.maxsize


async def test_sse_and_websocket_carry_the_same_items() -> None:
    agent = Agent(tree_settings())
    async with serving(agent.settings, agent) as client:
        sse = await client.get("/api/v1/events", headers={"Accept": "text/event-stream"})
        assert sse.content_type == "text/event-stream"
        ws = await client.ws_connect("/api/v1/events?filter=event=kill")
        await until(lambda: agent.bus.subscribers == 2)
        agent.bus.publish(event("kill", 1))
        agent.bus.publish(Gap(T0, T0 + 10**9, "disconnected"))
        got = await sse_events(sse, 3)
        assert [g["event"] for g in got] == ["gap", "event", "gap"]
        assert json.loads(got[0]["data"])["gap"]["reason"] == "no-docker"
        assert json.loads(got[1]["data"])["Action"] == "kill"
        assert json.loads(got[2]["data"])["gap"]["reason"] == "disconnected"
        messages = [json.loads(await ws.receive_str(timeout=5)) for _ in range(3)]
        assert messages[0]["gap"]["reason"] == "no-docker"
        assert messages[1]["Action"] == "kill" and "gap" in messages[2]
        await ws.close()
        sse.release()
        await until(lambda: agent.bus.subscribers == 0)  # both ends noticed


async def test_without_a_journal_history_is_a_gap() -> None:
    url = "/api/v1/events?since=1h&until=1s"
    async with serving(tree_settings()) as client, client.get(url) as resp:
        lines = [json.loads(x) for x in (await resp.text()).splitlines()]
    assert len(lines) == 1 and lines[0]["gap"]["reason"] == "no-journal"
    now = time.time_ns()
    assert now - 3700 * 10**9 < lines[0]["gap"]["start_nano"] < now
