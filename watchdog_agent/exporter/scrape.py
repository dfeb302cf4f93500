"""What a scrape writes, in this order: the latest Snapshot's rendering (``MetricsCache``),
the agent's own families (build info, sampling errors, event counters, the journal's
errors, live asyncio tasks, the Docker daemon's: the few numbers that change between
passes, written on every scrape), the latest host sample's families and the agent's own
cost (``process_*``), the inventory's state series (``InventoryMetrics``), the disk
sample's series (``DiskMetrics``), and ``# EOF`` for OpenMetrics. No I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NamedTuple

from watchdog_agent import __version__
from watchdog_agent.model import DaemonState, HostSample, ProcessCost

from .cache import MetricsCache
from .disk import DiskMetrics
from .exposition import EOF, Family, Format, write_families
from .gzipped import Deflated, deflate, gzip_chunks
from .states import InventoryMetrics
from .table import (
    AGENT_TASKS,
    BUILD_INFO,
    DATA_ROOT_FREE,
    DATA_ROOT_SIZE,
    DOCKER_INFO,
    DOCKER_MIRRORS,
    DOCKER_UP,
    EVENTS,
    EVENTS_GAPS,
    EVENTS_LOST,
    EVENTS_SKIPPED,
    HOST_TABLE,
    JOURNAL_ERRORS,
    METRICS_SCRAPES,
    PROCESS_TABLE,
    SAMPLING_ERRORS,
    FamilySpec,
)


class EventCounts(NamedTuple):
    """The events side's counters, as ``/metrics`` shows them."""

    by_type_action: Mapping[tuple[str, str], int]  # events received
    lost: int  # dropped for slow subscribers
    gaps: int  # stretches where the agent could not prove it saw every event
    skipped_lines: int  # malformed event lines
    journal_errors: int | None = None  # batches the journal could not store (None: no journal)


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
        if events.journal_errors is not None:
            out.append(Family(JOURNAL_ERRORS, [({}, events.journal_errors)]))
    return out


def host_families(host: HostSample | None, cost: ProcessCost | None) -> list[Family]:
    """The host's totals and the agent's own cost; a value not known has no family (as
    prometheus_client's ProcessCollector leaves out what it cannot read)."""
    out: list[Family] = []
    if host is not None:
        for spec in HOST_TABLE:
            value = spec.get(host)
            if value is not None:
                out.append(Family(FamilySpec(spec.name, spec.help, spec.type, ()), [({}, value)]))
    if cost is not None:
        for pspec in PROCESS_TABLE:
            value = pspec.get(cost)
            if value is not None:
                out.append(
                    Family(FamilySpec(pspec.name, pspec.help, pspec.type, ()), [({}, value)])
                )
    return out


def daemon_families(state: DaemonState) -> list[Family]:
    """The Docker daemon's families: ``up`` always; the info series, the mirror count and
    the data root's filesystem once known (the last /info, kept while the engine is down).
    A label Docker did not report is empty."""
    out = [Family(DOCKER_UP, [({}, 1 if state.up else 0)])]
    info = state.info
    if info is not None:
        labels = {
            "version": info.version or "",
            "storage_driver": info.storage_driver or "",
            "logging_driver": info.logging_driver or "",
            "cgroup_driver": info.cgroup_driver or "",
            "cgroup_version": info.cgroup_version or "",
        }
        out.insert(0, Family(DOCKER_INFO, [(labels, 1)]))
        if info.registry_mirrors is not None:
            out.append(Family(DOCKER_MIRRORS, [({}, len(info.registry_mirrors))]))
    fs = state.data_root_fs
    if fs is not None:
        out.append(Family(DATA_ROOT_SIZE, [({}, fs.size_bytes)]))
        out.append(Family(DATA_ROOT_FREE, [({}, fs.free_bytes)]))
    return out


EOF_GZIPPED = deflate(EOF)
ENCODINGS = ("gzip", "identity")


class Scrape:
    """A scrape's body over the cache's latest rendering, whichever Snapshot it was (the
    server renders each new Snapshot ahead, in a thread, and serves the last one
    meanwhile), plain or gzip: the gzip body splices the pieces compressed once (the
    Snapshot's, the inventory's, the disk sample's) around the agent's own families,
    compressed per scrape (a few hundred bytes). With ``count_scrapes`` the scrapes
    answered, by coding, are one of the agent's families."""

    def __init__(
        self,
        cache: MetricsCache,
        *,
        version: str = __version__,
        sampling_errors: Callable[[], int] | None = None,
        events: Callable[[], EventCounts] | None = None,
        states: InventoryMetrics | None = None,
        host: Callable[[], HostSample | None] | None = None,
        cost: Callable[[], ProcessCost | None] | None = None,
        daemon: Callable[[], DaemonState | None] | None = None,
        disk: DiskMetrics | None = None,
        count_scrapes: bool = False,
        tasks: Callable[[], int] | None = None,
    ) -> None:
        self.cache = cache
        self.version = version
        self.sampling_errors = sampling_errors
        self.events = events
        self.states = states
        self.host = host
        self.cost = cost
        self.daemon = daemon
        self.disk = disk
        self.scrapes: dict[str, int] | None = dict.fromkeys(ENCODINGS, 0) if count_scrapes else None
        self.tasks = tasks

    def count(self, encoding: str) -> None:
        """One more scrape answered with ``encoding`` (counted when counting)."""
        if self.scrapes is not None:
            self.scrapes[encoding] = self.scrapes.get(encoding, 0) + 1

    def families(self) -> list[Family]:
        """The agent's own families as of now."""
        errors = None if self.sampling_errors is None else self.sampling_errors()
        events = None if self.events is None else self.events()
        host = None if self.host is None else self.host()
        cost = None if self.cost is None else self.cost()
        out = agent_families(self.version, errors, events)
        if self.scrapes is not None:
            by_coding = sorted(self.scrapes.items())
            out.append(Family(METRICS_SCRAPES, [({"encoding": e}, n) for e, n in by_coding]))
        if self.tasks is not None:
            out.append(Family(AGENT_TASKS, [({}, self.tasks())]))
        daemon = None if self.daemon is None else self.daemon()
        if daemon is not None:  # none without Docker (--no-docker)
            out += daemon_families(daemon)
        return out + host_families(host, cost)

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

    def gzip_parts(self, fmt: Format) -> list[bytes]:
        """The body in ``fmt`` as one gzip member's chunks; the same bytes as ``parts``
        once decompressed."""
        pieces: list[Deflated] = [
            self.cache.last_gzipped(fmt),
            deflate(write_families(self.families(), fmt)),
        ]
        if self.states is not None:
            pieces.append(self.states.gzipped(fmt))
        if self.disk is not None:
            pieces.append(self.disk.gzipped(fmt))
        if fmt is Format.OPENMETRICS:
            pieces.append(EOF_GZIPPED)
        return gzip_chunks(pieces)

    def render(self, fmt: Format = Format.TEXT) -> bytes:
        return b"".join(self.parts(fmt))
