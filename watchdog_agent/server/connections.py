"""The server's connections: deadlines, a cap, and requests that fail to parse.

aiohttp has no deadline for a request's headers and no cap on open connections, and it
answers a request that fails to parse with a text/plain 400 that repeats the offending
bytes, logging a traceback that holds them (either can carry an ``Authorization``
value). ``GuardedRunner`` is an ``AppRunner`` whose connections are ``GuardedHandler``s:

- a connection must deliver a complete request head within ``header_timeout`` seconds of
  opening (or of the first byte of a later request on a kept-alive connection), else it
  is closed; an idle kept-alive connection is closed after ``idle_timeout``;
- at most ``max_connections`` are open; at the cap, the oldest connection that is not
  handling a request (waiting for headers, or idle) is closed to make room, and when
  every one is busy the new connection is closed at once;
- a request that fails to parse gets ``{"error": "bad request", ...}`` that repeats
  nothing of the request, and one log line naming the client and the error class;
- what was shed is counted and logged once per ``LOG_EVERY`` seconds, never per event.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import math
import resource
from collections import Counter
from typing import Any, cast

from aiohttp import hdrs, web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

from watchdog_agent.config import Settings
from watchdog_agent.logsetup import get_logger

from .httperrors import ApiError, error_response
from .tally import LOG_EVERY, Tally

log = get_logger("watchdog_agent.server")

SERVER_NAME = "watchdog-agent"  # the Server header: no Python or aiohttp version
FD_RESERVE = 2  # the cap stays under 1/FD_RESERVE of the open-files limit
MIN_CONNECTIONS = 8
# the listen backlog: asyncio accepts up to this many connections in one go before any
# reaches the cap, so the agent holds at most max_connections + BACKLOG sockets a moment
BACKLOG = 64
COLLECT_EVERY = 1000  # closed connections between two full collections at least
COLLECT_GAP = 10.0  # seconds between two full collections at least
ACCEPT_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


def connection_cap(configured: int, nofile: int | None = None) -> int:
    """The cap in force: the configured one, but at most half the open-files limit (the
    sampler, the journal and Docker need descriptors too)."""
    if nofile is None:
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if nofile == resource.RLIM_INFINITY or nofile <= 0:
        return configured
    return max(MIN_CONNECTIONS, min(configured, nofile // FD_RESERVE))


class Guard:
    """Limits and counters shared by every connection of one server; its owner (the
    runner) calls ``close`` at cleanup, which logs what is still counted."""

    def __init__(
        self,
        max_connections: int,
        header_timeout: float,
        log_every: float = LOG_EVERY,
    ) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.open: dict[GuardedHandler, None] = {}  # oldest first
        self._closed = 0  # connections closed since the last collection
        self._collected_at = -math.inf
        self.shed = Tally("connections shed", log_every)

    @property
    def total(self) -> Counter[str]:
        """What was shed since start, by kind."""
        return self.shed.total

    def count(self, what: str) -> None:
        self.shed.count(what)

    def close(self) -> None:
        self.shed.close(open=len(self.open))

    def admit(self, handler: GuardedHandler) -> bool:
        """Make room for a new connection; False when every open one is busy."""
        if len(self.open) >= self.max_connections:
            victim = next((h for h in self.open if not h.busy), None)
            if victim is None:
                self.count("refused")
                return False
            self.count("evicted")
            victim.drop()
        self.open[handler] = None
        return True

    def release(self, handler: GuardedHandler) -> None:
        if self.open.pop(handler, False) is None:
            self._closed += 1
            if self._closed >= COLLECT_EVERY:
                self._collect()

    def _collect(self) -> None:
        """A full collection after many closed connections, at most every COLLECT_GAP s:
        asyncio's socket transports end in reference cycles, which the agent's raised
        collector thresholds would otherwise keep for a long time after a flood."""
        loop = asyncio.get_running_loop()
        if loop.time() - self._collected_at < COLLECT_GAP:
            return
        self._closed = 0
        self._collected_at = loop.time()
        loop.call_soon(gc.collect)

    def accept_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """A loop exception handler: accept() out of descriptors is counted, not logged
        with a traceback each time; anything else goes to the default handler."""
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in ACCEPT_ERRNOS and "socket" in context:
            self.count("accept_errors")
            return
        loop.default_exception_handler(context)


class GuardedHandler(RequestHandler):
    """aiohttp's connection protocol with a header deadline, a place under the cap, and
    parse errors answered and logged without any of the request's bytes."""

    def __init__(self, manager: Server, guard: Guard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self.busy = False  # a request is being handled (not evictable)
        self._parsed = 0  # requests parsed when the deadline was armed
        self._deadline: asyncio.TimerHandle | None = None
        self._admitted = guard.admit(self)
        if self._admitted:
            self._arm()  # covers a TLS handshake too: connection_made comes after it

    # -- the deadline for a request's head ------------------------------------------

    def _arm(self) -> None:
        self._parsed = self._request_count
        self._deadline = self._loop.call_later(self._guard.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.busy or self._request_count != self._parsed:
            return
        self._guard.count("header_timeouts")
        self.drop()

    def drop(self) -> None:
        """Close at once (never answered: the client has not sent a whole request)."""
        self._disarm()
        self._guard.release(self)
        if self.transport is not None:
            self.transport.abort()
        self.force_close()

    # -- the protocol -----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._admitted or self not in self._guard.open:  # refused, or timed out
            self._disarm()
            cast(asyncio.Transport, transport).abort()
            self._manager = None  # connection_lost: nothing to undo
            return
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._guard.release(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        before = self._request_count
        super().data_received(data)
        if self._request_count != before:  # a request head is complete
            self._disarm()
            self.busy = True
        elif data and self._deadline is None and not self.busy and not self._upgraded:
            self._arm()  # the first bytes of the next request on a kept-alive connection

    async def finish_response(
        self, request: BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        try:
            return await super().finish_response(request, resp, start_time)
        finally:
            self.busy = bool(self._messages)  # pipelined requests still to handle

    # -- parse errors and crashes: nothing of the request in the answer or the log ---

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        error = type(exc).__name__ if exc is not None else None
        if exc is not None:
            # the parser's exception holds its traceback, whose frames hold the message
            # queue that holds the exception: a cycle that kept every connection that
            # sent a bad request (buffers and all) alive until a full collection
            exc.__traceback__ = None
        if status >= 500:
            log.error("unhandled error", path=request.path, status=status, error=error)
            resp = error_response(ApiError(status, "internal error"))
        else:
            log.info("bad request", remote=request.remote, status=status, error=error)
            detail = "the request could not be parsed"
            resp = error_response(ApiError(status, "bad request", detail))
        resp.headers[hdrs.SERVER] = SERVER_NAME
        resp.force_close()
        if request.writer.output_size > 0:  # a response was under way: only close
            raise ConnectionError("cannot send an error response after another one")
        return resp

    def log_exception(self, *args: Any, **kw: Any) -> None:
        exc = kw.get("exc_info")
        error = type(exc).__name__ if isinstance(exc, BaseException) else None
        what = args[0] if args and isinstance(args[0], str) and "%" not in args[0] else None
        log.error("server error", what=what, error=error)


class GuardedServer(Server):
    """aiohttp's protocol factory, making GuardedHandlers."""

    def __init__(self, base: Server, guard: Guard) -> None:
        super().__init__(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            loop=base._loop,
            **base._kwargs,
        )
        self.guard = guard

    def __call__(self) -> RequestHandler:
        return GuardedHandler(self, self.guard, loop=self._loop, **self._kwargs)


class GuardedRunner(web.AppRunner):
    """An AppRunner whose server guards its connections (see the module's text)."""

    def __init__(self, app: web.Application, guard: Guard, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.guard = guard

    async def _make_server(self) -> Server:
        loop = asyncio.get_running_loop()
        self._previous_handler = loop.get_exception_handler()
        loop.set_exception_handler(self.guard.accept_error)
        return GuardedServer(await super()._make_server(), self.guard)

    async def _cleanup_server(self) -> None:
        try:
            await super()._cleanup_server()
        finally:
            asyncio.get_running_loop().set_exception_handler(self._previous_handler)
            self.guard.close()


class GuardedSite(web.TCPSite):
    """A TCPSite whose TLS handshakes must end within the header deadline (asyncio's
    default is 60 s, during which a silent client would hold a descriptor)."""

    async def start(self) -> None:
        await web.BaseSite.start(self)
        runner = self._runner
        assert isinstance(runner, GuardedRunner) and runner.server is not None
        loop = asyncio.get_running_loop()
        handshake = runner.guard.header_timeout if self._ssl_context is not None else None
        self._server = await loop.create_server(
            runner.server,
            self._host,
            self._port,
            ssl=self._ssl_context,
            backlog=self._backlog,
            reuse_address=self._reuse_address,
            reuse_port=self._reuse_port,
            ssl_handshake_timeout=handshake,
        )
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port


def guarded_runner(
    app: web.Application, settings: Settings, log_every: float = LOG_EVERY, **kwargs: Any
) -> GuardedRunner:
    """The runner for ``app`` with the settings' limits (``kwargs`` go to aiohttp)."""
    cap = connection_cap(settings.max_connections)
    guard = Guard(cap, settings.header_timeout, log_every)
    kwargs.setdefault("keepalive_timeout", settings.idle_timeout)
    kwargs.setdefault("handler_cancellation", True)
    kwargs.setdefault("access_log", None)
    return GuardedRunner(app, guard, **kwargs)


async def name_the_server(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: the Server header names the agent only."""
    response.headers[hdrs.SERVER] = SERVER_NAME
