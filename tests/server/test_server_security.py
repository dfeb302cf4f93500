"""Security by default, on fixture trees (no Docker): bearer and basic auth on every route
of the OpenAPI document, the health exemption, no secrets in logs, query limits, clear
startup errors, and TLS (HTTPS, then required client certificates) through `serve`."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import queue
import secrets
import ssl
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp import encode_basic_auth as basic
from aiohttp.test_utils import TestClient
from helpers.certs import make_cert
from helpers.serveproc import serve_args
from helpers.serving import check_schema, response_schema, serving, tree_settings
from structlog.testing import capture_logs

from watchdog_agent.commands.serve import warn_if_exposed
from watchdog_agent.config import Settings, load_settings
from watchdog_agent.errors import UsageError
from watchdog_agent.server.app import create_app
from watchdog_agent.server.auth import RECHECK, Authenticator, read_users
from watchdog_agent.server.limits import MAX_FILTERS
from watchdog_agent.server.openapi import document

TOKEN = "tok-" + secrets.token_hex(16)
USER, PASSWORD = "scraper", "pw-" + secrets.token_hex(12)
BEARER = {"Authorization": f"Bearer {TOKEN}"}
BASIC = {"Authorization": basic(USER, PASSWORD)}
SECRETS = (TOKEN, PASSWORD, BASIC["Authorization"].split()[1])
Client = TestClient[Any, Any]


@pytest.fixture(scope="module")
def cred_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("creds")
    tokens = root / "tokens"
    tokens.write_text(f"# scrapers\n\n  {TOKEN}  \nother-{secrets.token_hex(8)}\n")
    users = root / "users"
    digest = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    users.write_text(f"# user:bcrypt-hash\n{USER}:{digest}\n")
    return {"auth_token_file": str(tokens), "basic_auth_file": str(users)}


@asynccontextmanager
async def secured(files: dict[str, str], **more: Any) -> AsyncIterator[Client]:
    """The app with both credential files, once ready (asked with credentials)."""
    async with serving(tree_settings(**files, **more), ready=False) as client:
        for _ in range(300):
            async with client.get("/readyz", headers=BEARER) as resp:
                if resp.status == 200:
                    break
            await asyncio.sleep(0.05)
        yield client


async def every_url(client: Client) -> list[tuple[str, str]]:
    """(url, documented path) for each path of the document, {id} a real container's."""
    async with client.get("/api/v1/containers", headers=BEARER) as resp:
        cid = (await resp.json())[0]["id"]
    return [(path.replace("{id}", cid), path) for path in document()["paths"]]


async def test_every_documented_route_needs_credentials(cred_files: dict[str, str]) -> None:
    async with secured(cred_files) as client:
        urls = await every_url(client)
        assert {"/metrics", "/healthz", "/api/v1/events"} <= {u for u, _ in urls}
        for url, path in urls:
            async with client.get(url) as resp:
                assert resp.status == 401, url
                assert resp.headers.getall("WWW-Authenticate") == [
                    'Bearer realm="watchdog-agent"',
                    'Basic realm="watchdog-agent", charset="UTF-8"',
                ]
                body = await resp.json()
            check_schema(body, response_schema(path, 401), url)
            assert body["error"] == "unauthorized"
            for headers in (BEARER, BASIC):
                async with client.get(url, headers=headers) as resp:
                    assert resp.status != 401, (url, headers)  # streams: headers are enough
        # the page for browsers is behind the same credentials
        async with client.get("/", headers={"Accept": "text/html"}) as resp:
            assert resp.status == 401
        async with client.get("/", headers={"Accept": "text/html", **BASIC}) as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
        # no route discovery without credentials: unknown paths and methods get 401 too
        async with client.get("/no/such/route") as resp:
            assert resp.status == 401
        async with client.post("/api/v1/containers") as resp:
            assert resp.status == 401
        with pytest.raises(aiohttp.WSServerHandshakeError) as err:
            await client.ws_connect("/api/v1/events")
        assert err.value.status == 401
        ws = await client.ws_connect("/api/v1/events", headers=BASIC)
        await ws.close()


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ",
        TOKEN,
        basic(USER, PASSWORD + "x"),
        basic("nobody", PASSWORD),
        basic(USER, ""),
        "Basic " + base64.b64encode(USER.encode()).decode(),  # no colon
        "Basic !!notbase64!!",
        f"Basic {TOKEN}",
        f"Digest {TOKEN}",
    ],
    # names, not the values: the secrets are random per process, and pytest-xdist's
    # workers must collect the same test ids
    ids=[
        "token+x",
        "token-1",
        "bearer-empty",
        "no-scheme",
        "wrong-password",
        "unknown-user",
        "empty-password",
        "no-colon",
        "not-base64",
        "token-as-basic",
        "token-as-digest",
    ],
)
async def test_wrong_credentials_answer_401(cred_files: dict[str, str], header: str) -> None:
    headers = {"Authorization": header}
    async with secured(cred_files) as client, client.get("/metrics", headers=headers) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"] == "unauthorized"


