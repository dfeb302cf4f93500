"""What a scrape writes, in this order: the latest Snapshot's rendering (``MetricsCache``),
the agent's own families (build info, sampling errors, event counters: the few numbers
that change between passes, written on every scrape), the inventory's state series
(``InventoryMetrics``), the disk sample's series (``DiskMetrics``), and ``# EOF`` for
OpenMetrics. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from watchdog_agent import __version__

from .cache import MetricsCache
from .disk import DiskMetrics
from .exposition import EOF, Family, Format, write_families
from .states import InventoryMetrics
from .table import (
    BUILD_INFO,
    EVENTS,
    EVENTS_GAPS,
    EVENTS_LOST,
    EVENTS_SKIPPED,
    SAMPLING_ERRORS,
)


class EventCounts(NamedTuple):
    """The events side's counters, as ``/metrics`` shows them."""

    by_type_action: Mapping[tuple[str, str], int]  # events received
    lost: int  # dropped for slow subscribers
    gaps: int  # stretches where the agent could not prove it saw every event
    skipped_lines: int  # malformed event lines


def agent_families(
    version: str, sampling_errors: int | None, events: EventCounts | None
) -> list[Family]:
    """The agent's own families; sampling errors and event counters when known."""
    out = [Family(BUILD_INFO, [({"version": version}, 1)])]
    if sampling_errors is not None:
        out.append(Family(SAMPLING_ERRORS, [({}, sampling_errors)]))
    if events is not None:
        by_type = sorted(events.by_type_action.items())
        out += [
            Family(EVENTS, [({"type": t, "action": a}, n) for (t, a), n in by_type]),
            Family(EVENTS_LOST, [({}, events.lost)]),
            Family(EVENTS_GAPS, [({}, events.gaps)]),
            Family(EVENTS_SKIPPED, [({}, events.skipped_lines)]),
        ]
    return out


class Scrape:
    """A scrape's body over the cache's latest rendering, whichever Snapshot it was (the
    server renders each new Snapshot ahead, in a thread, and serves the last one
    meanwhile)."""

    def __init__(
        self,
        cache: MetricsCache,
        *,
        version: str = __version__,
        sampling_errors: Callable[[], int] | None = None,
        events: Callable[[], EventCounts] | None = None,
        states: InventoryMetrics | None = None,
        disk: DiskMetrics | None = None,
    ) -> None:
        self.cache = cache
        self.version = version
        self.sampling_errors = sampling_errors
        self.events = events
        self.states = states
        self.disk = disk

    def families(self) -> list[Family]:
        """The agent's own families as of now."""
        errors = None if self.sampling_errors is None else self.sampling_errors()
        events = None if self.events is None else self.events()
        return agent_families(self.version, errors, events)

    def parts(self, fmt: Format) -> list[bytes | memoryview]:
        """The body in ``fmt`` as chunks (the cached Snapshot part is not copied)."""
        parts = self.cache.last(fmt)
        parts.append(write_families(self.families(), fmt))
        if self.states is not None:
            parts.append(self.states.render(fmt))
        if self.disk is not None:
            parts.append(self.disk.render(fmt))
        if fmt is Format.OPENMETRICS:
            parts.append(EOF)
        return parts

    def render(self, fmt: Format = Format.TEXT) -> bytes:
        return b"".join(self.parts(fmt))
