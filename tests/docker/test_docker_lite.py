"""The light transport (no aiohttp) answers like the aiohttp client, against the engine."""

from __future__ import annotations

import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name

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
