"""/api/v1/containers/{id}/logs: Docker's logs endpoint, decoded into lines.

The framing comes from the container's ``Config.Tty`` (one inspect per request), never
from the content type. Output: NDJSON ``{"stream", "time", "line"}`` objects (the
Engine's own errors, frame type 3, as ``{"error", "detail"}``), or plain text with
``format=text``. Every response holds a stream slot. A follow ends when Docker ends it
(the container stopped, or ``until`` passed), when the client goes away (a failed write,
or the keep-alive tick finding the connection closed), or at shutdown.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass

from aiohttp import web

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.docker.client import DockerClient, QueryValue
from watchdog_agent.docker.logframes import SYSTEM, LogDecoder
from watchdog_agent.errors import DockerError, NotFound, ParseError, UsageError
from watchdog_agent.events.timeparse import parse_window, to_docker_since
from watchdog_agent.model import ContainerRef, LogLine

from . import params
from .httperrors import ApiError
from .keys import AGENT, STREAMS
from .resolve import check_ident, resolve
from .streams import KEEPALIVE, Writer, run_stream

MAX_TAIL = 10_000  # lines one request may ask for; "all" (and no tail) means this many
FORMATS = ("json", "text")


class TextWriter(Writer):
    content_type = "text/plain; charset=utf-8"


@dataclass(frozen=True, slots=True)
class LogQuery:
    follow: bool
    tail: int
    since: int | None  # unix nanoseconds
    until: int | None
    timestamps: bool
    stdout: bool
    stderr: bool
    text: bool

    def docker_params(self) -> dict[str, QueryValue]:
        out: dict[str, QueryValue] = {
            "follow": self.follow,
            "tail": self.tail,
            "timestamps": self.timestamps,
            "stdout": self.stdout,
            "stderr": self.stderr,
        }
        if self.since is not None:
            out["since"] = to_docker_since(self.since)
        if self.until is not None:
            out["until"] = to_docker_since(self.until)
        return out


def parse_query(query: Mapping[str, str], now: float | None = None) -> LogQuery:
    """The request's parameters, checked (UsageError: 400)."""
    tail_text = query.get("tail", "all").strip().lower()
    if tail_text == "all":
        tail = MAX_TAIL
    elif tail_text.isascii() and tail_text.isdigit():  # int("²") fails
        tail = min(int(tail_text), MAX_TAIL)
    else:
        raise UsageError(f"tail={tail_text[:40]!r}: expected a number of lines or 'all'")
    since, until = parse_window(query.get("since"), query.get("until"), now)
    fmt = query.get("format", "json")
    if fmt not in FORMATS:
        raise UsageError(f"format={fmt[:40]!r}: expected json or text")
    stdout = "stdout" not in query or params.flag(query, "stdout")
    stderr = "stderr" not in query or params.flag(query, "stderr")
    if not (stdout or stderr):
        raise UsageError("stdout and stderr are both off: nothing to show")
    return LogQuery(
        follow=params.flag(query, "follow"),
        tail=tail,
        since=since,
        until=until,
        timestamps=params.flag(query, "timestamps"),
        stdout=stdout,
        stderr=stderr,
        text=fmt == "text",
    )


def render(lines: list[LogLine], text: bool) -> bytes:
    """Lines as NDJSON or as text (Docker's ``time line`` with timestamps)."""
    out: list[str] = []
    for item in lines:
        if text:
            prefix = "error: " if item.stream == SYSTEM else f"{item.time} " if item.time else ""
            out.append(f"{prefix}{item.line}\n")
        elif item.stream == SYSTEM:
            out.append(json.dumps({"error": "docker log error", "detail": item.line}) + "\n")
        else:
            doc = {"stream": item.stream, "time": item.time, "line": item.line}
            out.append(json.dumps(doc, ensure_ascii=False) + "\n")
    return "".join(out).encode()


