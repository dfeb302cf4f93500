"""A minimal, GET-only Docker Engine API client over the unix socket (aiohttp).

Every aiohttp/OS error is translated here into the project's errors: DockerUnavailable,
NotFound, DockerError, ParseError, UsageError. Callers never see aiohttp exceptions.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncGenerator, AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import aiohttp

from watchdog_agent.docker.decode import container_from_inspect, container_from_summary
from watchdog_agent.errors import DockerError, DockerUnavailable, NotFound, ParseError, UsageError
from watchdog_agent.model import ContainerRef

__all__ = ["API_MAX", "DEFAULT_HOST", "DockerClient", "QueryValue"]

API_MAX = "1.47"  # the newest Engine API version this client speaks
API_FALLBACK = "1.24"  # what a daemon that sends no Api-Version header speaks (as the CLI)
DEFAULT_HOST = "unix:///var/run/docker.sock"
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=30)
MAX_LINE = 16 * 1024 * 1024  # a streamed line longer than this is not Engine output

QueryValue = str | int | float | bool


class DockerClient:
    """Async Docker Engine API client. No I/O until the first request.

    Use as ``async with DockerClient(host) as docker: ...`` or call ``close()``.
    """

    def __init__(self, host: str | None = None) -> None:
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self.socket_path = _socket_path(self.host)
        self._session: aiohttp.ClientSession | None = None
        self._api_version: str | None = None
        self._negotiating = asyncio.Lock()

    @property
    def api_version(self) -> str | None:
        """The negotiated API version ("1.41"), or None before the first request."""
        return self._api_version

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session (and its connections), if one was opened."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def negotiate(self) -> str:
        """Ping the daemon and use the lower of its API version and API_MAX."""
        async with self._negotiating:
            return await self._ping()

    async def _negotiated(self) -> str:
        """The API version, negotiated once however many requests come first."""
        async with self._negotiating:
            return self._api_version or await self._ping()

    async def _ping(self) -> str:
        async with self._request("GET", "/_ping", versioned=False) as resp:
            daemon = resp.headers.get("Api-Version") or API_FALLBACK
        self._api_version = min(API_MAX, daemon, key=_version_key)
        return self._api_version

    async def get_json(self, path: str, params: Mapping[str, QueryValue] | None = None) -> Any:
        """GET a versioned path (e.g. "/info") and decode its JSON body."""
        async with self._request("GET", path, params=params) as resp:
            body = await resp.read()
        try:
            return json.loads(body)
        except ValueError as exc:
            raise ParseError(f"Engine JSON from GET {path}", str(exc)) from exc

    async def version(self) -> dict[str, Any]:
        return _object(await self.get_json("/version"), "/version")

    async def info(self) -> dict[str, Any]:
        return _object(await self.get_json("/info"), "/info")

    async def list_containers(
        self, all: bool = False, filters: Mapping[str, Sequence[str]] | None = None
    ) -> list[ContainerRef]:
        """``GET /containers/json``; filters as in ``docker ps --filter``."""
        params: dict[str, QueryValue] = {"all": all}
        if filters:
            params["filters"] = json.dumps({k: list(v) for k, v in filters.items()})
        items = await self.get_json("/containers/json", params)
        if not isinstance(items, list):
            raise ParseError("/containers/json", f"expected a list, got {type(items).__name__}")
        return [container_from_summary(item) for item in items]

    async def inspect_raw(self, ident: str) -> dict[str, Any]:
        """``GET /containers/{ident}/json`` as the Engine sends it (id, prefix or name)."""
        path = f"/containers/{quote(ident, safe='')}/json"
        async with self._request("GET", path, ident=ident) as resp:
            body = await resp.read()
        try:
            return _object(json.loads(body), path)
        except ValueError as exc:
            raise ParseError(f"Engine JSON from GET {path}", str(exc)) from exc

    async def inspect_container(self, ident: str) -> ContainerRef:
        return container_from_inspect(await self.inspect_raw(ident))

    async def stream_lines(
        self, path: str, params: Mapping[str, QueryValue] | None = None
    ) -> AsyncGenerator[bytes, None]:
        """Stream a GET response line by line (no trailing newline, empty lines skipped).

        No total or read timeout. Close the iterator (``contextlib.aclosing``) to drop the
        connection early. A last line without a newline is yielded as it is.
        """
        async with self._request("GET", path, params=params, timeout=STREAM_TIMEOUT) as resp:
            async for line in _split_lines(resp.content.iter_any(), path):
                yield line

    @asynccontextmanager
    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, QueryValue] | None = None,
        versioned: bool = True,
        timeout: aiohttp.ClientTimeout = REQUEST_TIMEOUT,
        ident: str | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """The one way to the socket: GET only, errors translated, status checked."""
        if method.upper() != "GET":
            raise UsageError(f"refusing HTTP {method}: the Docker client is GET-only")
        url = f"http://docker{path}"
        if versioned:
            url = f"http://docker/v{self._api_version or await self._negotiated()}{path}"
        query = {k: _query_value(v) for k, v in (params or {}).items()}
        try:
            session = self._ensure_session()
            async with session.get(url, params=query, timeout=timeout) as resp:
                if resp.status >= 400:
                    raise await _status_error(resp, ident if ident is not None else path)
                yield resp
        except TimeoutError as exc:
            raise DockerUnavailable(self.host, f"timed out on GET {path}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise DockerUnavailable(self.host, exc.os_error.strerror or str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DockerUnavailable(self.host, f"GET {path}: {exc or type(exc).__name__}") from exc

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.UnixConnector(path=self.socket_path)
            self._session = aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT)
        return self._session


def _socket_path(host: str) -> str:
    if not host.startswith("unix://"):
        raise UsageError(
            f"unsupported Docker host {host!r}: only unix:// sockets are supported"
            " (e.g. unix:///var/run/docker.sock)"
        )
    path = host.removeprefix("unix://")
    if not path.startswith("/"):
        raise UsageError(f"Docker host {host!r} needs an absolute socket path")
    return path


def _version_key(version: str) -> tuple[int, ...]:
    """ "1.41" -> (1, 41), so that 1.9 < 1.41."""
    parts = version.split(".")
    if not all(p.isdigit() for p in parts):
        raise ParseError("Engine API version", repr(version))
    return tuple(int(p) for p in parts)


async def _split_lines(chunks: AsyncIterator[bytes], what: str) -> AsyncIterator[bytes]:
    """Chunks -> lines without "\\n" or "\\r\\n"; empty lines dropped, a last partial kept."""
    pending: list[bytes] = []
    size = 0
    async for chunk in chunks:
        *complete, rest = chunk.split(b"\n")
        if complete:
            complete[0] = b"".join([*pending, complete[0]])
            pending, size = [], 0
            for line in complete:
                if stripped := line.removesuffix(b"\r"):
                    yield stripped
        if rest:
            pending.append(rest)
            size += len(rest)
            if size > MAX_LINE:
                raise ParseError(f"stream GET {what}", f"a line longer than {MAX_LINE} bytes")
    if last := b"".join(pending).removesuffix(b"\r"):
        yield last


def _query_value(value: QueryValue) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"Engine JSON from GET {what}", f"expected an object, not {value!r:.80}")
    return value


async def _status_error(resp: aiohttp.ClientResponse, ident: str) -> Exception:
    """NotFound for 404, else DockerError with the Engine's own message."""
    body = await resp.read()
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    message = doc.get("message") if isinstance(doc, dict) else None
    if not isinstance(message, str):
        message = body.decode("utf-8", "replace").strip()
    message = message or resp.reason or f"HTTP {resp.status}"
    if resp.status == 404:
        # "No such container: x" -> reason "no such container"
        return NotFound(ident, message.split(":", 1)[0].strip().lower() or "not found")
    return DockerError(resp.status, message)
