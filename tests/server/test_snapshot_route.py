"""``GET /api/v1/stats`` against the real engine and a real agent: the one-shot document
(containers with stats, host, daemon, the agent's cost), ``?all=1`` and ``?filter=`` as
/api/v1/containers, ``?stream=1`` as NDJSON and SSE, its end at shutdown, auth, and the
memory breakdown of a container that fills /dev/shm."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess
from helpers.serving import check_schema, json_lines, response_schema, serving, sse_events, until

from watchdog_agent.config import Settings
from watchdog_agent.wire.fromjson import parse_time

pytestmark = pytest.mark.engine

Client = TestClient[Any, Any]
PATH = "/api/v1/stats"
MIB = 1024 * 1024
BREAKDOWN = ("current", "anon", "file", "active_file", "inactive_file", "shmem", "kernel")


def engine_settings(docker_host: str, tmp_path: Path, **more: Any) -> Settings:
    return Settings(
        docker_host=docker_host, interval=0.2, journal=str(tmp_path / "events.db"), **more
    )


async def get_doc(client: Client, query: str = "", **kw: Any) -> dict[str, Any]:
    async with client.get(f"{PATH}?{query}", **kw) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/json"
        doc = await resp.json()
    check_schema(doc, response_schema(PATH, 200))
    return doc  # type: ignore[no-any-return]


async def doc_when(client: Client, query: str, ready: Any, tries: int = 150) -> dict[str, Any]:
    """The first document (of at most ``tries``, 0.1 s apart) for which ``ready`` holds."""
    for _ in range(tries):
        doc = await get_doc(client, query)
        if ready(doc):
            return doc
        await asyncio.sleep(0.1)
    raise AssertionError(f"no document for {query!r} satisfied the condition: {doc}")


async def test_one_shot_all_and_filter(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    tag = unique_name("snap")
    label = f"wd.snap={tag}"
    busy = await asyncio.to_thread(
        docker_cli.start, "--label", label, IMAGE, "sh", "-c", "while :; do :; done",
        name=f"{tag}-busy",
    )  # fmt: skip
    dead = await asyncio.to_thread(
        docker_cli.start, "--label", label, IMAGE, "sh", "-c", "exit 3", name=f"{tag}-dead"
    )
    await asyncio.to_thread(docker_cli.run, "wait", dead)
    async with serving(engine_settings(docker_host, tmp_path)) as client:
        mine = f"filter=label={label}"

        def sampled_with_cost(doc: dict[str, Any]) -> bool:
            stats = [c["stats"] for c in doc["containers"]]
            cost = doc["agent"]
            return (
                len(stats) == 1
                and stats[0] is not None
                and stats[0]["cpu_percent"] is not None
                and cost is not None
                and cost["cpu_seconds_total"] is not None
            )

        doc = await doc_when(client, mine, sampled_with_cost)
        (running,) = doc["containers"]
        assert running["id"] == busy and running["name"] == f"{tag}-busy"
        assert running["state"] == "running" and running["exit_code"] == 0
        assert running["labels"]["wd.snap"] == tag and running["restart_count"] == 0
        stats = running["stats"]
        assert stats["id"] == busy and stats["cpu_percent"] > 0 and stats["pids"] == 1
        assert stats["memory_usage_bytes"] > 0
        read_at, pass_at = parse_time(stats["sampled_at"]), parse_time(doc["sampled_at"])
        assert read_at is not None and pass_at is not None and read_at >= pass_at  # its pass
        assert set(stats["memory_stat"]) == set(BREAKDOWN)
        assert doc["interval_seconds"] == 0.2

        host, daemon, agent = doc["host"], doc["daemon"], doc["agent"]
        assert host["cpus"] >= 1 and host["memory_total_bytes"] > 0
        assert host["data_root"] is not None  # the daemon's data root was measured
        assert daemon["up"] is True and daemon["version"]
        engine_id = await asyncio.to_thread(docker_cli.run, "info", "--format", "{{.ID}}")
        assert daemon["id"] == engine_id.strip()
        for key in ("resident_memory_bytes", "virtual_memory_bytes", "open_fds", "max_fds"):
            assert isinstance(agent[key], int) and agent[key] > 0, (key, agent)
        assert agent["cpu_seconds_total"] > 0 and agent["start_time_seconds"] > 1e9

        # ?all=1 adds the exited one: its exit code, no stats
        everything = await get_doc(client, f"all=1&{mine}")
        by_name = {c["name"]: c for c in everything["containers"]}
        assert list(by_name) == [f"{tag}-busy", f"{tag}-dead"]  # running first
        gone = by_name[f"{tag}-dead"]
        assert gone["id"] == dead and gone["state"] == "exited" and gone["exit_code"] == 3
        assert gone["stats"] is None

        # ?filter= narrows exactly as /api/v1/containers does
        for query in (
            f"all=1&{mine}&filter=status=exited",
            f"all=1&{mine}&filter=exited=3",
            f"all=1&{mine}&filter=name={tag}-busy",
            f"{mine}&filter=status=exited",
            f"all=1&filter=id={dead[:12]}",
        ):
            async with client.get(f"/api/v1/containers?{query}") as resp:
                listed = [c["id"] for c in await resp.json()]
            narrowed = [c["id"] for c in (await get_doc(client, query))["containers"]]
            assert narrowed == listed, query
        only_dead = await get_doc(client, f"all=1&{mine}&filter=exited=3")
        assert [c["id"] for c in only_dead["containers"]] == [dead]

        for bad in ("filter=nonsense=1", "filter=novalue", "all=maybe"):
            async with client.get(f"{PATH}?{bad}") as resp:
                assert resp.status == 400, (bad, await resp.text())
                check_schema(await resp.json(), response_schema(PATH, 400))


async def test_stream_as_ndjson_and_sse(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    tag = unique_name("snap-st")
    label = f"wd.snap={tag}"
    cid = await asyncio.to_thread(
        docker_cli.start, "--label", label, IMAGE, "sleep", "1000", name=tag
    )
    async with serving(engine_settings(docker_host, tmp_path)) as client:
        query = f"stream=1&filter=label={label}"
        await doc_when(client, f"filter=label={label}", lambda d: bool(d["containers"]))
        async with client.get(f"{PATH}?{query}") as resp:
            assert resp.status == 200
            assert resp.content_type == "application/x-ndjson"
            docs = await json_lines(resp, 3)
        times = [parse_time(d["sampled_at"]) for d in docs]
        assert all(t is not None for t in times)
        assert times[0] < times[1] < times[2], times  # type: ignore[operator]
        for doc in docs:
            check_schema(doc, response_schema(PATH, 200, "application/x-ndjson"))
            assert [c["id"] for c in doc["containers"]] == [cid]
            assert doc["host"] is not None and doc["agent"] is not None

        sse = {"Accept": "text/event-stream"}
        async with client.get(f"{PATH}?{query}", headers=sse) as resp:
            assert resp.status == 200 and resp.content_type == "text/event-stream"
            events = await sse_events(resp, 2)
        assert [e["event"] for e in events] == ["snapshot", "snapshot"]
        sent = [json.loads(e["data"]) for e in events]
        assert parse_time(sent[0]["sampled_at"]) < parse_time(sent[1]["sampled_at"])  # type: ignore[operator]
        assert all([c["id"] for c in d["containers"]] == [cid] for d in sent)


@pytest.fixture
async def served(docker_host: str, tmp_path: Path) -> AsyncIterator[ServeProcess]:
    serve = ServeProcess(
        "--journal", str(tmp_path / "events.db"), "--interval", "0.2", docker_host=docker_host
    )
    try:
        await until(lambda: serve.said("serving") is not None or serve.proc.poll() is not None)
        assert serve.said("serving") is not None, serve.logs
        yield serve
    finally:
        serve.kill()


async def test_the_stream_ends_cleanly_at_shutdown(served: ServeProcess) -> None:
    """SIGTERM on a real ``serve``: an open snapshot stream ends with whole documents and
    the end of the response (no cut line, no hang), and the agent exits 0."""
    entry = served.said("serving")
    assert entry is not None
    base = f"http://{entry['addresses'][0]}"
    async with aiohttp.ClientSession(base, timeout=aiohttp.ClientTimeout(total=30)) as http:
        for _ in range(150):
            async with http.get("/readyz") as ready:
                if ready.status == 200:
                    break
            await asyncio.sleep(0.1)
        async with http.get(f"{PATH}?stream=1") as resp:
            first = await json_lines(resp, 2)
            served.proc.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(resp.content.read(), 10)  # the stream ends
    assert await asyncio.to_thread(served.proc.wait, 10) == 0
    assert all(parse_time(d["sampled_at"]) is not None for d in first)
    assert rest == b"" or rest.endswith(b"\n"), rest[-200:]
    for line in rest.splitlines():  # documents sent before the end are whole
        assert "containers" in json.loads(line)


async def test_auth_is_enforced_as_on_the_other_routes(docker_host: str, tmp_path: Path) -> None:
    token = "tok-" + secrets.token_hex(16)
    tokens = tmp_path / "tokens"
    tokens.write_text(f"{token}\n")
    settings = engine_settings(docker_host, tmp_path, auth_token_file=str(tokens))
    good = {"Authorization": f"Bearer {token}"}
    async with serving(settings, ready=False) as client:
        for _ in range(150):
            async with client.get("/readyz", headers=good) as ready:
                if ready.status == 200:
                    break
            await asyncio.sleep(0.1)
        for headers in ({}, {"Authorization": f"Bearer {token}x"}, {"Authorization": token}):
            for query in ("", "stream=1", "stream=1&all=1"):
                async with client.get(f"{PATH}?{query}", headers=headers) as resp:
                    assert resp.status == 401, (headers, query)
                    assert (await resp.json())["error"] == "unauthorized"
                    assert token not in await resp.text()
                async with client.get("/api/v1/containers", headers=headers) as resp:
                    assert resp.status == 401  # as on the other routes
        doc = await get_doc(client, "", headers=good)
        assert doc["sampled_at"] is not None
        async with client.get(f"{PATH}?stream=1", headers=good) as resp:
            assert resp.status == 200
            (streamed,) = await json_lines(resp, 1)
        assert streamed["host"] is not None


async def test_memory_breakdown_counts_dev_shm(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    """8 MiB written into /dev/shm (tmpfs) is shmem (page cache, so in ``file`` too); the
    docker stats and cAdvisor readings of the same sample are current - inactive_file
    and current."""
    tag = unique_name("snap-shm")
    fill = "dd if=/dev/zero of=/dev/shm/fill bs=1M count=8 && sleep 1000"
    cid = await asyncio.to_thread(docker_cli.start, IMAGE, "sh", "-c", fill, name=tag)
    async with serving(engine_settings(docker_host, tmp_path)) as client:

        def filled(doc: dict[str, Any]) -> bool:
            stats = doc["containers"][0]["stats"] if doc["containers"] else None
            shmem = None if stats is None else stats["memory_stat"]["shmem"]
            return shmem is not None and shmem >= 8 * MIB

        doc = await doc_when(client, f"filter=id={cid}", filled)
    stats = doc["containers"][0]["stats"]
    memory = stats["memory_stat"]
    assert memory["shmem"] >= 8 * MIB
    assert memory["anon"] is not None and memory["file"] is not None
    assert memory["file"] >= memory["shmem"]  # tmpfs pages are page cache
    assert memory["current"] >= memory["shmem"]
    assert memory["kernel"] is not None and memory["kernel"] > 0
    assert memory["active_file"] is not None and memory["inactive_file"] is not None
    # the two other meanings of "memory" for the same sample
    assert stats["memory_usage_bytes"] == memory["current"] - memory["inactive_file"]
