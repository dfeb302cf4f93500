"""The light transport (no aiohttp) answers like the aiohttp client, against the engine."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name

from watchdog_agent.docker import lite
from watchdog_agent.docker.client import DockerClient
from watchdog_agent.docker.lite import LiteDockerClient, parse_response
from watchdog_agent.errors import DockerUnavailable, NotFound, ParseError, UsageError


def test_parse_response() -> None:
    raw = b"HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nContent-Type: text/plain\r\n\r\nOK"
    assert parse_response(raw, "/_ping") == (
        200,
        "OK",
        {"api-version": "1.41", "content-type": "text/plain"},
        b"OK",
    )
    with pytest.raises(ParseError):
        parse_response(b"garbage", "/x")
    with pytest.raises(ParseError):
        parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n", "/x")


@pytest.mark.engine
async def test_lite_matches_aiohttp_client(docker_cli: DockerCLI, docker_host: str) -> None:
    name = unique_name("lite")
    cid = docker_cli.start(IMAGE, "sleep", "1000", name=name)
    lite = LiteDockerClient(docker_host)
    async with DockerClient(docker_host) as full:
        assert await lite.negotiate() == await full.negotiate()
        assert await lite.inspect_container(name) == await full.inspect_container(name)
        mine = {c.id for c in await lite.list_containers()}
        assert cid in mine
        assert mine == {c.id for c in await full.list_containers()}
    with pytest.raises(NotFound):
        await lite.inspect_container("no-such-container-" + name)


async def test_lite_refuses_non_get_and_missing_socket() -> None:
    lite = LiteDockerClient("unix:///nonexistent/docker.sock")
    with pytest.raises(UsageError):
        await lite.request("POST", "/containers/x/kill")
    with pytest.raises(DockerUnavailable):
        await lite.negotiate()


# -- MAX_BODY: a fake engine, as no real daemon answers beyond the cap on demand ----------


@asynccontextmanager
async def fake_engine(answer: bytes) -> AsyncIterator[str]:
    """A unix socket that answers a ping as the Engine does and every other request with
    ``answer``, then closes."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        writer.write(http("200 OK", b"OK") if request.startswith(b"GET /_ping ") else answer)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        writer.close()

    folder = tempfile.mkdtemp(prefix="wdl-", dir="/tmp")
    path = os.path.join(folder, "e.sock")
    server = await asyncio.start_unix_server(handle, path)
    try:
        yield f"unix://{path}"
    finally:
        server.close()
        await server.wait_closed()
        shutil.rmtree(folder)


def http(status: str, body: bytes) -> bytes:
    return f"HTTP/1.0 {status}\r\nApi-Version: 1.41\r\n\r\n".encode() + body


async def test_a_response_over_max_body_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lite, "MAX_BODY", 1024 * 1024)
    head = len(http("200 OK", b""))
    fits = b"[" + b" " * (lite.MAX_BODY - head - 2) + b"]"
    async with fake_engine(http("200 OK", fits)) as host:
        client = LiteDockerClient(host)
        assert await client.get_json("/containers/json") == []  # exactly the cap: read whole
    async with fake_engine(http("200 OK", fits + b" ")) as host:
        client = LiteDockerClient(host)
        with pytest.raises(ParseError, match=r"GET /v1\.41/containers/json.*larger than 1048576"):
            await client.get_json("/containers/json")
    error = b'{"message": "' + b"x" * lite.MAX_BODY + b'"}'
    async with fake_engine(http("500 Server Error", error)) as host:
        client = LiteDockerClient(host)
        with pytest.raises(ParseError, match="larger than"):
            async with contextlib.aclosing(client.stream_raw("/containers/x/logs")) as chunks:
                async for _ in chunks:
                    pass


async def test_an_engine_closing_before_its_answer_is_unavailable() -> None:
    async with fake_engine(b"HTTP/1.0 200 OK\r\n") as host:  # no end of head
        client = LiteDockerClient(host)
        with pytest.raises(DockerUnavailable, match=r"GET /v1\.41/containers/x/logs"):
            async with contextlib.aclosing(client.stream_raw("/containers/x/logs")) as chunks:
                async for _ in chunks:
                    pass
