"""Memory after abuse comes back: a bounded flood against an in-process agent (the real
app and connection guard on a loopback port) of unparsable requests, wrong tokens and
passwords, slow headers cut off by the deadline, connections over the cap, and streams
opened then dropped; once the clients are gone, tracemalloc's view of the heap must be
back within a small bound of what it was after a warm-up round of the same."""

from __future__ import annotations

import asyncio
import gc
import secrets
import tracemalloc
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
from aiohttp import web
from helpers.serving import tree_settings

from watchdog_agent.server.app import create_app
from watchdog_agent.server.connections import GuardedHandler, GuardedRunner, guarded_runner

TOKEN = secrets.token_hex(16)
GROWTH_BOUND = 256 * 1024  # bytes still held after the flood, at most
ROUNDS = 3  # flood rounds measured (after one warm-up round)


@asynccontextmanager
async def running(tmp_path: Path) -> AsyncIterator[tuple[GuardedRunner, int]]:
    tokens, users = tmp_path / "tokens", tmp_path / "users"
    tokens.write_text(TOKEN + "\n")
    digest = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=4)).decode()
    users.write_text(f"u:{digest}\n")
    for path in (tokens, users):
        path.chmod(0o600)
    settings = tree_settings(
        auth_token_file=str(tokens), basic_auth_file=str(users), history=2,
        header_timeout=0.5, max_connections=40,
    )  # fmt: skip
    runner = guarded_runner(create_app(settings), settings)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    try:
        await site.start()
        yield runner, runner.addresses[0][1]
    finally:
        await runner.cleanup()


async def raw(port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


async def slow(port: int) -> None:
    """A request head never finished: the deadline closes it."""
    await raw(port, b"GET /metrics HTTP/1.1\r\nX-Slow: ")


async def stream(session: aiohttp.ClientSession, base: str, cid: str) -> None:
    url = f"{base}/api/v1/containers/{cid}/stats?stream=1"
    async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        assert resp.status == 200
        await resp.content.readline()  # one sample, then the client goes away


async def flood(port: int, cid: str) -> None:
    base = f"http://127.0.0.1:{port}"
    bad = f"GET / HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\x00\r\n\r\n".encode()
    async with aiohttp.ClientSession() as session:

        async def get(path: str, auth: str) -> None:
            async with session.get(base + path, headers={"Authorization": auth}) as resp:
                await resp.read()

        jobs: list[Coroutine[Any, Any, object]] = [raw(port, bad) for _ in range(60)]
        jobs += [slow(port) for _ in range(60)]  # over the cap of 40: some are evicted
        jobs += [get("/metrics", f"Bearer {secrets.token_hex(16)}") for _ in range(40)]
        jobs += [get("/metrics", aiohttp.encode_basic_auth("u", secrets.token_hex(4)))
                 for _ in range(10)]  # fmt: skip
        jobs += [get("/api/v1/containers", f"Bearer {TOKEN}") for _ in range(20)]
        jobs += [stream(session, base, cid) for _ in range(10)]
        await asyncio.gather(*jobs, return_exceptions=True)


async def settled(runner: GuardedRunner) -> None:
    for _ in range(200):  # every client gone, every connection closed
        if not runner.guard.open and not runner.server.connections:  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.6)  # past the header deadline
    # no gc.collect(): the agent runs with gctune (gen-0 at 10,000, start-up frozen), so
    # what only a full collection would free stays; cycles must not keep connections


async def test_memory_comes_back_after_a_flood(tmp_path: Path) -> None:
    async with running(tmp_path) as (runner, port):
        async with aiohttp.ClientSession() as session:
            url = f"http://127.0.0.1:{port}/api/v1/containers"
            found: list[dict[str, Any]] = []
            for _ in range(300):  # until the first sample
                async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                    found = await resp.json() if resp.status == 200 else []
                if found:
                    break
                await asyncio.sleep(0.05)
            cid = found[0]["id"]
        tracemalloc.start(1)
        try:
            await flood(port, cid)  # warm-up: caches, pools, lazily built things
            await settled(runner)
            before = tracemalloc.take_snapshot()
            for _ in range(ROUNDS):
                await flood(port, cid)
            await settled(runner)
            after = tracemalloc.take_snapshot()
        finally:
            tracemalloc.stop()
        shed = dict(runner.guard.total)
        # no connection's handler (its parser, buffers, request) outlives the connection
        # by waiting in a reference cycle for a full collection
        kept = sum(isinstance(o, GuardedHandler) for o in gc.get_objects())
    assert kept == 0
    assert shed.get("header_timeouts", 0) + shed.get("evicted", 0) > 0
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    diff = after.filter_traces(filters).compare_to(before.filter_traces(filters), "lineno")
    growth = sum(stat.size_diff for stat in diff)
    top = "\n".join(
        f"{s.size_diff:+} B {s.count_diff:+}: {s.traceback.format()[-1]}" for s in diff[:8]
    )
    print(f"heap growth after {ROUNDS} flood rounds: {growth} bytes\n{top}")
    assert growth < GROWTH_BOUND, f"{growth} bytes kept after the flood:\n{top}"
