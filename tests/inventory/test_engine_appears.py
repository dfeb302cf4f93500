"""`serve` started before its Docker engine (as at boot) picks the engine up when it
appears, then gains names, events and the journal without a restart, and its inventory
recovers when the engine is stopped and started again. A live events stream opened
while no engine answers says so at once (a gap), then carries the events once it does.

Each test runs a private engine of its own (tests/helpers/privateengine.py), never the shared one.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers.dockercli import IMAGE, TEST_LABEL
from helpers.privateengine import PrivateEngine, require_dockerd
from helpers.serveproc import ServeProcess
from helpers.serving import json_lines, until

from watchdog_agent.events.timeparse import to_docker_since

pytestmark = pytest.mark.engine

CONNECTED = "connected to the Docker engine"
CONNECT_TRIES = 1.0  # seconds: a few of the agent's first retries
NOT_YET = "no Docker engine yet: containers found by cgroup path (ids only) until it answers"


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await check():
        assert loop.time() < end, f"timed out after {timeout} s waiting for {what}"
        await asyncio.sleep(0.2)


async def containers(http: aiohttp.ClientSession) -> dict[str, dict[str, Any]]:
    """/api/v1/containers?all=1 by name (id-only entries left out)."""
    async with http.get("/api/v1/containers?all=1") as resp:
        assert resp.status == 200, await resp.text()
        return {c["name"]: c for c in await resp.json() if c["name"] is not None}


def run_detached(eng: PrivateEngine, name: str) -> str:
    proc = eng.docker(
        "run", "-d", "--name", name, "--network", "none", "--label", TEST_LABEL,
        "--label", eng.session_label, IMAGE, "sleep", "1000",
    )  # fmt: skip
    return proc.stdout.decode().strip()


async def test_serve_started_before_docker_picks_it_up_and_survives_its_restart(
    tmp_path: Path,
) -> None:
    require_dockerd()
    eng = PrivateEngine()  # not started: the agent comes first
    journal = tmp_path / "events.db"
    serve = ServeProcess("--journal", str(journal), "--interval", "0.2", docker_host=eng.host)
    first, second = f"appears-{secrets.token_hex(4)}", f"again-{secrets.token_hex(4)}"
    try:
        await until(lambda: serve.said("serving") is not None or serve.proc.poll() is not None)
        entry = serve.said("serving")
        assert entry is not None, serve.logs
        assert serve.said(NOT_YET) is not None, serve.logs
        base = f"http://{entry['addresses'][0]}"
        timeout = aiohttp.ClientTimeout(total=300)
        async with aiohttp.ClientSession(base, timeout=timeout) as http:
            async with http.get("/api/v1/info") as resp:
                assert (await resp.json())["docker"] is None
            # a live stream with no engine: the reason at once, not a silent hang
            stream = await http.get(f"/api/v1/events?filter=container={first}")
            (gap,) = await json_lines(stream, 1)
            assert gap["gap"]["reason"] == "docker-unavailable", gap
            assert gap["gap"]["start_nano"] <= gap["gap"]["end_nano"] <= time.time_ns()

            await asyncio.to_thread(eng.start)
            await until(lambda: serve.said(CONNECTED) is not None, timeout=30)
            await asyncio.to_thread(eng.import_busybox)
            before = time.time_ns()
            await asyncio.to_thread(run_detached, eng, first)

            # names, from the inventory, without a restart
            async def named_running() -> bool:
                found = (await containers(http)).get(first)
                return found is not None and found["state"] == "running"

            await eventually(named_running, 30, f"{first} running in /api/v1/containers")
            async with http.get("/api/v1/info") as resp:
                assert (await resp.json())["docker"]["version"]
            # events: the stream opened before the engine existed carries them
            live = await json_lines(stream, 2, timeout=30)
            assert [e.get("Action") for e in live] == ["create", "start"], live
            assert {e["Actor"]["Attributes"]["name"] for e in live} == {first}
            stream.release()
            # post-mortems too: a container that dies now is captured
            dead = f"dies-{secrets.token_hex(4)}"
            await asyncio.to_thread(
                eng.docker, "run", "--name", dead, "--network", "none", "--label", TEST_LABEL,
                "--label", eng.session_label, IMAGE, "sh", "-c", "exit 3", check=False,
            )  # fmt: skip

            async def post_mortem() -> bool:
                async with http.get(f"/api/v1/containers/{dead}/postmortem") as resp:
                    return resp.status == 200 and (await resp.json())["exit_code"] == 3

            await eventually(post_mortem, 30, f"the post-mortem of {dead}")
            # the journal: the same events replayed
            window = f"since={to_docker_since(before)}&until={to_docker_since(time.time_ns())}"
            async with http.get(f"/api/v1/events?{window}&filter=container={first}") as resp:
                replay = [x for x in (await resp.text()).splitlines() if x]
            assert [x for x in replay if '"Action":"start"' in x], replay

            # the engine goes away and comes back: the inventory recovers
            await asyncio.to_thread(eng.stop)

            async def gap_said() -> bool:  # a new live stream says the engine is gone
                async with http.get("/api/v1/events") as resp:
                    try:
                        (item,) = await json_lines(resp, 1, timeout=2)
                    except TimeoutError:
                        return False  # the tap has not noticed yet
                return bool(item.get("gap", {}).get("reason") == "docker-unavailable")

            await eventually(gap_said, 30, "a docker-unavailable gap while the engine is down")
            await asyncio.to_thread(eng.start)
            await asyncio.to_thread(run_detached, eng, second)

            async def recovered() -> bool:
                now = await containers(http)
                return (
                    second in now
                    and now[second]["state"] == "running"
                    and first in now
                    and now[first]["state"] != "running"  # killed with its engine
                )

            await eventually(recovered, 60, "the inventory after the engine's restart")
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(30) == 0, serve.logs
    finally:
        serve.kill()
        if eng.proc is not None and eng.proc.poll() is None:
            await asyncio.to_thread(eng.remove_containers)
        await asyncio.to_thread(eng.destroy)


async def test_sigterm_ends_serve_while_it_waits_for_an_engine(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/never.sock"
    serve = ServeProcess("--journal", "none", docker_host=host)
    try:
        await until(lambda: serve.said("serving") is not None or serve.proc.poll() is not None)
        assert serve.said("serving") is not None, serve.logs
        await asyncio.sleep(CONNECT_TRIES)  # let it retry a few times first
        serve.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(serve.proc.wait, 15)
        assert code == 0, serve.logs
        await until(lambda: serve.said("stopped") is not None, timeout=5)
        assert serve.said(CONNECTED) is None
    finally:
        serve.kill()
