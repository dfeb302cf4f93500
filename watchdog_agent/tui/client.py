"""An HTTP client for one agent (aiohttp), with the agent's auth options.

Bearer token (the first line of a token file), basic auth (a user and a password file),
a CA bundle to trust, a client certificate and key (for an agent run with
``--tls-client-ca``), or a unix socket (the in-process agent of ``local``). ``get_json``
fetches a document; ``lines`` reads a streamed NDJSON response line by line with no
total read timeout (streams idle between documents; blank keep-alive lines are skipped).

Errors are translated here, once, into :class:`~watchdog_agent.tui.view.FleetError`
subclasses: :class:`AgentDown` (nothing answers, the connection broke, TLS failed),
:class:`AuthRefused` (401/403, with the agent's own message), :class:`BadAnswer`
(not HTTP, not JSON, not the expected shape) and :class:`AgentAnswered` (any other
error status, e.g. 404). Tokens and passwords never appear in an error's text.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from watchdog_agent.errors import UsageError
from watchdog_agent.tui.view import FleetError

GET_TIMEOUT = 10.0  # seconds for a whole GET of a document
CONNECT_TIMEOUT = 5.0  # seconds to connect (and, with TLS, to shake hands)
MAX_LINE = 256 * 1024 * 1024  # a streamed line longer than this is not the agent's output
MAX_DETAIL = 300  # characters of an agent's error text kept in a message

Params = Sequence[tuple[str, str]]


class AgentDown(FleetError):
    """Nothing answers, the connection broke off, or TLS failed."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"no answer from {url}: {reason}")
        self.url = url
        self.reason = reason


class AgentAnswered(FleetError):
    """The agent answered with an error status (its ``{"error", "detail"}`` text)."""

    def __init__(self, url: str, status: int, message: str) -> None:
        super().__init__(
            f"{url} answered {status}: {message}" if message else f"{url} answered {status}"
        )
        self.url = url
        self.status = status
        self.message = message


class AuthRefused(AgentAnswered):
    """401 or 403: the credentials are missing or wrong."""


class BadAnswer(FleetError):
    """Something answered, but not the agent's API (not HTTP, not JSON, wrong shape)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{url} does not answer as an agent: {reason}")
        self.url = url
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Credentials:
    """How to authenticate to the agents (the same for every ``--agent``)."""

    token: str | None = None
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None  # PEM bundle of the CAs to trust (https)
    cert_file: str | None = None  # client certificate (PEM), for --tls-client-ca
    key_file: str | None = None  # its key (None: in the certificate file)

    def __repr__(self) -> str:  # never print the secrets
        return (
            f"Credentials(token={'***' if self.token else None}, user={self.user!r}, "
            f"password={'***' if self.password else None}, ca_file={self.ca_file!r}, "
            f"cert_file={self.cert_file!r}, key_file={self.key_file!r})"
        )


def first_line(path: str, what: str) -> str:
    """The first line of a secret file (stripped); UsageError when unreadable or empty."""
    try:
        with open(path, encoding="utf-8") as fh:
            line = fh.readline().strip()
    except OSError as exc:
        raise UsageError(f"cannot read the {what} file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"the {what} file {path} is not UTF-8 text") from exc
    if not line:
        raise UsageError(f"the {what} file {path} is empty")
    return line


def tls_context(creds: Credentials) -> ssl.SSLContext:
    """The context for https agents; UsageError for a bad CA, certificate or key file."""
    try:
        context = ssl.create_default_context(cafile=creds.ca_file)
        if creds.cert_file is not None:
            context.load_cert_chain(creds.cert_file, creds.key_file)
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(f"cannot load the TLS files: {exc}") from exc
    return context


def check_url(url: str) -> str:
    """The URL without a trailing slash; UsageError unless http(s)://HOST[:PORT][/path]."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"bad agent URL {url!r}: expected http://HOST:PORT or https://HOST:PORT")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise UsageError(f"bad agent URL {url!r}: {exc}") from exc
    if parts.query or parts.fragment:
        raise UsageError(f"bad agent URL {url!r}: no query or fragment expected")
    return url.rstrip("/")


