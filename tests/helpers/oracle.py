"""The test oracle for /metrics: a prometheus_client Collector over the same metric table.

It builds, as prometheus_client ``Metric`` objects, every family the exporter writes for
a Snapshot, the inventory's refs, the agent's counters, the host's totals and the
agent's own cost, in the order a scrape writes them, so that ``generate_latest`` (text
0.0.4) and the OpenMetrics ``generate_latest`` over a registry holding it give the bytes
the production writer (watchdog_agent/exporter/) must give. The values come from the
table's getters; what it states on its own is how a series is named and labelled: the
family names, ``id="/docker/<full id>"``, ``name`` and ``image`` (empty when unknown),
the extra labels; for ``process_*``, prometheus_client's own ProcessCollector names,
help and types. Production never registers it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import CollectorRegistry

from watchdog_agent import __version__
from watchdog_agent.exporter.scrape import EventCounts
from watchdog_agent.exporter.table import (
    AGENT_TABLE,
    DAEMON_TABLE,
    DISK_CONTAINER_TABLE,
    DISK_TABLE,
    HOST_TABLE,
    SNAPSHOT_TABLE,
    STATE_TABLE,
    FamilySpec,
    MetricSpec,
    container_table,
    family_name,
    info_spec,
)
from watchdog_agent.model import (
    ContainerRef,
    DaemonState,
    DiskArea,
    DiskUsage,
    HostSample,
    ProcessCost,
    Snapshot,
)

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


def host_families(host: HostSample | None) -> list[Metric]:
    if host is None:
        return []
    out = []
    for spec in HOST_TABLE:
        value = spec.get(host)
        if value is not None:
            metric = Metric(family_name(spec.name, spec.type), spec.help, spec.type)
            metric.add_sample(spec.name, {}, value)
            out.append(metric)
    return out


# prometheus_client's own ProcessCollector families as (family name, help, type, sample
# name), in its order: read from the library once, at import (it reads this process's
# /proc), so that an oracle's collect() does no I/O
PROCESS_FAMILIES = [
    (m.name, m.documentation, m.type, m.samples[0].name)
    for m in ProcessCollector(registry=None).collect()
]


def process_families(cost: ProcessCost | None) -> list[Metric]:
    """prometheus_client's ProcessCollector families with ``cost``'s values; a value not
    known is left out, as the collector leaves out what it cannot read."""
    if cost is None:
        return []
    values = {"process_" + field: value for field, value in cost._asdict().items()}
    out = []
    for name, help_, type_, sample_name in PROCESS_FAMILIES:
        value = values[sample_name]
        if value is not None:
            metric = Metric(name, help_, type_)
            metric.add_sample(sample_name, {}, value)
            out.append(metric)
    return out


def daemon_families(state: DaemonState) -> list[Metric]:
    """The Docker daemon's families: info (once /info was read), up, the mirror count
    (when Docker listed mirrors) and the data root's filesystem (when measured)."""
    info_spec_, up, mirrors, size, free = DAEMON_TABLE

    def metric(spec: FamilySpec, labels: Labels, value: float) -> Metric:
        out = Metric(family_name(spec.name, spec.type), spec.help, spec.type)
        out.add_sample(spec.name, labels, value)
        return out

    out: list[Metric] = []
    info = state.info
    if info is not None:
        values = (info.version, info.storage_driver, info.logging_driver, info.cgroup_driver,
                  info.cgroup_version)  # fmt: skip
        labels = {k: v or "" for k, v in zip(info_spec_.labels, values, strict=True)}
        out.append(metric(info_spec_, labels, 1))
    out.append(metric(up, {}, 1 if state.up else 0))
    if info is not None and info.registry_mirrors is not None:
        out.append(metric(mirrors, {}, len(info.registry_mirrors)))
    if state.data_root_fs is not None:
        out.append(metric(size, {}, state.data_root_fs.size_bytes))
        out.append(metric(free, {}, state.data_root_fs.free_bytes))
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
        host: Callable[[], HostSample | None] = lambda: None,
        cost: Callable[[], ProcessCost | None] = lambda: None,
        daemon: Callable[[], DaemonState | None] | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.latest = latest
        self.refs = refs
        self.label_allowlist = tuple(label_allowlist)
        self.version = version
        self.sampling_errors = sampling_errors
        self.events = events
        self.states = states
        self.host = host
        self.cost = cost
        self.daemon = daemon
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
        daemon = None if self.daemon is None else self.daemon()
        if daemon is not None:
            yield from daemon_families(daemon)
        yield from host_families(self.host())
        yield from process_families(self.cost())
        if self.states:
            yield from state_families(refs)
