"""The events tap: every Docker event once, in order, across reconnects and restarts.

How nothing is lost or repeated (Docker's /events semantics: docs/architecture.md):
- the stream is (re)opened with ``since`` = the last event's ``timeNano``; ``since`` is
  inclusive, so the last event comes again and is dropped by its key, along with any
  other event already seen;
- before the first event, the resume point is the moment of the first subscription;
- continuity is proven when the daemon's buffer (its last 256 events, emptied by a
  restart) still reaches back to the resume point: then it holds every event after it.
  A bounded replay ``until=<now>`` shows the buffer. If it does not reach back (the
  daemon restarted, or more than 256 events went by), a Gap is recorded from the resume
  point to the reconnection, so consumers know; events are never invented;
- ``on_open`` runs once the daemon has accepted the subscription (resync inventories
  there: a list taken after subscribing misses nothing);
- the reader task only decodes and queues, so Docker never drops events for us for being
  slow (its publisher gives a subscriber 100 ms); a second task hands batches to ``sink``.
  A consumer that is cheap and synchronous (printing) passes ``on_item`` instead and is
  called from the reader, one event-loop hop sooner.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import aclosing

from watchdog_agent.docker.client import DockerClient
from watchdog_agent.docker.decode import event_from_json
from watchdog_agent.docker.engine import QueryValue
from watchdog_agent.errors import DockerError, DockerUnavailable, ParseError
from watchdog_agent.events.filters import EventFilter
from watchdog_agent.events.timeparse import to_docker_since
from watchdog_agent.logsetup import get_logger
from watchdog_agent.model import Event, Gap

log = get_logger("watchdog_agent.events.tap")

Item = Event | Gap
Sink = Callable[[Sequence[Item]], Awaitable[None]]
SEEN_KEYS = 4096  # keys remembered for de-duplication (Docker replays at most 256)
# A resume asks for ``since`` = the newest event, so only keys near it can come again;
# older ones are forgotten (60 s leaves room for events delivered slightly out of order).
SEEN_SPAN_NS = 60 * 1_000_000_000
QUEUE_MAX = 100_000  # events decoded but not yet handed to the sink
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0


def now_nano() -> int:
    return time.time_ns()


class Tap:
    """Streams /events into ``sink``. One owner calls ``run()``; cancel it to stop."""

    def __init__(
        self,
        client: DockerClient,
        sink: Sink | None = None,
        *,
        on_item: Callable[[Item], None] | None = None,
        docker_filter: EventFilter | None = None,
        resume_from: int | None = None,
        seen: Sequence[Event] = (),
        until_nano: int | None = None,
        on_open: Callable[[], Awaitable[None]] | None = None,
        resume_reason: str = "agent-down",
    ) -> None:
        if (sink is None) == (on_item is None):
            raise ValueError("give the tap a sink or an on_item callback, not both")
        self.client = client
        self.sink = sink
        self.on_item = on_item
        self.filter = docker_filter
        self.last_nano = resume_from
        self._floor: int | None = None  # resume point before the first event
        self.until_nano = until_nano
        self.on_open = on_open
        self._gap_reason = resume_reason if resume_from is not None else ""
        self._seen: collections.OrderedDict[tuple[int, str, str, str], None] = (
            collections.OrderedDict()
        )
        for event in seen:
            self._remember(event)
        self._queue: asyncio.Queue[Item | None] = asyncio.Queue(QUEUE_MAX)
        # counters for metrics and tests
        self.counts: collections.Counter[tuple[str, str]] = collections.Counter()
        self.received = 0
        self.duplicates = 0
        self.skipped_lines = 0
        self.reconnects = 0
        self.gaps = 0
        self.connected = asyncio.Event()
        self.down_since: int | None = None  # since when not streaming (None: not yet tried)

    async def run(self) -> None:
        """Stream until cancelled (or until ``until_nano`` has passed)."""
        if self.on_item is not None:
            await self._read()
            return
        writer = asyncio.create_task(self._write(), name="events-tap-writer")
        try:
            await self._read()
        finally:
            await self._queue.put(None)
            await asyncio.shield(writer)

    async def _emit(self, item: Item) -> None:
        if self.on_item is not None:
            self.on_item(item)
            return
        if self._queue.full():
            log.warning("event sink is behind", queued=self._queue.qsize())
        await self._queue.put(item)  # waits only when the sink is far behind

    async def _read(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            try:
                await self._check_continuity()
                if self._floor is None:
                    self._floor = now_nano()
                await self._stream()
                backoff = BACKOFF_FIRST
                if self.until_nano is not None and now_nano() > self.until_nano:
                    return  # the daemon ended a bounded stream
                self._gap_reason = self._gap_reason or "disconnected"
            except DockerUnavailable as exc:
                self._lost()
                self._gap_reason = "daemon-restart"
                log.warning("docker events unavailable", reason=exc.reason, retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            except DockerError as exc:
                self._lost()
                log.error("docker refused the events stream", status=exc.status, error=exc.message)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            self.reconnects += 1

    def _params(self) -> dict[str, QueryValue]:
        params: dict[str, QueryValue] = {}
        if self.filter is not None:
            query = self.filter.filters_json()
            if query:
                params["filters"] = query
        resume = self._resume_point()
        if resume is not None and (self.last_nano is not None or self.reconnects):
            params["since"] = to_docker_since(resume)
        if self.until_nano is not None:
            params["until"] = to_docker_since(self.until_nano)
        return params

    def _resume_point(self) -> int | None:
        return self.last_nano if self.last_nano is not None else self._floor

    async def _check_continuity(self) -> None:
        """Record a Gap unless Docker's buffer still reaches back to the resume point."""
        resume = self._resume_point()
        if resume is None or not self._gap_reason:
            return
        proven = False
        probe: dict[str, QueryValue] = {"until": to_docker_since(now_nano())}
        async with aclosing(self.client.stream_lines("/events", probe)) as lines:
            async for line in lines:  # unfiltered: the whole buffer, oldest first
                try:
                    proven = event_from_json(line).time_nano <= resume
                except ParseError:
                    continue
                break  # the oldest buffered event decides
        if not proven:
            gap = Gap(start_nano=resume, end_nano=now_nano(), reason=self._gap_reason)
            self.gaps += 1
            log.warning("events continuity not proven", start_nano=resume, reason=gap.reason)
            await self._emit(gap)
        self._gap_reason = ""

    async def _stream(self) -> None:
        async def opened() -> None:
            self.connected.set()
            if self.on_open is not None:
                await self.on_open()

        stream = self.client.stream_lines("/events", self._params(), on_open=opened)
        try:
            async with aclosing(stream) as lines:
                async for line in lines:
                    event = self._take(line)
                    if event is not None:
                        await self._emit(event)
        finally:
            self._lost()

    def _lost(self) -> None:
        """Not (or no longer) streaming: note since when, the first time."""
        if self.connected.is_set() or self.down_since is None:
            self.down_since = now_nano()
        self.connected.clear()

    def _take(self, line: bytes) -> Event | None:
        """Decode, drop what was seen already, count."""
        try:
            event = event_from_json(line)
        except ParseError as exc:
            self.skipped_lines += 1
            log.warning("skipping a malformed event line", error=str(exc))
            return None
        if event.key in self._seen:
            self.duplicates += 1
            return None
        self._remember(event)
        self.received += 1
        self.counts[(event.type, event.action.split(":", 1)[0])] += 1
        self.last_nano = event.time_nano
        return event

    def _remember(self, event: Event) -> None:
        self._seen[event.key] = None
        horizon = event.time_nano - SEEN_SPAN_NS
        seen = self._seen
        while len(seen) > SEEN_KEYS or next(iter(seen))[0] < horizon:
            seen.popitem(last=False)

    async def _write(self) -> None:
        """Hand what the reader queued to the sink in batches, in order."""
        while True:
            item = await self._queue.get()
            more = None  # not the previous batch's last item, kept while waiting (test_churn_500)
            batch: list[Item] = []
            done = item is None
            if item is not None:
                batch.append(item)
            while not done and not self._queue.empty():
                more = self._queue.get_nowait()
                if more is None:
                    done = True
                else:
                    batch.append(more)
            if batch and self.sink is not None:
                await self.sink(batch)
            if done:
                return