def host_port(url: str) -> str:
    """``HOST:PORT`` of an agent URL (the HOST column before the agent names itself)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname or url
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class AgentClient:
    """One agent. Owns its aiohttp session (made on first use, in the loop that uses it;
    ``close`` ends it). Not thread-safe: use it from one event loop."""

    def __init__(
        self,
        url: str,
        creds: Credentials | None = None,
        *,
        unix_socket: str | None = None,
        context: ssl.SSLContext | None = None,
    ) -> None:
        self.url = check_url(url)
        self.creds = creds or Credentials()
        self.unix_socket = unix_socket
        self._https = urlsplit(self.url).scheme == "https"
        self._context = context
        self._session: aiohttp.ClientSession | None = None
        self._headers: dict[str, str] = {"Accept": "application/json"}
        if self.creds.token:
            self._headers["Authorization"] = f"Bearer {self.creds.token}"
        elif self.creds.user is not None:
            basic = aiohttp.encode_basic_auth(self.creds.user, self.creds.password or "")
            self._headers["Authorization"] = basic

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector: aiohttp.BaseConnector
            if self.unix_socket is not None:
                connector = aiohttp.UnixConnector(path=self.unix_socket)
            else:
                tls: ssl.SSLContext | bool = True
                if self._https:
                    tls = self._context if self._context is not None else tls_context(self.creds)
                connector = aiohttp.TCPConnector(ssl=tls, limit=16)
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=None, connect=CONNECT_TIMEOUT),
                headers=self._headers,
                auto_decompress=True,
                trust_env=False,  # never through a proxy: agents are reached directly
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def get_json(self, path: str, params: Params = ()) -> Any:
        """GET a JSON document; the typed errors above on failure."""
        try:
            async with asyncio.timeout(GET_TIMEOUT):
                async with self._open().get(self.url + path, params=list(params)) as resp:
                    await self._check(resp)
                    body = await resp.read()
        except TimeoutError as exc:
            raise AgentDown(self.url, f"no answer to GET {path} within {GET_TIMEOUT:g} s") from exc
        except aiohttp.ClientError as exc:
            raise self._translate(exc, path) from exc
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadAnswer(self.url, f"GET {path} answered something that is not JSON") from exc

    async def lines(self, path: str, params: Params = ()) -> AsyncGenerator[bytes, None]:
        """A streamed response line by line, blank lines skipped, until it ends; no read
        timeout (the caller decides how long a silence may last)."""
        try:
            async with self._open().get(self.url + path, params=list(params)) as resp:
                await self._check(resp)
                buffer = bytearray()
                async for chunk in resp.content.iter_any():
                    buffer += chunk
                    start = 0
                    while (end := buffer.find(b"\n", start)) >= 0:
                        line = bytes(buffer[start:end])
                        start = end + 1
                        if line.strip():
                            yield line
                    del buffer[:start]
                    if len(buffer) > MAX_LINE:
                        raise BadAnswer(
                            self.url, f"GET {path}: a line longer than {MAX_LINE} bytes"
                        )
                if bytes(buffer).strip():
                    yield bytes(buffer)
        except aiohttp.ClientError as exc:
            raise self._translate(exc, path) from exc

    async def _check(self, resp: aiohttp.ClientResponse) -> None:
        if resp.status < 400:
            return
        try:
            body = await resp.content.read(64 * 1024)
        except aiohttp.ClientError:
            body = b""
        message = _error_text(body)
        if resp.status in (401, 403):
            raise AuthRefused(self.url, resp.status, message)
        raise AgentAnswered(self.url, resp.status, message)

    def _translate(self, exc: aiohttp.ClientError, path: str) -> FleetError:
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            return AgentDown(
                self.url, f"TLS: the agent's certificate is not trusted ({exc.certificate_error})"
            )
        if isinstance(exc, aiohttp.ClientSSLError):
            return AgentDown(self.url, f"TLS handshake failed ({exc})")
        if isinstance(exc, aiohttp.ClientConnectorError):
            if isinstance(exc.os_error, ConnectionRefusedError):
                return AgentDown(self.url, "connection refused")
            if isinstance(exc.os_error, FileNotFoundError):
                return AgentDown(self.url, "no such socket")
            return AgentDown(
                self.url, exc.os_error.strerror or str(exc.os_error) or "cannot connect"
            )
        if isinstance(exc, aiohttp.ServerTimeoutError):
            return AgentDown(self.url, f"timed out on GET {path}")
        if isinstance(exc, aiohttp.ServerDisconnectedError):
            return AgentDown(self.url, f"the connection closed during GET {path}")
        if isinstance(exc, aiohttp.ClientResponseError):  # the status line or headers
            return BadAnswer(self.url, f"GET {path}: not an HTTP answer ({_first(exc.message)})")
        if isinstance(exc, aiohttp.ClientPayloadError):
            return AgentDown(self.url, f"the answer to GET {path} broke off")
        if isinstance(exc, aiohttp.ClientOSError):
            return AgentDown(self.url, exc.strerror or str(exc))
        return AgentDown(self.url, f"GET {path}: {exc.__class__.__name__}: {exc}")


def _first(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "empty"


def _error_text(body: bytes) -> str:
    """The agent's ``{"error", "detail"}`` as one line, or the start of any other body."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        detail = doc.get("detail")
        text = detail if isinstance(detail, str) else json.dumps(detail) if detail else ""
        message = f"{doc['error']}: {text}" if text else doc["error"]
    else:
        message = body.decode("utf-8", "replace").strip()
    message = " ".join(message.split())
    return message[:MAX_DETAIL]
