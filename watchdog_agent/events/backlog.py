"""What Docker still holds in memory, for the part of a window the journal does not cover.

The Engine keeps its last ``DOCKER_BUFFER`` events in memory (``eventsLimit`` in the
daemon's events package: 256 from 1.x to at least 27.x) and hands them to any ``/events``
request that has a ``since``; with an ``until`` already past, the answer ends at once.

A journal covers time from its oldest stored event on (the agent takes in Docker's
buffer when it starts on an empty journal, so that is as far back as anything was
known). A replay whose window begins earlier is completed from the buffer, de-duplicated
against the journal. What neither holds is a Gap: when the buffer is full its oldest
event is as far back as Docker can say anything (older events were dropped); when it is
not full it holds every event since the daemon started, as ``docker events`` would show.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from watchdog_agent.docker.decode import event_from_json
from watchdog_agent.docker.engine import EngineAPI
from watchdog_agent.errors import ParseError
from watchdog_agent.events.timeparse import to_docker_since
from watchdog_agent.model import Event, Gap

DOCKER_BUFFER = 256  # events the Engine keeps in memory


async def read_buffer(client: EngineAPI, until_nano: int) -> list[Event]:
    """Every event the engine still buffers up to ``until_nano`` (a time already past),
    oldest first, unfiltered. Raises DockerUnavailable / DockerError as requests do."""
    params = {"since": "0", "until": to_docker_since(until_nano)}
    body = (await client.request("GET", "/events", params))[3]
    out: list[Event] = []
    for line in body.splitlines():
        if line.strip():
            try:
                out.append(event_from_json(line))
            except ParseError:
                continue  # not an event line: never invent one
    return out


@dataclass(frozen=True, slots=True)
class Completion:
    """What a replay adds to the journal's events: older events and gaps, in order."""

    events: list[Event]
    gaps: list[Gap]


def complete(
    stored: Sequence[Event],
    covered_from: int | None,
    buffered: Sequence[Event] | None,
    window: tuple[int | None, int],
    matches: Callable[[Event], bool],
    *,
    no_journal: bool = False,
    unavailable: str = "docker-unavailable",
) -> Completion:
    """Complete a replay of ``window`` = (since or None, end) from Docker's buffer.

    ``stored``: the journal's events of the window (already filtered); ``covered_from``:
    the journal's oldest event (None: it holds nothing); ``buffered``: ``read_buffer``'s
    answer, or None when no engine answered (the gap's reason is then ``unavailable``,
    or "no-journal" when there is no journal); ``matches``: the request's filter.
    """
    since, end = window
    start = since or 0
    edge = end + 1 if covered_from is None else min(covered_from, end + 1)
    if start >= edge:
        return Completion([], [])  # the journal covers the whole window
    reason = "no-journal" if no_journal else "before-journal"
    if buffered is None:
        return Completion([], [Gap(start, edge - 1, reason if no_journal else unavailable)])
    known = {e.key for e in stored}
    events = [
        e
        for e in buffered
        if start <= e.time_nano <= min(edge, end) and e.key not in known and matches(e)
    ]
    gaps: list[Gap] = []
    if len(buffered) >= DOCKER_BUFFER and buffered[0].time_nano > start:
        gaps.append(Gap(start, min(buffered[0].time_nano, edge - 1), reason))
    return Completion(events, gaps)


def interleave(events: Sequence[Event], gaps: Sequence[Gap]) -> list[Event | Gap]:
    """History in order: each gap before the first event that came after its start."""
    out: list[Event | Gap] = []
    pending = sorted(gaps, key=lambda g: g.start_nano)
    i = 0
    for event in events:
        while i < len(pending) and pending[i].start_nano < event.time_nano:
            out.append(pending[i])
            i += 1
        out.append(event)
    out.extend(pending[i:])
    return out
