"""The Engine API surface shared by the socket transports: version negotiation, the
GET-only rule, endpoint helpers and the one translation of HTTP errors.

Subclasses supply ``_get``: one GET over the unix socket returning (status, reason,
headers, body), raising DockerUnavailable when the socket does not answer.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from watchdog_agent.docker.decode import (
    container_from_inspect,
    container_from_summary,
    daemon_info_from_json,
)
from watchdog_agent.errors import DockerError, NotFound, ParseError, UsageError
from watchdog_agent.model import ContainerRef, DaemonInfo

API_MAX = "1.47"  # the newest Engine API version this client speaks
API_FALLBACK = "1.24"  # what a daemon that sends no Api-Version header speaks (as the CLI)
DEFAULT_HOST = "unix:///var/run/docker.sock"

INSPECT_CONCURRENCY = 16  # inspects in flight at once
QueryValue = str | int | float | bool
Response = tuple[int, str, Mapping[str, str], bytes]  # status, reason, headers, body


class EngineAPI:
    """GET-only Engine API over some transport. No I/O until the first request."""

    def __init__(self, host: str | None = None) -> None:
        self.host = host or os.environ.get("DOCKER_HOST") or DEFAULT_HOST
        self.socket_path = socket_path(self.host)
        self._api_version: str | None = None
        self._negotiating = asyncio.Lock()

    @property
    def api_version(self) -> str | None:
        """The negotiated API version ("1.41"), or None before the first request."""
        return self._api_version

    async def close(self) -> None:
        return None

    async def _get(self, target: str) -> Response:
        """One GET of ``target`` (path and query) on the socket."""
        raise NotImplementedError

    async def negotiate(self) -> str:
        """Ping the daemon and use the lower of its API version and API_MAX."""
        async with self._negotiating:
            return await self._ping()

    async def _negotiated(self) -> str:
        """The API version, negotiated once however many requests come first."""
        async with self._negotiating:
            return self._api_version or await self._ping()

    async def _ping(self) -> str:
        headers = (await self.request("GET", "/_ping", versioned=False))[2]
        daemon = headers.get("api-version") or API_FALLBACK
        self._api_version = min(API_MAX, daemon, key=version_key)
        return self._api_version

    async def target(
        self, path: str, params: Mapping[str, QueryValue] | None = None, versioned: bool = True
    ) -> str:
        """The request target: version prefix, path and encoded query."""
        prefix = f"/v{self._api_version or await self._negotiated()}" if versioned else ""
        query = urlencode({k: query_value(v) for k, v in (params or {}).items()})
        return f"{prefix}{path}?{query}" if query else f"{prefix}{path}"

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        versioned: bool = True,
        ident: str | None = None,
    ) -> Response:
        """The one way to the socket for whole responses: GET only, status checked."""
        check_method(method)
        response = await self._get(await self.target(path, params, versioned))
        status, reason, _, body = response
        if status >= 400:
            raise error_for(status, reason, body, ident if ident is not None else path)
        return response

    async def get_json(self, path: str, params: Mapping[str, QueryValue] | None = None) -> Any:
        """GET a versioned path (e.g. "/info") and decode its JSON body."""
        return decode_json((await self.request("GET", path, params))[3], path)

    async def version(self) -> dict[str, Any]:
        return as_object(await self.get_json("/version"), "/version")

    async def info(self) -> dict[str, Any]:
        return as_object(await self.get_json("/info"), "/info")

    async def daemon_info(self) -> DaemonInfo:
        """``GET /info`` completed by ``GET /version`` (asked at once), as docker info."""
        both = await asyncio.gather(self.version(), self.info(), return_exceptions=True)
        for result in both:  # both awaited: neither error is left unretrieved
            if isinstance(result, BaseException):
                raise result
        version, info = both
        assert isinstance(version, dict) and isinstance(info, dict)
        return daemon_info_from_json(info, version)

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
        body = (await self.request("GET", path, ident=ident))[3]
        return as_object(decode_json(body, path), path)

    async def inspect_container(self, ident: str) -> ContainerRef:
        return container_from_inspect(await self.inspect_raw(ident))

    async def inspect_many(
        self, idents: Iterable[str], concurrency: int = INSPECT_CONCURRENCY
    ) -> dict[str, ContainerRef]:
        """Inspect several containers, a few at a time; those removed meanwhile are left
        out (normal flow: they were listed a moment ago)."""
        sem = asyncio.Semaphore(concurrency)

        async def one(ident: str) -> ContainerRef | None:
            async with sem:
                try:
                    return await self.inspect_container(ident)
                except NotFound:
                    return None

        found = await asyncio.gather(*(one(i) for i in idents))
        return {ref.id: ref for ref in found if ref is not None}


def check_method(method: str) -> None:
    if method.upper() != "GET":
        raise UsageError(f"refusing HTTP {method}: the Docker client is GET-only")


def socket_path(host: str) -> str:
    if not host.startswith("unix://"):
        raise UsageError(
            f"unsupported Docker host {host!r}: only unix:// sockets are supported"
            " (e.g. unix:///var/run/docker.sock)"
        )
    path = host.removeprefix("unix://")
    if not path.startswith("/"):
        raise UsageError(f"Docker host {host!r} needs an absolute socket path")
    return path


def version_key(version: str) -> tuple[int, ...]:
    """ "1.41" -> (1, 41), so that 1.9 < 1.41."""
    parts = version.split(".")
    if not all(p.isascii() and p.isdigit() for p in parts):  # "²".isdigit(), int("²") fails
        raise ParseError("Engine API version", repr(version))
    return tuple(int(p) for p in parts)


def query_value(value: QueryValue) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def decode_json(body: bytes, what: str) -> Any:
    try:
        return json.loads(body)
    except ValueError as exc:
        raise ParseError(f"Engine JSON from GET {what}", str(exc)) from exc


def as_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError(f"Engine JSON from GET {what}", f"expected an object, not {value!r:.80}")
    return value


def error_for(status: int, reason: str, body: bytes, ident: str) -> Exception:
    """NotFound for 404, else DockerError with the Engine's own message."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    message = doc.get("message") if isinstance(doc, dict) else None
    if not isinstance(message, str):
        message = body.decode("utf-8", "replace").strip()
    message = message or reason or f"HTTP {status}"
    if status == 404:
        # "No such container: x" -> reason "no such container"
        return NotFound(ident, message.split(":", 1)[0].strip().lower() or "not found")
    return DockerError(status, message)