async def test_either_file_alone_offers_its_own_scheme(cred_files: dict[str, str]) -> None:
    only_tokens = {"auth_token_file": cred_files["auth_token_file"]}
    async with secured(only_tokens) as client:
        async with client.get("/api/v1/info", headers=BASIC) as resp:
            assert resp.status == 401
            assert resp.headers.getall("WWW-Authenticate") == ['Bearer realm="watchdog-agent"']
        async with client.get("/api/v1/info", headers=BEARER) as resp:
            assert resp.status == 200


async def test_health_checks_can_be_left_open(cred_files: dict[str, str]) -> None:
    async with serving(tree_settings(**cred_files, auth_exempt_health=True)) as client:
        for path in ("/healthz", "/readyz"):
            async with client.get(path) as resp:
                assert resp.status == 200, path
        for path in ("/metrics", "/api/v1/info", "/"):
            async with client.get(path) as resp:
                assert resp.status == 401, path


async def test_no_secret_reaches_the_logs(
    cred_files: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with capture_logs() as logs:
        async with secured(cred_files) as client:
            for header in (*BEARER.values(), *BASIC.values(), TOKEN, f"Basic {TOKEN}"):
                for path in ("/metrics", "/api/v1/containers/bad$id", "/nowhere"):
                    async with client.get(path, headers={"Authorization": header + "x"}):
                        pass
                    async with client.get(path, headers={"Authorization": header}):
                        pass
    assert any(entry["event"] == "unauthorized" for entry in logs)
    text = repr(logs) + caplog.text
    for secret in SECRETS:
        assert secret not in text


async def test_basic_auth_checks_are_remembered_while_the_file_is_unchanged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, digest: bytes) -> bool:
        if password != b"probe":  # the cost check's own measurement
            calls.append(password)
        return real(password, digest)

    monkeypatch.setattr(bcrypt, "checkpw", counting)  # as the pool calls it
    now = [100.0]
    users = tmp_path / "users"
    users.write_text("u:" + bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=4)).decode() + "\n")
    auth = Authenticator(users=read_users(str(users)), clock=lambda: now[0], users_path=str(users))
    right = basic("u", "right").split()[1]
    wrong = basic("u", "wrong").split()[1]
    try:
        assert await auth.basic_ok(right) and await auth.basic_ok(right)
        assert len(calls) == 1
        assert not await auth.basic_ok(wrong) and not await auth.basic_ok(wrong)
        assert len(calls) == 3  # failures are never remembered
        now[0] += 3600  # time alone forgets nothing
        assert await auth.basic_ok(right)
        assert len(calls) == 3
        # a changed file is read again and forgets what was remembered
        users.write_text("u:" + bcrypt.hashpw(b"new", bcrypt.gensalt(rounds=4)).decode() + "\n")
        now[0] += RECHECK
        assert not await auth.basic_ok(right)
        assert await auth.basic_ok(basic("u", "new").split()[1])
        assert len(calls) == 5
        unknown = basic("v", "new").split()[1]
        assert not await auth.basic_ok(unknown)  # another user's password is no key
        assert all(b"new" not in key and b"right" not in key for key in auth._cache)
    finally:
        auth.close()


@pytest.mark.parametrize(
    ("setting", "text", "message"),
    [
        ("auth_token_file", "", "has no entries"),
        ("auth_token_file", "# only a comment\n\n", "has no entries"),
        ("auth_token_file", "two words\n", "one word"),
        ("basic_auth_file", "", "has no entries"),
        ("basic_auth_file", "alice\n", "expected user:bcrypt-hash"),
        ("basic_auth_file", "alice:plaintext\n", "not a bcrypt hash"),
    ],
)
def test_bad_credential_files_fail_at_startup(
    tmp_path: Path, setting: str, text: str, message: str
) -> None:
    path = tmp_path / "creds"
    path.write_text(text)
    with pytest.raises(UsageError, match=message) as err:
        create_app(tree_settings(**{setting: str(path)}))
    assert "plaintext" not in str(err.value)
    with pytest.raises(UsageError, match="cannot read"):
        create_app(tree_settings(**{setting: str(tmp_path / "missing")}))


async def test_query_limits(cred_files: dict[str, str]) -> None:
    async with serving(tree_settings()) as client:
        many = "&".join(["filter=status=running"] * MAX_FILTERS)
        async with client.get(f"/api/v1/containers?{many}") as resp:
            assert resp.status == 200
        async with client.get(f"/api/v1/containers?{many}&filter=status=running") as resp:
            assert resp.status == 400
            assert "filter values" in (await resp.json())["detail"]
        async with client.get("/api/v1/events?since=" + "9" * 5000) as resp:
            assert resp.status == 400
            assert "query string" in (await resp.json())["detail"]


