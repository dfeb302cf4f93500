"""serve against the real engine: inventory-backed routes, stats from the snapshot with no
call to Docker's stats endpoint, top, events history plus the live tail, and SIGTERM on a
real ``watchdog-agent serve`` process."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess
from helpers.serving import (
    check_schema,
    json_lines,
    response_schema,
    serving,
    until,
)

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.config import Settings
from watchdog_agent.docker.client import DockerClient
from watchdog_agent.docker.engine import QueryValue, Response
from watchdog_agent.events.journal import Journal

pytestmark = pytest.mark.engine


@pytest.fixture
def docker_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path the agent's Docker client asks for, streamed or not."""
    seen: list[str] = []
    get, stream = DockerClient._get, DockerClient.stream_lines

    async def counting_get(self: DockerClient, target: str) -> Response:
        seen.append(target)
        return await get(self, target)

    def counting_stream(
        self: DockerClient,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        on_open: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncGenerator[bytes, None]:
        seen.append(path)
        return stream(self, path, params, on_open)

    monkeypatch.setattr(DockerClient, "_get", counting_get)
    monkeypatch.setattr(DockerClient, "stream_lines", counting_stream)
    return seen


def engine_settings(docker_host: str, tmp_path: Path) -> Settings:
    return Settings(docker_host=docker_host, interval=0.2, journal=str(tmp_path / "events.db"))


async def test_containers_stats_and_top_from_the_agent(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path, docker_requests: list[str]
) -> None:
    tag = unique_name("srv")
    label = f"wd.server={tag}"
    web = await asyncio.to_thread(
        docker_cli.start, "--label", label, IMAGE, "sh", "-c", "sleep 1000 & sleep 1001 & wait",
        name=f"{tag}-web",
    )  # fmt: skip
    async with serving(engine_settings(docker_host, tmp_path)) as client:
        late = await asyncio.to_thread(
            docker_cli.start, "--label", label, IMAGE, "sleep", "1000", name=f"{tag}-late"
        )

        async def listed(query: str) -> list[dict[str, Any]]:
            async with client.get(f"/api/v1/containers?filter=label={label}&{query}") as resp:
                assert resp.status == 200, await resp.text()
                body = await resp.json()
            check_schema(body, response_schema("/api/v1/containers", 200))
            return body  # type: ignore[no-any-return]

        async def both_sampled() -> bool:
            found = await listed("")
            return len(found) == 2 and all(c["stats"] for c in found)

        for _ in range(100):
            if await both_sampled():
                break
            await asyncio.sleep(0.1)
        found = {c["name"]: c for c in await listed("filter=ancestor=watchdog-test/busybox")}
        assert set(found) == {f"{tag}-web", f"{tag}-late"}
        assert found[f"{tag}-late"]["id"] == late and found[f"{tag}-web"]["labels"]["wd.server"]
        # the same container; its stats may come from a later pass than the first listing's
        [late_doc] = await listed("filter=name=-late")
        assert {k: v for k, v in late_doc.items() if k != "stats"} == {
            k: v for k, v in found[f"{tag}-late"].items() if k != "stats"
        }
        assert late_doc["stats"]["id"] == late

        async with client.get(f"/api/v1/containers/{tag}-web/stats") as resp:
            stats = await resp.json()
        assert stats["id"] == web and stats["name"] == f"{tag}-web"
        assert stats["memory_usage_bytes"] > 0 and stats["pids"] == 3
        async with client.get(f"/api/v1/containers/{web[:12]}/stats?stream=1") as resp:
            samples = await json_lines(resp, 2)
        assert samples[0]["sampled_at"] < samples[1]["sampled_at"]

        async with client.get(f"/api/v1/containers/{tag}-web/top") as resp:
            top = await resp.json()
        check_schema(top, response_schema("/api/v1/containers/{id}/top", 200))
        (root,) = top["tree"]
        assert root["ns_pid"] == 1 and root["cmd"].startswith("sh -c")
        assert sorted(c["cmd"] for c in root["children"]) == ["sleep 1000", "sleep 1001"]

        async with client.get("/api/v1/info") as resp:
            info = await resp.json()
        assert info["docker"]["version"] and info["docker"]["api_version"]
        engine = docker_cli.run("info", "--format", "{{.ID}} {{.DockerRootDir}}").split()
        assert [info["docker"]["id"], info["docker"]["root_dir"]] == engine

        await asyncio.to_thread(docker_cli.run, "kill", late)
        for _ in range(100):
            if [c["id"] for c in await listed("all=1&filter=status=exited")] == [late]:
                break
            await asyncio.sleep(0.1)
        exited = await listed("all=1&filter=status=exited&filter=exited=137")
        assert [c["id"] for c in exited] == [late] and exited[0]["stats"] is None
        assert [c["id"] for c in await listed("")] == [web]
        async with client.get(f"/api/v1/containers/{tag}-late/top") as resp:
            assert resp.status == 409
    assert not [p for p in docker_requests if re.search(r"/(stats|top)\b", p)], docker_requests


async def test_top_of_a_container_removed_after_its_lookup_is_404(
    docker_cli: DockerCLI, docker_host: str
) -> None:
    """A container removed between the lookup and the read of its processes answers 404
    "container is gone" (as one never there), not 409, which says "exists but is not
    running". The agent runs on cgroup discovery with a long interval, so it still lists
    the container after ``docker rm -f`` until its next pass: the lookup succeeds and the
    read finds the cgroup gone, every time."""
    name = unique_name("srv-gone")
    cid = await asyncio.to_thread(docker_cli.start, IMAGE, "sleep", "1000", name=name)
    agent = Agent(Settings(docker_host=docker_host, no_docker=True, interval=600, journal=None))
    async with serving(agent.settings, agent) as client:
        assert cid in agent.targets, "the agent's first pass did not find the container"
        async with client.get(f"/api/v1/containers/{cid}/top") as resp:
            assert resp.status == 200, await resp.text()
        location = agent.targets[cid].location
        dirs = [d for d in (location.unified, *location.v1.values()) if d is not None]
        await asyncio.to_thread(docker_cli.rm, cid)
        await until(lambda: not any(os.path.isdir(d) for d in dirs))
        async with client.get(f"/api/v1/containers/{cid}") as resp:
            assert resp.status == 200, "the lookup should still find it (no pass since)"
        async with client.get(f"/api/v1/containers/{cid[:12]}/top") as resp:
            body = await resp.json()
            assert resp.status == 404, body
        assert body == {"error": "container is gone", "detail": {"id": cid}}
        check_schema(body, response_schema("/api/v1/containers/{id}/top", 404))


async def test_events_history_then_live_with_a_filter(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    name = unique_name("srv-ev")
    since = time.time()
    async with serving(engine_settings(docker_host, tmp_path)) as client:
        cid = await asyncio.to_thread(docker_cli.start, IMAGE, "sleep", "1000", name=name)
        for _ in range(100):
            async with client.get(f"/api/v1/containers/{name}") as resp:
                if resp.status == 200 and (await resp.json())["state"] == "running":
                    break
            await asyncio.sleep(0.1)
        url = f"/api/v1/events?since={since:.3f}&filter=container={name}&filter=type=container"
        async with client.get(url) as resp:
            history = await json_lines(resp, 2)
            assert [h["Action"] for h in history] == ["create", "start"]
            await asyncio.to_thread(docker_cli.run, "kill", cid)
            live = await json_lines(resp, 2)
    assert [line["Action"] for line in live] == ["kill", "die"]
    assert all(line["Actor"]["ID"] == cid for line in history + live)
    assert len({line["timeNano"] for line in history + live}) == 4


@pytest.fixture
async def served(docker_host: str, tmp_path: Path) -> AsyncIterator[ServeProcess]:
    journal = tmp_path / "state" / "events.db"
    serve = ServeProcess("--journal", str(journal), "--interval", "0.2", docker_host=docker_host)
    try:
        await until(lambda: serve.said("serving") is not None or serve.proc.poll() is not None)
        assert serve.said("serving") is not None, serve.logs
        yield serve
    finally:
        serve.kill()


async def test_sigterm_stops_serve_cleanly(
    served: ServeProcess, docker_cli: DockerCLI, tmp_path: Path
) -> None:
    serving_entry = served.said("serving")
    assert serving_entry is not None
    base = f"http://{serving_entry['addresses'][0]}"
    name = unique_name("srv-term")
    async with aiohttp.ClientSession(base, timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.get("/readyz") as resp:
            assert resp.status in (200, 503)
        async with http.get(f"/api/v1/events?filter=container={name}") as events:
            await asyncio.to_thread(docker_cli.start, IMAGE, "sleep", "1000", name=name)
            lines = await json_lines(events, 2)
            assert [line["Action"] for line in lines] == ["create", "start"]
            started = time.monotonic()
            served.proc.send_signal(signal.SIGTERM)
            rest = await asyncio.wait_for(events.content.read(), 10)  # the stream ends
    code = await asyncio.to_thread(served.proc.wait, 10)
    assert code == 0 and time.monotonic() - started < 5
    assert rest == b""
    assert served.said("event journal closed") is not None
    path = tmp_path / "state" / "events.db"
    assert not os.path.exists(f"{path}-wal")  # the last connection closed: WAL folded in
    with Journal(str(path)) as journal:
        stored = [e.action for e in journal.query(None, None) if e.attributes.get("name") == name]
    assert stored == ["create", "start"]
