"""Nothing per container outlives it: 200 real containers created and removed in batches
(through the Engine API: a CLI process per container is too slow for a test) against an
in-process agent leave no trace in its objects once the grace period is over.

The check walks every object reachable from the app (the agent, its store, history,
inventory, sampler, target cache, post-mortem tables, metrics caches; closures and the
frames of its tasks too) and looks for any of the 200 ids in any str or bytes. Left out:
the events tap's de-duplication window (the keys of the last minute of events, at most
SEEN_KEYS, kept on purpose: a reconnect must not repeat an event) and what is stored on
purpose in SQLite (the journal and the post-mortems), which are not Python objects.
"""

from __future__ import annotations

import asyncio
import gc
import re
import types
from collections import deque
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers.dockercli import IMAGE, TEST_LABEL, DockerCLI
from helpers.serving import serving

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.config import Settings

pytestmark = pytest.mark.engine

TOTAL = 200
BATCH = 25
PARALLEL = 8  # docker CLI processes at once
GRACE = 2.0  # seconds the history keeps a gone container's rows (30 s in service)
HEX64 = re.compile(rb"[0-9a-f]{64}")


def reachable_ids(root: object, wanted: set[str], exclude: list[object]) -> dict[str, list[str]]:
    """wanted ids found in str/bytes reachable from ``root`` (not through ``exclude``)
    -> the types on the way to each."""
    found: dict[str, list[str]] = {}
    seen = {id(x) for x in exclude}
    queue: deque[tuple[object, list[str]]] = deque([(root, [type(root).__name__])])
    skip = (types.ModuleType, type, asyncio.AbstractEventLoop, types.CodeType)
    while queue:
        obj, path = queue.popleft()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, str | bytes | bytearray):
            data = obj.encode() if isinstance(obj, str) else bytes(obj)
            for match in HEX64.findall(data):
                cid = match.decode()
                if cid in wanted and cid not in found:
                    found[cid] = path
            continue
        if isinstance(obj, types.FunctionType):  # its state, not its module's globals
            referents: list[Any] = [*(obj.__closure__ or ()), *(obj.__defaults__ or ())]
        else:
            referents = gc.get_referents(obj)
        for ref in referents:
            if id(ref) not in seen:
                queue.append((ref, [*path[-6:], type(ref).__name__]))
    return found


async def wait_for(check: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await check():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def test_no_state_is_left_for_200_removed_containers(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    settings = Settings(docker_host=docker_host, interval=0.25, journal=str(tmp_path / "ev.db"))
    agent = Agent(settings)
    agent.store.rows.grace = GRACE
    ids: list[str] = []
    sampled: set[str] = set()
    limit = asyncio.Semaphore(PARALLEL)

    async def start(n: int) -> str:
        # half remove themselves (--rm), half exit and wait for `docker rm`
        body = {
            "Image": IMAGE,
            "Cmd": ["sleep", "4"],
            "Labels": dict(label.split("=", 1) for label in (TEST_LABEL, docker_cli.session_label)),
            "HostConfig": {"NetworkMode": "none", "AutoRemove": bool(n % 2)},
        }
        async with limit:
            async with engine.post("/containers/create", json=body) as resp:
                assert resp.status == 201, await resp.text()
                cid: str = (await resp.json())["Id"]
            docker_cli.started.append(cid)  # removed at the end of the session if left
            async with engine.post(f"/containers/{cid}/start") as resp:
                assert resp.status == 204, await resp.text()
        ids.append(cid)
        return cid

    async def remove_later(batch: list[str]) -> None:
        await asyncio.sleep(5)  # they exit first (die: post-mortems)
        for cid in batch:
            async with engine.delete(f"/containers/{cid}", params={"force": "1"}) as resp:
                assert resp.status in (204, 404), await resp.text()

    async def watch_history() -> None:  # which of them the history held at some point
        while True:
            sampled.update(c for c in ids if c in agent.store.rows)
            await asyncio.sleep(0.1)

    loop = asyncio.get_running_loop()
    t0 = loop.time()
    phases: dict[str, float] = {}
    socket = docker_host.removeprefix("unix://")
    async with (
        aiohttp.ClientSession(
            "http://docker", connector=aiohttp.UnixConnector(path=socket)
        ) as engine,
        serving(settings, agent) as client,
    ):
        watcher = asyncio.create_task(watch_history())
        removals = []
        try:
            for first in range(0, TOTAL, BATCH):
                batch = await asyncio.gather(*(start(n) for n in range(first, first + BATCH)))
                kept = [c for n, c in enumerate(batch) if not (first + n) % 2]
                removals.append(asyncio.create_task(remove_later(kept)))
            phases["started"] = loop.time() - t0
            await asyncio.gather(*removals)
            phases["removed"] = loop.time() - t0
        finally:
            watcher.cancel()
        wanted = set(ids)
        assert len(wanted) == TOTAL
        assert len(sampled) >= TOTAL // 2, f"only {len(sampled)} were ever sampled"

        async def all_gone() -> bool:
            return not wanted & agent.refs().keys()

        await wait_for(all_gone, 60, "the destroy events")

        async def captured() -> bool:
            assert agent.postmortems is not None
            return agent.postmortems.captured + agent.postmortems.failed >= TOTAL

        await wait_for(captured, 90, "the post-mortems")
        phases["captured"] = loop.time() - t0
        # a post-mortem per container, served after it is gone, with the samples it had
        with_samples = 0
        for cid in ids[:: TOTAL // 20]:
            async with client.get(f"/api/v1/containers/{cid}/postmortem") as resp:
                assert resp.status == 200, (cid, await resp.text())
                with_samples += bool((await resp.json())["samples"])
            async with client.get(f"/api/v1/containers/{cid}/stats?history=5") as resp:
                assert resp.status == 404
        assert with_samples > 0

        # the grace period, then a container of our own whose events and samples replace
        # ours in whatever holds "the latest" (a loop's last item, the latest snapshot)
        await asyncio.sleep(GRACE + 1)
        flush = await asyncio.to_thread(docker_cli.start, IMAGE, "sleep", "30")

        async def flushed() -> bool:
            latest = agent.store.latest
            return latest is not None and flush in latest.containers

        await wait_for(flushed, 30, "the flush container's first sample")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(docker_cli.rm, flush)
        await asyncio.sleep(GRACE + 1)

        assert not [c for c in ids if c in agent.store.rows]
        async with client.get("/metrics") as resp:
            metrics = await resp.text()
        assert not [c for c in ids if c in metrics]
        gc.collect()
        assert agent.events is not None and agent.events.tap is not None
        window = agent.events.tap._seen  # bounded on purpose (SEEN_SPAN_NS, SEEN_KEYS)
        left = reachable_ids(client.app, wanted, exclude=[window])
        assert not left, f"{len(left)} ids still held, e.g. {next(iter(left.items()))}"
