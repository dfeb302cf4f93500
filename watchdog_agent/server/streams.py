"""Streaming responses: NDJSON, Server-Sent Events or WebSocket, with one owner each.

- ``StreamRegistry`` caps how many streams are open (beyond the cap: 429) and ends them
  all at shutdown, by calling each stream's ``close`` (which ends its subscription).
- A ``Writer`` frames items for one transport. Streams have no total timeout: they end
  when their source ends, when the client goes away (aiohttp cancels the handler, a write
  fails, a WebSocket closes, or a keep-alive tick finds the connection closed) or at
  shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

from aiohttp import WSMsgType, web

from watchdog_agent.aio import Mailbox, next_within
from watchdog_agent.logsetup import get_logger

from .httperrors import ApiError
from .params import wants_sse

log = get_logger("watchdog_agent.server")

KEEPALIVE = 15.0  # seconds between keep-alive ticks of an idle stream
_T = TypeVar("_T")


class StreamRegistry:
    """Open streams and their closers; at most ``limit`` at a time."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.closing = False
        self._open: dict[int, Callable[[], None]] = {}
        self._next = 0

    @property
    def open(self) -> int:
        return len(self._open)

    @contextlib.contextmanager
    def slot(self, close: Callable[[], None]) -> Iterator[None]:
        """Hold a stream slot; ``close`` ends the stream's source at shutdown."""
        if self.closing:
            raise ApiError(503, "shutting down")
        if len(self._open) >= self.limit:
            raise ApiError(429, "too many streams", {"limit": self.limit})
        key = self._next
        self._next += 1
        self._open[key] = close
        try:
            yield
        finally:
            del self._open[key]

    def close_all(self) -> None:
        """Refuse new streams and end the open ones (their handlers then return)."""
        self.closing = True
        for close in list(self._open.values()):
            close()


class Writer:
    """NDJSON: one JSON document per line."""

    content_type = "application/x-ndjson"

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response: web.StreamResponse = web.StreamResponse(
            headers={"Content-Type": self.content_type, "Cache-Control": "no-cache"}
        )

    async def start(self, on_gone: Callable[[], None]) -> None:
        await self.response.prepare(self.request)

    async def send(self, kind: str, line: str) -> None:
        await self.response.write(line.encode() + b"\n")

    async def keepalive(self) -> bool:
        """On an idle tick: False when the client has gone."""
        transport = self.request.transport
        return transport is not None and not transport.is_closing()

    async def finish(self) -> None:
        if self.response.prepared:
            with contextlib.suppress(ConnectionResetError):
                await self.response.write_eof()


class SseWriter(Writer):
    """Server-Sent Events: ``event: <kind>`` and ``data: <json>``, comments as keep-alive."""

    content_type = "text/event-stream"

    async def send(self, kind: str, line: str) -> None:
        await self.response.write(f"event: {kind}\ndata: {line}\n\n".encode())

    async def keepalive(self) -> bool:
        await self.response.write(b": keep-alive\n\n")
        return await super().keepalive()


class WsWriter(Writer):
    """WebSocket: one text message per item. Incoming messages are read (and ignored)
    only to notice the client closing; that ends the stream through ``on_gone``."""

    def __init__(self, request: web.Request) -> None:
        super().__init__(request)
        self.ws = web.WebSocketResponse(heartbeat=KEEPALIVE)
        self.response = self.ws
        self._reader: asyncio.Task[None] | None = None

    async def start(self, on_gone: Callable[[], None]) -> None:
        await self.ws.prepare(self.request)
        self._reader = asyncio.create_task(self._read(on_gone), name="watchdog-ws-reader")

    async def _read(self, on_gone: Callable[[], None]) -> None:
        try:
            async for msg in self.ws:
                if msg.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            on_gone()

    async def send(self, kind: str, line: str) -> None:
        await self.ws.send_str(line)

    async def keepalive(self) -> bool:
        return not self.ws.closed  # aiohttp's heartbeat pings

    async def finish(self) -> None:
        if self.ws.prepared:
            with contextlib.suppress(ConnectionResetError):
                await self.ws.close(code=1001)  # going away (a no-op once closed)
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.wait([self._reader])


def choose_writer(request: web.Request, websocket: bool = False) -> Writer:
    """WebSocket on an upgrade (where allowed), SSE when accepted, else NDJSON."""
    if websocket and request.headers.get("Upgrade", "").lower() == "websocket":
        return WsWriter(request)
    if wants_sse(request.headers.get("Accept", "")):
        return SseWriter(request)
    return Writer(request)


async def next_or_tick(items: AsyncIterator[_T], timeout: float) -> _T | None:
    """The next item, or None when ``timeout`` passed first; StopAsyncIteration at the end."""
    if isinstance(items, Mailbox) and items.qsize():
        return await anext(items)  # queued: no timer to set and cancel
    return await next_within(items, timeout)


async def run_stream(
    writer: Writer, close: Callable[[], None], produce: Callable[[Writer], Awaitable[None]]
) -> web.StreamResponse:
    """Start the response, let ``produce`` write until its source ends, then finish.

    The client leaving (a failed write, a cancelled handler) or shutdown (``close``
    called by the registry) ends it; ``close`` always runs, so the subscription ends too.
    Errors after the headers went out cannot become an error response: they are logged.
    """
    try:
        await writer.start(close)
        await produce(writer)
    except ConnectionResetError:
        pass  # the client went away
    except Exception:
        log.exception("stream failed", path=writer.request.path)
    finally:
        close()
        await writer.finish()
    return writer.response
