"""The agent's Docker client: the Engine API over the unix socket with aiohttp, for
long-lived use (the server, streams of events and logs).

Every aiohttp/OS error is translated here into DockerUnavailable; HTTP errors are
translated once in engine.py. Callers never see aiohttp exceptions.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

import aiohttp

from watchdog_agent.docker.engine import (
    API_MAX,
    DEFAULT_HOST,
    EngineAPI,
    QueryValue,
    Response,
    check_method,
    error_for,
)
from watchdog_agent.errors import DockerUnavailable, ParseError

__all__ = ["API_MAX", "DEFAULT_HOST", "DockerClient", "QueryValue"]

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=30)
STREAM_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_read=None, sock_connect=30)
MAX_LINE = 16 * 1024 * 1024  # a streamed line longer than this is not Engine output


class DockerClient(EngineAPI):
    """Async Docker Engine API client. No I/O until the first request.

    Use as ``async with DockerClient(host) as docker: ...`` or call ``close()``.
    """

    def __init__(self, host: str | None = None) -> None:
        super().__init__(host)
        self._session: aiohttp.ClientSession | None = None

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

    async def _get(self, target: str) -> Response:
        async with self._open(target, REQUEST_TIMEOUT) as resp:
            body = await resp.read()
            headers = {k.lower(): v for k, v in resp.headers.items()}
            return resp.status, resp.reason or "", headers, body

    async def stream_lines(
        self,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        on_open: Callable[[], Awaitable[None]] | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """Stream a GET response line by line (no trailing newline, empty lines skipped).

        No total or read timeout. Close the iterator (``contextlib.aclosing``) to drop the
        connection early. A last line without a newline is yielded as it is. ``on_open``
        runs once the daemon has answered (for events: the subscription exists), before
        the first line is read.
        """
        check_method("GET")
        async with self._open(await self.target(path, params), STREAM_TIMEOUT) as resp:
            if resp.status >= 400:
                raise error_for(resp.status, resp.reason or "", await resp.read(), path)
            if on_open is not None:
                await on_open()
            async for line in _split_lines(resp.content.iter_any(), path):
                yield line

    async def stream_raw(
        self,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        on_open: Callable[[], object] | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """Stream a GET response body as the chunks arrive, undecoded (logs framing).

        No total or read timeout; close the iterator (``contextlib.aclosing``) to drop the
        connection early. The stream ends when the daemon ends the response. ``on_open``
        is called once the daemon answered with a success status.
        """
        check_method("GET")
        async with self._open(await self.target(path, params), STREAM_TIMEOUT) as resp:
            if resp.status >= 400:
                raise error_for(resp.status, resp.reason or "", await resp.read(), path)
            if on_open is not None:
                on_open()
            async for chunk in resp.content.iter_any():  # errors: _open translates them
                yield chunk

    @asynccontextmanager
    async def _open(
        self, target: str, timeout: aiohttp.ClientTimeout
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        try:
            session = self._ensure_session()
            async with session.get(f"http://docker{target}", timeout=timeout) as resp:
                yield resp
        except TimeoutError as exc:
            raise DockerUnavailable(self.host, f"timed out on GET {target}") from exc
        except aiohttp.ClientConnectorError as exc:
            raise DockerUnavailable(self.host, exc.os_error.strerror or str(exc)) from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DockerUnavailable(
                self.host, f"GET {target}: {exc or type(exc).__name__}"
            ) from exc

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.UnixConnector(path=self.socket_path)
            self._session = aiohttp.ClientSession(connector=connector, timeout=REQUEST_TIMEOUT)
        return self._session


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
