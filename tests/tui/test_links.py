"""Each agent's link state against real agents with credentials and TLS, and against
answers a real agent cannot give (garbage, from tiny loopback servers)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import bcrypt
import pytest
from aiohttp import web
from helpers import dstats as shared
from helpers.certs import make_cert
from helpers.dstats import Workload, serve

from watchdog_agent.tui.client import Credentials
from watchdog_agent.tui.fleet import AgentFleet, sources_for
from watchdog_agent.tui.view import FleetView, HostView, LinkState

TOKEN = secrets.token_hex(16)
USER, PASSWORD = "viewer", secrets.token_hex(8)
workload = shared.workload  # the module fixture


def only(view: FleetView) -> HostView:
    assert len(view.hosts) == 1
    return view.hosts[0]


async def link_of(url: str, creds: Credentials, want: LinkState, timeout: float = 30) -> HostView:
    """The host's view once it reaches ``want`` (connected: with rows), or the last one."""

    def reached(view: FleetView) -> bool:
        h = only(view)
        return h.link == want and (want != LinkState.CONNECTED or bool(h.rows))

    fleet = AgentFleet(sources_for([url], creds))
    try:
        return only(await fleet.until(reached, timeout))
    finally:
        await fleet.close()


@pytest.fixture(scope="module")
def secured(
    docker_host: str, workload: Workload, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An agent on the engine that takes a bearer token or basic auth."""
    root = tmp_path_factory.mktemp("creds")
    tokens, users = root / "tokens", root / "users"
    tokens.write_text(f"{TOKEN}\n")
    digest = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    users.write_text(f"{USER}:{digest}\n")
    for path in (tokens, users):
        path.chmod(0o600)
    proc = serve(docker_host, "--auth-token-file", str(tokens), "--basic-auth-file", str(users))
    try:
        yield proc.wait_url()
    finally:
        proc.kill()


@pytest.mark.engine
async def test_bearer_token(secured: str, workload: Workload) -> None:
    wrong = secrets.token_hex(16)
    h = await link_of(secured, Credentials(token=wrong), LinkState.AUTH_REFUSED)
    assert h.link == LinkState.AUTH_REFUSED and h.detail is not None
    assert "401" in h.detail and wrong not in h.detail and not h.rows
    h = await link_of(secured, Credentials(), LinkState.AUTH_REFUSED)
    assert h.link == LinkState.AUTH_REFUSED
    h = await link_of(secured, Credentials(token=TOKEN), LinkState.CONNECTED)
    assert h.link == LinkState.CONNECTED
    assert workload.busy in {r.name for r in h.rows.values()}


@pytest.mark.engine
async def test_basic_auth(secured: str, workload: Workload) -> None:
    h = await link_of(secured, Credentials(user=USER, password="nope"), LinkState.AUTH_REFUSED)
    assert h.link == LinkState.AUTH_REFUSED and h.detail is not None and "nope" not in h.detail
    h = await link_of(secured, Credentials(user=USER, password=PASSWORD), LinkState.CONNECTED)
    assert h.link == LinkState.CONNECTED
    assert workload.idle in {r.name for r in h.rows.values()}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tls")
    make_cert(out, "ca")
    make_cert(out, "server", ca="ca")
    make_cert(out, "client", ca="ca")
    return out


@pytest.mark.engine
async def test_tls_with_a_ca_and_a_client_certificate(
    docker_host: str, workload: Workload, certs: Path
) -> None:
    proc = serve(docker_host, "--tls-cert", str(certs / "server.pem"), "--tls-key",
                 str(certs / "server.key"), "--tls-client-ca", str(certs / "ca.pem"))  # fmt: skip
    try:
        url = proc.wait_url().replace("http://", "https://")
        ca = str(certs / "ca.pem")
        mine = Credentials(ca_file=ca, cert_file=str(certs / "client.pem"),
                           key_file=str(certs / "client.key"))  # fmt: skip
        h = await link_of(url, mine, LinkState.CONNECTED)
        assert h.link == LinkState.CONNECTED, h.detail
        assert workload.busy in {r.name for r in h.rows.values()}
        # no CA: the agent's certificate is not trusted
        h = await link_of(url, Credentials(), LinkState.RETRYING)
        assert h.link == LinkState.RETRYING and h.detail is not None and "TLS" in h.detail
        # the CA but no client certificate: the agent refuses the handshake
        h = await link_of(url, Credentials(ca_file=ca), LinkState.RETRYING)
        assert h.link == LinkState.RETRYING and h.detail is not None
    finally:
        proc.kill()


# -- garbage: what a real agent cannot produce ---------------------------------------------


async def _serve_app(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def hello(request: web.Request) -> web.Response:
    return web.Response(text="<html>hello</html>\n")


async def ssh_banner(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read(1024)
    writer.write(b"SSH-2.0-OpenSSH_9.2\r\n")
    await writer.drain()
    writer.close()


@pytest.fixture(params=["not JSON", "not HTTP"])
async def garbage(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A web server whose every answer is 200 text/plain, or a TCP server that answers
    with a line that is not HTTP."""
    if request.param == "not JSON":
        app = web.Application()
        app.router.add_get("/{tail:.*}", hello)
        async for url in _serve_app(app):
            yield url
        return
    server = await asyncio.start_server(ssh_banner, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def test_garbage_is_a_bad_answer_retried(garbage: str) -> None:
    fleet = AgentFleet(sources_for([garbage]))
    seen: list[FleetView] = []
    runner = asyncio.create_task(fleet.run(seen.append))
    try:
        view = await fleet.until(lambda v: only(v).link == LinkState.BAD_ANSWER, 15)
        h = only(view)
        assert h.link == LinkState.BAD_ANSWER and h.detail is not None
        assert "does not answer as an agent" in h.detail and "retrying in" in h.detail
        # retried: the next attempt (after 1 s) fails the same way and doubles the wait
        view = await fleet.until(lambda v: "retrying in 2 s" in (only(v).detail or ""), 15)
        assert "retrying in 2 s" in (only(view).detail or "")
        assert not runner.done()  # no crash
    finally:
        runner.cancel()
        await fleet.close()
