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

import time
from functools import partial

from aiohttp import web

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.events.backlog import read_buffer
from watchdog_agent.events.bus import Subscription
from watchdog_agent.events.filters import EventFilter, parse_filters
from watchdog_agent.events.replay import replay
from watchdog_agent.events.timeparse import parse_window
from watchdog_agent.model import Event, Gap

from . import documents
from .keys import AGENT, STREAMS
from .streams import KEEPALIVE, Writer, choose_writer, next_or_tick, run_stream

HISTORY_MAX = 100_000  # events one request may replay from the journal


async def history_of(
    agent: Agent, event_filter: EventFilter, since: int | None, until: int | None, now: int
) -> list[Event | Gap]:
    """The journal's events and gaps of the window, completed from Docker's buffer where
    the window begins before the journal (or there is none), in order (events/replay.py)."""
    client = agent.client
    return await replay(
        agent.journal,
        None if client is None else partial(read_buffer, client),
        event_filter,
        (since, until),
        now,
        limit=HISTORY_MAX,
        unavailable="no-docker" if agent.settings.no_docker else "docker-unavailable",
    )


async def events(request: web.Request) -> web.StreamResponse:
    agent = request.app[AGENT]
    query = request.query
    event_filter = parse_filters(query.getall("filter", []))
    now = time.time_ns()
    since, until = parse_window(query.get("since"), query.get("until"), now / 1e9)
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
