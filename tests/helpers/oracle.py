"""The test oracle for /metrics: a prometheus_client Collector over the same metric table.

It builds, as prometheus_client ``Metric`` objects, every family the exporter writes for
a Snapshot, the inventory's refs and the agent's counters, in the order a scrape writes
them, so that ``generate_latest`` (text 0.0.4) and the OpenMetrics ``generate_latest`` over
a registry holding it give the bytes the production writer (watchdog_agent/exporter/)
must give. The values come from the table's getters; what it states on its own is how a
series is named and labelled: the family names, ``id="/docker/<full id>"``, ``name`` and
``image`` (empty when unknown), the extra labels. Production never registers it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from watchdog_agent import __version__
from watchdog_agent.exporter.scrape import EventCounts
from watchdog_agent.exporter.table import (
    AGENT_TABLE,
    DISK_CONTAINER_TABLE,
    DISK_TABLE,
    SNAPSHOT_TABLE,
    STATE_TABLE,
    FamilySpec,
    MetricSpec,
    container_table,
    family_name,
    info_spec,
)
from watchdog_agent.model import ContainerRef, DiskArea, DiskUsage, Snapshot

Labels = dict[str, str]


def base(cid: str, name: str | None, image: str | None) -> Labels:
    return {"id": f"/docker/{cid}", "name": name or "", "image": image or ""}


def labelled(labels: Labels, names: Sequence[str], values: Sequence[str]) -> Labels:
    return {**labels, **dict(zip(names, values, strict=True))}


def container_families(
    snapshot: Snapshot, refs: Mapping[str, ContainerRef], allowlist: Sequence[str] = ()
) -> list[Metric]:
    """The per-container and per-Snapshot families, the empty ones left out."""
    specs: list[MetricSpec] = [*container_table(snapshot.mode), info_spec(allowlist)]
    rows = [
        (stats, refs.get(cid), base(cid, stats.name, stats.image))
        for cid, stats in snapshot.containers.items()
    ]
    out: list[Metric] = []
    for spec in specs:
        metric = Metric(family_name(spec.name, spec.type), spec.help, spec.type)
        for stats, ref, labels in rows:
            for extra, value in spec.get(stats, ref):
                metric.add_sample(spec.name, labelled(labels, spec.labels, extra), value)
        if metric.samples:
            out.append(metric)
    for sspec in SNAPSHOT_TABLE:
        total = sspec.get(snapshot)
        if total is not None:
            metric = Metric(family_name(sspec.name, sspec.type), sspec.help, sspec.type)
            metric.add_sample(sspec.name, {}, total)
            out.append(metric)
    return out


def agent_families(
    version: str, sampling_errors: int | None, events: EventCounts | None
) -> list[Metric]:
    """Build info, sampling errors and the event counters (written even when empty)."""
    build, errors, by_type, lost, gaps, skipped = AGENT_TABLE

    def metric(spec: FamilySpec, samples: Iterable[tuple[Labels, float]]) -> Metric:
        out = Metric(family_name(spec.name, spec.type), spec.help, spec.type)
        for labels, value in samples:
            out.add_sample(spec.name, labels, value)
        return out

    out = [metric(build, [({"version": version}, 1)])]
    if sampling_errors is not None:
        out.append(metric(errors, [({}, sampling_errors)]))
    if events is not None:
        counts = sorted(events.by_type_action.items())
        out.append(metric(by_type, [({"type": t, "action": a}, n) for (t, a), n in counts]))
        out += [metric(spec, [({}, value)]) for spec, value in (
            (lost, events.lost), (gaps, events.gaps), (skipped, events.skipped_lines))]  # fmt: skip
    return out


def state_families(refs: Mapping[str, ContainerRef]) -> list[Metric]:
    out = []
    for spec in STATE_TABLE:
        metric = Metric(family_name(spec.name, spec.type), spec.help, spec.type)
        for ref in refs.values():
            labels = base(ref.id, ref.name, ref.image)
            for extra, value in spec.get(ref, None):
                metric.add_sample(spec.name, labelled(labels, spec.labels, extra), value)
        if metric.samples:
            out.append(metric)
    return out


def disk_families(usage: DiskUsage, areas: Sequence[DiskArea]) -> list[Metric]:
    """The disk sample's families: each container's writable layer (named by its own
    name, not a legacy link's), then the four areas by ``type``."""
    out = []
    for spec in DISK_CONTAINER_TABLE:
        metric = Metric(family_name(spec.name, spec.type), spec.help, spec.type)
        for c in usage.containers:
            own = [n for n in c.names if "/" not in n] or list(c.names)
            labels = base(c.id, own[0] if own else None, c.image)
            for extra, value in spec.get(c, None):
                metric.add_sample(spec.name, labelled(labels, spec.labels, extra), value)
        if metric.samples:
            out.append(metric)
    for fspec, field in zip(DISK_TABLE, ("size", "reclaimable", "total", "active"), strict=True):
        metric = Metric(family_name(fspec.name, fspec.type), fspec.help, fspec.type)
        for area in areas:
            metric.add_sample(fspec.name, {"type": area.type}, getattr(area, field))
        out.append(metric)
    return out


class Oracle:
    """A prometheus_client Collector giving what a scrape should write: ``latest()``'s
    families (none before the first Snapshot), the agent's own, and with ``states`` the
    series about every container in ``refs``."""

    def __init__(
        self,
        latest: Callable[[], Snapshot | None],
        *,
        refs: Callable[[], Mapping[str, ContainerRef]] = dict,
        label_allowlist: Sequence[str] = (),
        version: str = __version__,
        sampling_errors: Callable[[], int] | None = None,
        events: Callable[[], EventCounts] | None = None,
        states: bool = False,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.latest = latest
        self.refs = refs
        self.label_allowlist = tuple(label_allowlist)
        self.version = version
        self.sampling_errors = sampling_errors
        self.events = events
        self.states = states
        if registry is not None:
            registry.register(self)

    def collect(self) -> Iterator[Metric]:
        snapshot = self.latest()
        refs = self.refs()
        if snapshot is not None:
            yield from container_families(snapshot, refs, self.label_allowlist)
        errors = None if self.sampling_errors is None else self.sampling_errors()
        events = None if self.events is None else self.events()
        yield from agent_families(self.version, errors, events)
        if self.states:
            yield from state_families(refs)
