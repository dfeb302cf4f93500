"""The API over fixture trees (no Docker): every route's shape against the OpenAPI
document, stats from the snapshot, streams (NDJSON, SSE), top, errors, limits, shutdown."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from helpers.serving import (
    TREES,
    check_schema,
    json_lines,
    response_schema,
    serving,
    sse_events,
    tree_settings,
    until,
)

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.server.keys import STREAMS

SYSTEMD = json.loads((TREES / "systemd" / "expected.json").read_text())
CID = "84a5acd1c050685f942f09aa4e1867eb0b85ff37b250959e655685d1a12dcc83"
ROUTES_200 = [
    ("/", "/"),
    ("/healthz", "/healthz"),
    ("/readyz", "/readyz"),
    ("/api/v1/info", "/api/v1/info"),
    ("/api/v1/openapi.json", "/api/v1/openapi.json"),
    ("/api/v1/containers", "/api/v1/containers"),
    ("/api/v1/containers?all=1&filter=status=running", "/api/v1/containers"),
    (f"/api/v1/containers/{CID[:6]}", "/api/v1/containers/{id}"),
    (f"/api/v1/containers/{CID}/stats", "/api/v1/containers/{id}/stats"),
    (f"/api/v1/containers/{CID[:4]}/stats?history=3", "/api/v1/containers/{id}/stats"),
    (f"/api/v1/containers/{CID[:12]}/top", "/api/v1/containers/{id}/top"),
]


async def test_every_route_answers_with_its_documented_shape() -> None:
    async with serving(tree_settings()) as client:
        for url, path in ROUTES_200:
            async with client.get(url) as resp:
                assert resp.status == 200, (url, await resp.text())
                assert resp.content_type == "application/json"
                check_schema(await resp.json(), response_schema(path, 200), url)


async def test_stats_come_from_the_snapshot() -> None:
    agent = Agent(tree_settings())
    async with serving(agent.settings, agent) as client:
        async with client.get(f"/api/v1/containers/{CID[:8]}/stats") as resp:
            stats = await resp.json()
        latest = agent.store.latest
        assert latest is not None
        want = SYSTEMD["containers"][CID]
        assert stats["id"] == CID
        assert stats["memory_usage_bytes"] == want["docker_memory_usage_bytes"]
        assert stats["memory_limit_bytes"] == want["memory_limit_bytes"]
        assert stats["pids_limit"] == want["pids_limit"]
        assert stats["net_rx_bytes"] == want["net_rx_bytes"]
        assert stats["psi"]["cpu"]["some"]["total"] == want["psi_cpu_some_total_usec"]
        async with client.get("/api/v1/info") as resp:
            info = await resp.json()
        assert info["cgroup_mode"] == "v2" and info["docker"] is None
        assert info["containers_sampled"] == len(SYSTEMD["containers"])


async def test_stats_stream_ndjson_pushes_each_sample() -> None:
    url = f"/api/v1/containers/{CID}/stats?stream=1"
    async with serving(tree_settings()) as client, client.get(url) as resp:
        assert resp.status == 200
        assert resp.content_type == "application/x-ndjson"
        lines = await json_lines(resp, 3)
    schema = response_schema("/api/v1/containers/{id}/stats", 200, "application/x-ndjson")
    for line in lines:
        check_schema(line, schema)
    stamps = [line["sampled_at"] for line in lines]
    assert stamps == sorted(stamps) and len(set(stamps)) == 3


async def test_stats_stream_sse_framing() -> None:
    headers = {"Accept": "text/event-stream"}
    async with serving(tree_settings()) as client:
        url = f"/api/v1/containers/{CID}/stats?stream=true&history=2"
        async with client.get(url, headers=headers) as resp:
            assert resp.status == 200
            assert resp.content_type == "text/event-stream"
            events = await sse_events(resp, 3)
    assert [e["event"] for e in events] == ["stats"] * 3
    assert all(json.loads(e["data"])["id"] == CID for e in events)


async def test_history_returns_recent_samples_oldest_first() -> None:
    agent = Agent(tree_settings(history=4))
    async with serving(agent.settings, agent) as client:
        await until(lambda: agent.store.puts >= 6)
        async with client.get(f"/api/v1/containers/{CID}/stats?history=100") as resp:
            samples = await resp.json()
    assert len(samples) == 4  # capped at the store's length
    stamps = [s["sampled_at"] for s in samples]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4


async def test_top_gives_the_flat_list_and_the_tree() -> None:
    want = SYSTEMD["containers"][CID]
    url = f"/api/v1/containers/{CID[:5]}/top"
    async with serving(tree_settings()) as client, client.get(url) as resp:
        top = await resp.json()
    assert sorted(p["pid"] for p in top["processes"]) == sorted(want["pids_in_tree"])
    ns = {str(p["pid"]): p["ns_pid"] for p in top["processes"]}
    assert ns == {k: v for k, v in want["ns_pids"].items() if k in ns}
    (root,) = top["tree"]
    assert root["pid"] == want["init_pid"] and root["ns_pid"] == 1

    def count(node: dict[str, Any]) -> int:
        return 1 + sum(count(c) for c in node["children"])

    assert count(root) == len(top["processes"])


async def test_errors_have_the_error_shape() -> None:
    cases = [
        ("/api/v1/containers/feedface", 404, "no such container"),
        ("/api/v1/containers/feedface/stats", 404, "no such container"),
        ("/api/v1/containers/bad$id", 400, "bad request"),
        ("/api/v1/containers?filter=bogus=1", 400, "bad request"),
        ("/api/v1/containers?filter=status=sleepy", 400, "bad request"),
        (f"/api/v1/containers/{CID}/stats?history=0", 400, "bad request"),
        (f"/api/v1/containers/{CID}/stats?stream=maybe", 400, "bad request"),
        ("/api/v1/events?filter=colour=red", 400, "bad request"),
        ("/api/v1/events?since=yesterday", 400, "bad request"),
        ("/api/v1/events?since=10m&until=20m", 400, "bad request"),
        ("/no/such/route", 404, "not found"),
    ]
    async with serving(tree_settings()) as client:
        for url, status, error in cases:
            async with client.get(url) as resp:
                body = await resp.json()
                assert resp.status == status, (url, body)
            check_schema(body, response_schema("/readyz", 503), url)
            assert body["error"] == error, (url, body)
        async with client.post("/api/v1/containers") as resp:
            assert resp.status == 405 and resp.headers["Allow"] == "GET"
            assert (await resp.json())["error"] == "method not allowed"
        async with client.get("/api/v1/events?filter=colour=red") as resp:
            assert "colour" in (await resp.json())["detail"]


async def test_container_filters_apply_locally() -> None:
    async with serving(tree_settings()) as client:

        async def ids(query: str) -> list[str]:
            async with client.get(f"/api/v1/containers?{query}") as resp:
                assert resp.status == 200, await resp.text()
                return [c["id"] for c in await resp.json()]

        assert sorted(await ids("all=1")) == sorted(SYSTEMD["containers"])
        assert await ids(f"filter=id={CID[:10]}") == [CID]
        assert await ids("filter=status=exited&all=1") == []
        assert await ids("filter=label=com.example") == []  # no labels without Docker


async def test_stream_limit_answers_429() -> None:
    async with serving(tree_settings(max_streams=1)) as client:
        async with client.get(f"/api/v1/containers/{CID}/stats?stream=1") as first:
            await json_lines(first, 1)
            async with client.get("/api/v1/events") as second:
                assert second.status == 429
                assert (await second.json())["error"] == "too many streams"
        # the slot is given back once the server sees the first stream's client leave
        registry = client.app[STREAMS]
        await until(lambda: registry.open == 0)
        async with client.get(f"/api/v1/containers/{CID}/stats?stream=1") as third:
            assert third.status == 200


async def test_shutdown_ends_open_streams_and_stops_the_agent() -> None:
    agent = Agent(tree_settings())
    async with serving(agent.settings, agent) as client:
        stats = await client.get(f"/api/v1/containers/{CID}/stats?stream=1")
        events = await client.get("/api/v1/events")
        await json_lines(stats, 1)
        closing = asyncio.create_task(client.server.close())
        async with asyncio.timeout(5):
            while await stats.content.readline():
                pass
            rest = (await events.content.read()).splitlines()  # ends with nothing but
            assert [json.loads(x)["gap"]["reason"] for x in rest] == ["no-docker"]  # the why
            await closing
        stats.release()
        events.release()
    assert agent.task_states() and "running" not in agent.task_states().values()
    assert agent.store.subscribers == 0 and agent.bus.subscribers == 0


async def test_without_an_engine_the_agent_runs_on_cgroup_paths(tmp_path: Path) -> None:
    settings = tree_settings(no_docker=False, docker_host=f"unix://{tmp_path}/none.sock")
    async with serving(settings) as client:
        async with client.get("/api/v1/info") as resp:
            assert (await resp.json())["docker"] is None
        async with client.get("/api/v1/containers") as resp:
            assert sorted(c["id"] for c in await resp.json()) == sorted(SYSTEMD["containers"])