class Chunks:
    """Docker's chunks, awaited with a timeout that does not cancel the read (cancelling
    an async generator's step would end it). ``close()`` ends it from any side."""

    def __init__(self, source: AsyncGenerator[bytes, None]) -> None:
        self._source = source
        self._next: asyncio.Future[bytes] | None = None
        self.closed = False

    async def opened(self, answered: asyncio.Event) -> None:
        """Wait until Docker answered; its error status raises here (before our headers)."""
        self._next = asyncio.ensure_future(anext(self._source))
        waiter = asyncio.ensure_future(answered.wait())
        try:
            await asyncio.wait([self._next, waiter], return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._next.done() and not self._next.cancelled():
            exc = self._next.exception()
            if exc is not None and not isinstance(exc, StopAsyncIteration):
                raise exc

    async def next(self, timeout: float) -> bytes | None:
        """The next chunk, None on a tick; StopAsyncIteration at the end or after close."""
        if self.closed:
            raise StopAsyncIteration
        if self._next is None:
            self._next = asyncio.ensure_future(anext(self._source))
        await asyncio.wait([self._next], timeout=timeout)
        if self.closed:
            raise StopAsyncIteration
        if not self._next.done():
            return None
        step, self._next = self._next, None
        return step.result()  # the chunk, or StopAsyncIteration, or a Docker error

    def close(self) -> None:
        self.closed = True
        if self._next is not None:
            self._next.cancel()

    async def aclose(self) -> None:
        self.close()
        if self._next is not None:
            await asyncio.wait([self._next])
            if not self._next.cancelled():
                self._next.exception()  # retrieved: nothing is left unobserved
        await self._source.aclose()


async def _inspect(agent: Agent, client: DockerClient, ident: str) -> ContainerRef:
    """The container by id, prefix or name: the agent's view first, then Docker's (a
    container created a moment ago), and its inspect document for ``Config.Tty``."""
    try:
        ref = resolve(ident, agent.refs())
    except NotFound:
        check_ident(ident)
        return await client.inspect_container(ident)
    return await client.inspect_container(ref.id)


NO_LOGS = (
    "this container's log driver keeps no logs the engine can read (for example "
    "--log-driver none or syslog); read them where that driver sends them"
)


async def logs(request: web.Request) -> web.StreamResponse:
    agent = request.app[AGENT]
    query = parse_query(request.query)
    client = agent.client
    if client is None:
        raise ApiError(503, "docker unavailable", "logs need the Docker engine")
    ref = await _inspect(agent, client, request.match_info["id"])
    decoder = LogDecoder(multiplexed=not ref.tty, timestamps=query.timestamps)
    answered = asyncio.Event()
    path = f"/containers/{ref.id}/logs"
    chunks = Chunks(client.stream_raw(path, query.docker_params(), answered.set))
    try:
        with request.app[STREAMS].slot(chunks.close):
            try:
                await chunks.opened(answered)
            except DockerError as exc:
                if exc.status == 501:  # Docker: "this log driver does not support reading"
                    raise ApiError(409, "no logs", NO_LOGS) from exc
                raise
            writer = TextWriter(request) if query.text else Writer(request)

            async def produce(writer: Writer) -> None:
                await _pump(writer, chunks, decoder, query.text)

            return await run_stream(writer, chunks.close, produce)
    finally:
        await chunks.aclose()


async def _pump(writer: Writer, chunks: Chunks, decoder: LogDecoder, text: bool) -> None:
    while True:
        try:
            chunk = await chunks.next(KEEPALIVE)
        except StopAsyncIteration:
            break
        if chunk is None:
            if not await writer.keepalive():
                return
            continue
        try:
            lines = decoder.feed(chunk)
        except ParseError as exc:  # a corrupt stream: say so in-band and stop
            await writer.response.write(render([LogLine(SYSTEM, None, str(exc))], text))
            return
        if lines:
            await writer.response.write(render(lines, text))
    if not chunks.closed:  # Docker ended it: partial lines go out too
        await writer.response.write(render(decoder.close(), text))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/containers/{id}/logs", logs, allow_head=False)
