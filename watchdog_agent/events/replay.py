"""Replay of a window of events: the journal's history, completed from Docker's buffer.

The journal's events and gaps of the window come first (read in a thread); where the
window begins before the journal's coverage (or there is no journal), what Docker still
buffers fills in, de-duplicated against the journal, and what neither holds is a Gap
(backlog.py says which). Used by ``watchdog-agent events --journal`` with a window and by
the API's ``/api/v1/events``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from watchdog_agent.errors import DockerError, DockerUnavailable, UsageError
from watchdog_agent.events.backlog import complete, interleave
from watchdog_agent.events.filters import EventFilter
from watchdog_agent.events.journal import Journal
from watchdog_agent.model import Event, Gap

# what Docker still buffers up to a time already past (backlog.read_buffer on a client);
# raises DockerUnavailable / DockerError when no engine answers
ReadBuffer = Callable[[int], Awaitable[list[Event]]]
Stored = tuple[list[Event], list[Gap], int | None]


def read_journal(
    journal: Journal | None,
    event_filter: EventFilter,
    since: int | None,
    until: int | None,
    limit: int | None = None,
) -> Stored:
    """The journal's events (those ``event_filter`` keeps) and gaps of the window, and where
    its coverage begins (None: it holds nothing). Blocking: run it in a thread. More than
    ``limit`` events is a UsageError asking for a narrower window."""
    if journal is None:
        return [], [], None
    events = journal.query(
        since,
        until,
        narrow=event_filter.narrowing(),
        predicate=event_filter.matches,
        limit=None if limit is None else limit + 1,
    )
    if limit is not None and len(events) > limit:
        raise UsageError(f"more than {limit} events match: narrow since/until or add filters")
    return events, journal.gaps(since, until), journal.first_time_nano()


async def replay(
    journal: Journal | None,
    read_buffer: ReadBuffer | None,
    event_filter: EventFilter,
    window: tuple[int | None, int | None],
    now: int,
    *,
    limit: int | None = None,
    unavailable: str = "docker-unavailable",
) -> list[Event | Gap]:
    """The events and gaps of ``window`` = (since, until), unix nanoseconds, either end
    open, in order.

    ``journal``: an open journal (None: there is none, and the gap before Docker's buffer
    says "no-journal"); ``read_buffer``: how to ask Docker for its buffer (None: no engine
    to ask, as when it does not answer: the part before the journal is then a gap named
    ``unavailable``); ``event_filter``: the request's filter; ``now``: the time the window was
    read at (unix nanoseconds), where an open or future ``until`` ends for Docker's part.
    """
    since, until = window
    stored, gaps, covered_from = await asyncio.to_thread(
        read_journal, journal, event_filter, since, until, limit
    )
    end = now if until is None else min(until, now)
    buffered = None
    if read_buffer is not None and (covered_from is None or since is None or since < covered_from):
        try:
            buffered = await read_buffer(time.time_ns())
        except (DockerUnavailable, DockerError):
            buffered = None
    extra = complete(
        stored, covered_from, buffered, (since, end), event_filter.matches,
        no_journal=journal is None, unavailable=unavailable,
    )  # fmt: skip
    return interleave([*extra.events, *stored], [*extra.gaps, *gaps])
