"""/api/v1/events: journal history, then the live tail from the bus, with the same filters.

The live subscription is made before the journal is read, and the tap stores each event
before it publishes it, so nothing falls between history and tail; an event found in
both (stored and published while the history was read) is sent once.

A window that begins before the journal's coverage is completed from Docker's own buffer
(events/backlog.py); what neither holds is a gap. A live stream while no events come from
Docker (no engine yet, or reconnecting) starts with a gap naming the reason at once, then
follows the tail as soon as the engine answers.
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.errors import DockerError, DockerUnavailable, UsageError
from watchdog_agent.events.backlog import complete, interleave, read_buffer
from watchdog_agent.events.bus import Subscription
from watchdog_agent.events.filters import EventFilter, parse_filters
from watchdog_agent.events.journal import Journal
from watchdog_agent.events.tap import now_nano
from watchdog_agent.events.timeparse import parse_time
from watchdog_agent.model import Event, Gap

from . import documents
from .keys import AGENT, STREAMS
from .streams import KEEPALIVE, Writer, choose_writer, next_or_tick, run_stream

HISTORY_MAX = 100_000  # events one request may replay from the journal


def _window(since: str | None, until: str | None) -> tuple[int | None, int | None, int]:
    now = time.time_ns()
    since_nano = None if since is None else parse_time(since, now / 1e9)
    until_nano = None if until is None else parse_time(until, now / 1e9)
    if since_nano is not None and until_nano is not None and until_nano < since_nano:
        raise UsageError("until is before since")
    return since_nano, until_nano, now


def read_history(
    journal: Journal | None,
    event_filter: EventFilter,
    since: int | None,
    until: int | None,
) -> tuple[list[Event], list[Gap], int | None]:
    """Stored events and gaps of the window, and where the journal's coverage begins
    (runs in a thread)."""
    if journal is None:
        return [], [], None
    events = journal.query(since, until, predicate=event_filter.matches, limit=HISTORY_MAX + 1)
    if len(events) > HISTORY_MAX:
        raise UsageError(f"more than {HISTORY_MAX} events match: narrow since/until or add filters")
    return events, journal.gaps(since, until), journal.first_time_nano()


async def history_of(
    agent: Agent, event_filter: EventFilter, since: int | None, until: int | None, now: int
) -> list[Event | Gap]:
    """The journal's events and gaps of the window, completed from Docker's buffer where
    the window begins before the journal (or there is none), in order."""
    stored, gaps, covered_from = await asyncio.to_thread(
        read_history, agent.journal, event_filter, since, until
    )
    end = now if until is None else min(until, now)
    buffered = None
    if agent.client is not None and (covered_from is None or since is None or since < covered_from):
        try:
            buffered = await read_buffer(agent.client, now_nano())
        except (DockerUnavailable, DockerError):
            buffered = None
    extra = complete(
        stored, covered_from, buffered, (since, end), event_filter.matches,
        no_journal=agent.journal is None,
        unavailable="no-docker" if agent.settings.no_docker else "docker-unavailable",
    )  # fmt: skip
    return interleave([*extra.events, *stored], [*extra.gaps, *gaps])


async def events(request: web.Request) -> web.StreamResponse:
    agent = request.app[AGENT]
    query = request.query
    event_filter = parse_filters(query.getall("filter", []))
    since, until, now = _window(query.get("since"), query.get("until"))
    live = until is None or until > now
    sub = agent.bus.subscribe(event_filter.matches) if live else None
    close = sub.close if sub is not None else _nothing
    try:
        with request.app[STREAMS].slot(close):
            history: list[Event | Gap] = []
            if since is not None or not live:
                history = await history_of(agent, event_filter, since, until, now)
            seen = {e.key for e in history[-agent.bus.maxsize :] if isinstance(e, Event)}
            down = agent.events_gap() if live else None
            if down is not None:
                history.append(down)  # say at once why nothing comes, then wait for it

            async def produce(writer: Writer) -> None:
                for item in history:
                    await writer.send(*documents.stream_item(item))
                if sub is not None:
                    await _tail(writer, sub, until, seen)

            return await run_stream(choose_writer(request, websocket=True), close, produce)
    finally:
        close()


async def _tail(
    writer: Writer, sub: Subscription, until: int | None, seen: set[tuple[int, str, str, str]]
) -> None:
    """Live events (and gaps, losses) until ``until`` passes or the source ends."""
    while True:
        timeout = KEEPALIVE
        if until is not None:
            timeout = min(timeout, max(0.0, (until - time.time_ns()) / 1e9))
        try:
            item = await next_or_tick(sub, timeout)
        except StopAsyncIteration:
            return
        if item is None:
            if until is not None and time.time_ns() > until:
                return
            if not await writer.keepalive():
                return
            continue
        if isinstance(item, Event):
            if until is not None and item.time_nano > until:
                return
            if item.key in seen:
                continue
        await writer.send(*documents.stream_item(item))


def _nothing() -> None:
    return None


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/events", events, allow_head=False)
