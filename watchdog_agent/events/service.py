"""Tap -> journal -> bus for one Docker engine: the events half of the agent.

On start it resumes from the journal's last event, so whatever Docker still holds from
the time the agent was down is recovered, and a Gap is stored where it cannot be. On an
empty journal it first takes in what Docker still buffers (its last 256 events), into the
journal only: those are history, not news for the bus's live subscribers.

A journal that cannot store a batch (its disk full, an I/O error) does not stop the
events: they still go to the bus, the failure is logged and counted
(``journal_errors``), and once the journal stores again a Gap with reason
``journal-error`` spans the events it missed (tests/faults/test_journal_disk_full.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from watchdog_agent.docker.client import DockerClient
from watchdog_agent.errors import DockerError, DockerUnavailable, StoreError
from watchdog_agent.events.backlog import read_buffer
from watchdog_agent.events.bus import Bus
from watchdog_agent.events.journal import Journal
from watchdog_agent.events.tap import Item, Tap, now_nano
from watchdog_agent.logsetup import get_logger
from watchdog_agent.model import Event, Gap

log = get_logger("watchdog_agent.events.service")


class EventsService:
    """Owns the tap task's inputs and outputs; ``run()`` until cancelled. The journal is
    opened and closed by the caller (it outlives a reconnect, not the process)."""

    def __init__(
        self,
        client: DockerClient,
        bus: Bus,
        journal: Journal | None = None,
        on_open: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.client = client
        self.bus = bus
        self.journal = journal
        self.on_open = on_open
        self.tap: Tap | None = None
        self.stored = 0
        self.journal_errors = 0  # batches the journal could not store
        self._unstored: tuple[int, int] | None = None  # their span, until a gap records it

    async def run(self) -> None:
        resume: int | None = None
        seen: Sequence[Event] = ()
        reason = "agent-down"
        if self.journal is not None:
            resume = await asyncio.to_thread(self.journal.last_time_nano)
            if resume is not None:
                seen = await asyncio.to_thread(self.journal.query, resume, None)
            else:
                seen = await self._take_in_buffer(self.journal)
                resume = seen[-1].time_nano if seen else None
                reason = "startup"  # the buffer moved on between that read and the stream
        self.tap = Tap(
            self.client,
            self._sink,
            resume_from=resume,
            seen=seen,
            on_open=self.on_open,
            resume_reason=reason,
        )
        await self.tap.run()

    async def _take_in_buffer(self, journal: Journal) -> list[Event]:
        """Store what Docker still buffers into an empty journal; returns it."""
        try:
            buffered = await read_buffer(self.client, now_nano())
        except (DockerUnavailable, DockerError) as exc:
            log.warning("could not take in Docker's buffered events", error=str(exc))
            return []
        self.stored += await asyncio.to_thread(journal.append, buffered)
        if buffered:
            log.info("took in Docker's buffered events", events=len(buffered),
                     oldest_nano=buffered[0].time_nano)  # fmt: skip
        return buffered

    async def _sink(self, items: Sequence[Item]) -> None:
        if self.journal is not None:
            await self._store(self.journal, items)
        for item in items:
            self.bus.publish(item)

    async def _store(self, journal: Journal, items: Sequence[Item]) -> None:
        """Into the journal; a failure is logged, counted and spanned by a gap later."""
        missed = self._unstored
        try:
            self.stored += await asyncio.to_thread(_store, journal, items)
            if missed is not None:
                gap = Gap(start_nano=missed[0], end_nano=missed[1], reason="journal-error")
                await asyncio.to_thread(journal.add_gap, gap)
        except StoreError as exc:
            self.journal_errors += 1
            self._unstored = _span(missed, items)
            if missed is None:  # once per outage: a full disk fails every batch
                log.error("event journal cannot store events: live subscribers still get "
                          "them, a gap will mark them in the journal", error=str(exc))  # fmt: skip
            return
        if missed is not None:
            self._unstored = None
            log.info("event journal stores events again", gap_start_nano=missed[0],
                     gap_end_nano=missed[1], failed_batches=self.journal_errors)  # fmt: skip


def _span(span: tuple[int, int] | None, items: Sequence[Item]) -> tuple[int, int] | None:
    """``span`` widened to cover the events and gaps of ``items``."""
    for item in items:
        start, end = (item.start_nano, item.end_nano) if isinstance(item, Gap) else (
            item.time_nano, item.time_nano)  # fmt: skip
        span = (start, end) if span is None else (min(span[0], start), max(span[1], end))
    return span


def _store(journal: Journal, items: Sequence[Item]) -> int:
    """Events and gaps in their order: a gap goes between the events around it."""
    stored = 0
    batch: list[Event] = []
    for item in items:
        if isinstance(item, Gap):
            stored += journal.append(batch)
            batch = []
            journal.add_gap(item)
        else:
            batch.append(item)
    return stored + journal.append(batch)