def test_exposed_listen_warnings_name_what_is_missing() -> None:
    exposed = "0.0.0.0:9338"
    with capture_logs() as logs:
        assert warn_if_exposed(Settings(listen=exposed))
        assert warn_if_exposed(Settings(listen=exposed, auth_token_file="t"))
        assert not warn_if_exposed(
            Settings(listen=exposed, basic_auth_file="u", tls_cert="c", tls_key="k")
        )
    assert "WITHOUT AUTHENTICATION AND WITHOUT TLS" in logs[0]["event"]
    assert "WITHOUT TLS" in logs[1]["event"] and "AUTHENTICATION" not in logs[1]["event"]
    assert len(logs) == 2


# -- TLS, through `watchdog-agent serve` -------------------------------------------------


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tls")
    make_cert(out, "server")  # self-signed: the client trusts it directly
    make_cert(out, "ca")
    make_cert(out, "client", ca="ca")
    make_cert(out, "stranger")  # a client certificate no trusted CA signed
    return out


@contextmanager
def served(*more: str) -> Iterator[int]:
    """`watchdog-agent serve` in a subprocess; yields its port (from the "serving" log)."""
    proc = subprocess.Popen(serve_args(*more), stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    stderr = proc.stderr

    def read() -> None:
        for line in stderr:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        while True:
            entry = json.loads(lines.get(timeout=20))
            if entry.get("event") == "serving":
                yield int(entry["addresses"][0].rsplit(":", 1)[1])
                return
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def fetch(url: str, ctx: ssl.SSLContext, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, context=ctx, timeout=10) as resp:
        resp.read()
        return int(resp.status)


def client_context(certs: Path, name: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs / "server.pem"))
    if name is not None:
        ctx.load_cert_chain(str(certs / f"{name}.pem"), str(certs / f"{name}.key"))
    return ctx


def test_tls_serves_https_to_a_client_that_trusts_the_certificate(
    certs: Path, cred_files: dict[str, str]
) -> None:
    tls = ["--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key")]
    with served(*tls, "--auth-token-file", cred_files["auth_token_file"]) as port:
        base = f"https://127.0.0.1:{port}"
        assert fetch(f"{base}/api/v1/info", client_context(certs), BEARER) == 200
        with pytest.raises(urllib.error.HTTPError) as err:
            fetch(f"{base}/api/v1/info", client_context(certs))
        assert err.value.code == 401
        with pytest.raises(urllib.error.URLError):  # does not trust the certificate
            fetch(f"{base}/healthz", ssl.create_default_context())
        with pytest.raises((ConnectionError, urllib.error.URLError)):  # plain HTTP
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10).read()


def test_a_client_ca_requires_a_certificate_it_signed(certs: Path) -> None:
    tls = ["--tls-cert", str(certs / "server.pem"), "--tls-key", str(certs / "server.key"),
           "--tls-client-ca", str(certs / "ca.pem")]  # fmt: skip
    with served(*tls) as port:
        url = f"https://127.0.0.1:{port}/healthz"
        assert fetch(url, client_context(certs, "client")) == 200
        for name in (None, "stranger"):
            with pytest.raises((ssl.SSLError, ConnectionError, urllib.error.URLError)):
                fetch(url, client_context(certs, name))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key"], "cannot use"),
        (["--tls-cert", "@server.pem"], "needs --tls-key"),
        (["--tls-cert", "@server.pem", "--tls-key", "@client.key"], "cannot use"),
        (["--tls-key", "@server.key"], "need --tls-cert"),
        (
            [
                "--tls-cert",
                "@server.pem",
                "--tls-key",
                "@server.key",
                "--tls-client-ca",
                "@server.ext",
            ],
            "client CA",
        ),
        (["--auth-token-file", "/nonexistent/tokens"], "cannot read the auth token file"),
        (["--basic-auth-file", "/nonexistent/users"], "cannot read the basic auth file"),
    ],
)
def test_bad_security_files_exit_2_with_a_clear_message(
    certs: Path, args: list[str], message: str
) -> None:
    args = [str(certs / a[1:]) if a.startswith("@") else a for a in args]  # files made here
    done = subprocess.run(serve_args(*args), capture_output=True, text=True, timeout=30)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr


def test_security_settings_come_from_flags_env_and_toml(tmp_path: Path) -> None:
    toml = tmp_path / "agent.toml"
    toml.write_text('basic_auth_file = "/etc/users"\nauth_exempt_health = true\ntls_cert = "c"\n')
    env = {"WATCHDOG_AUTH_TOKEN_FILE": "/etc/tokens", "WATCHDOG_TLS_KEY": "k"}
    got = load_settings({"tls_client_ca": "ca"}, config_file=str(toml), env=env)
    assert (got.auth_token_file, got.basic_auth_file, got.auth_exempt_health) == (
        "/etc/tokens",
        "/etc/users",
        True,
    )
    assert (got.tls_cert, got.tls_key, got.tls_client_ca) == ("c", "k", "ca")
    assert got.auth_enabled and got.tls_enabled
    default = load_settings(env={})
    assert not default.auth_enabled and not default.tls_enabled
    assert not default.auth_exempt_health
