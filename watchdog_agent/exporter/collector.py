"""The prometheus_client Collector over the latest Snapshot, and its per-Snapshot cache.

``collect()`` does no I/O: it converts the latest Snapshot (and the inventory's refs, for
start times and labels) into families, as cAdvisor's collector does over its cache.

A scrape does not go through ``collect()``: ``SnapshotCollector.render`` joins

1. the container and snapshot families, rendered to bytes once per Snapshot by
   ``MetricsCache`` (the first scrape after a sampling pass renders, later scrapes of the
   same Snapshot reuse the bytes; the wiring may call ``MetricsCache.render`` right after
   sampling, off the event loop, so that no scrape ever renders),
2. the small per-scrape families (build info, cumulative sampling errors, and any
   ``providers``: event counters later), rendered by prometheus_client itself,
3. ``# EOF`` for OpenMetrics.

The result is byte for byte ``generate_latest`` over a registry holding this collector
(tests/exporter/test_exporter.py checks it). Start times and labels come from ``refs`` as of the
first render of a Snapshot: at most one sampling interval behind the inventory.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from watchdog_agent import __version__
from watchdog_agent.model import CgroupMode, ContainerRef, Snapshot

from .exposition import (
    EOF,
    Format,
    Row,
    base_label_string,
    escape_value,
    go_float,
    header,
    negotiate,
    render_metrics,
    write_family,
)
from .getters import DeviceName, major_minor
from .table import (
    SNAPSHOT_TABLE,
    MetricSpec,
    container_table,
    docker_series_id,
    family_name,
    info_spec,
)

FamiliesProvider = Callable[[], Iterable[Metric]]
RefsProvider = Callable[[], Mapping[str, ContainerRef]]
NO_REFS: Mapping[str, ContainerRef] = MappingProxyType({})


class _Rendered:
    """One Snapshot's families, kept once: the text-format body, and where each family's
    text header sits in it with its OpenMetrics header (the other format is spliced from
    the same bytes when asked, never stored). The Snapshot is held weakly: a rendering
    keeps serving scrapes after its Snapshot was replaced (and released) in the store."""

    __slots__ = ("heads", "snapshot", "text")

    def __init__(self, snapshot: Snapshot, text: bytes, heads: list[tuple[int, int, bytes]]):
        self.snapshot = weakref.ref(snapshot)
        self.text = text
        self.heads = heads  # (offset of the text header, its length, OpenMetrics header)

    def chunks(self, fmt: Format) -> list[bytes | memoryview]:
        """The body in ``fmt`` as chunks over the one stored copy (nothing is copied)."""
        if fmt is not Format.OPENMETRICS:
            return [self.text]
        view = memoryview(self.text)
        out: list[bytes | memoryview] = []
        at = 0
        for offset, length, head in self.heads:
            if offset > at:
                out.append(view[at:offset])
            out.append(head)
            at = offset + length
        if at < len(self.text):
            out.append(view[at:])
        return out


class MetricsCache:
    """Renders a Snapshot's families once; keeps the latest rendering (its bytes once)."""

    def __init__(
        self,
        *,
        refs: RefsProvider | None = None,
        label_allowlist: Sequence[str] = (),
        series_id: Callable[[str], str] = docker_series_id,
        device_name: DeviceName = major_minor,
    ) -> None:
        self._refs = refs
        self._series_id = series_id
        self._device_name = device_name
        self._info = info_spec(label_allowlist)
        self._tables: dict[CgroupMode, tuple[MetricSpec, ...]] = {}
        self._latest: _Rendered | None = None
        self.renders = 0  # Snapshots rendered so far

    def specs(self, mode: CgroupMode) -> tuple[MetricSpec, ...]:
        table = self._tables.get(mode)
        if table is None:
            table = self._tables[mode] = (*container_table(mode, self._device_name), self._info)
        return table

    def _current_refs(self) -> Mapping[str, ContainerRef]:
        return NO_REFS if self._refs is None else self._refs()

    def rendered(self, snapshot: Snapshot) -> bool:
        """Whether ``snapshot`` is the one already rendered (a scrape then only joins)."""
        latest = self._latest
        return latest is not None and latest.snapshot() is snapshot

    def chunks(self, snapshot: Snapshot, fmt: Format = Format.TEXT) -> list[bytes | memoryview]:
        """The Snapshot's families in ``fmt`` (no ``# EOF``) as chunks of the one rendering;
        rendered once per Snapshot."""
        rendered = self._latest
        if rendered is None or rendered.snapshot() is not snapshot:
            rendered = self._latest = self._render(snapshot)
        return rendered.chunks(fmt)

    def last(self, fmt: Format = Format.TEXT) -> list[bytes | memoryview]:
        """The latest rendering's chunks, whichever Snapshot it was ([] before the first)."""
        return [] if self._latest is None else self._latest.chunks(fmt)

    def render(self, snapshot: Snapshot, fmt: Format = Format.TEXT) -> bytes:
        """The Snapshot's families in ``fmt`` (no ``# EOF``); rendered once per Snapshot
        (the text format is the stored bytes themselves)."""
        chunks = self.chunks(snapshot, fmt)
        if len(chunks) == 1 and isinstance(chunks[0], bytes):
            return chunks[0]
        return b"".join(chunks)

    def _render(self, snapshot: Snapshot) -> _Rendered:
        refs = self._current_refs()
        sid = self._series_id
        rows: list[Row] = []
        for cid, stats in snapshot.containers.items():
            values = (escape_value(sid(cid)), escape_value(stats.name or ""),
                      escape_value(stats.image or ""))  # fmt: skip
            rows.append((stats, refs.get(cid), values, base_label_string(values)))
        text: list[bytes] = []
        heads: list[tuple[int, int, bytes]] = []
        at = 0  # byte offset in the text body

        def family(name: str, type_: str, help_: str, body: str) -> None:
            nonlocal at
            head = header(name, type_, help_, Format.TEXT)
            heads.append((at, len(head), header(name, type_, help_, Format.OPENMETRICS)))
            data = body.encode()
            text.extend((head, data))
            at += len(head) + len(data)

        for spec in self.specs(snapshot.mode):
            body = write_family(spec, rows)
            if body:
                family(spec.name, spec.type, spec.help, body)
        for sspec in SNAPSHOT_TABLE:
            value = sspec.get(snapshot)
            if value is not None:
                family(sspec.name, sspec.type, sspec.help, f"{sspec.name} {go_float(value)}\n")
        self.renders += 1
        return _Rendered(snapshot, b"".join(text), heads)

    def families(self, snapshot: Snapshot) -> list[Metric]:
        """The same families as prometheus_client objects (the Collector path)."""
        refs = self._current_refs()
        rows = [
            (stats, refs.get(cid),
             {"id": self._series_id(cid), "name": stats.name or "", "image": stats.image or ""})
            for cid, stats in snapshot.containers.items()
        ]  # fmt: skip
        out: list[Metric] = []
        for spec in self.specs(snapshot.mode):
            metric = Metric(family_name(spec.name, spec.type), spec.help, spec.type)
            for stats, ref, base in rows:
                for extra, value in spec.get(stats, ref):
                    labels = {**base, **dict(zip(spec.labels, extra, strict=True))}
                    metric.add_sample(spec.name, labels, value)
            if metric.samples:
                out.append(metric)
        for sspec in SNAPSHOT_TABLE:
            total = sspec.get(snapshot)
            if total is not None:
                metric = Metric(family_name(sspec.name, sspec.type), sspec.help, sspec.type)
                metric.add_sample(sspec.name, {}, total)
                out.append(metric)
        return out


class SnapshotCollector:
    """A prometheus_client Collector over the latest Snapshot.

    ``latest`` returns the latest Snapshot (None before the first pass); ``errors_total``
    the sampler's cumulative count of unreadable files; ``providers`` yield more families
    per scrape (event counters ...). Registered on ``registry`` when one is given, never
    on prometheus_client's global one.
    """

    def __init__(
        self,
        latest: Callable[[], Snapshot | None],
        *,
        cache: MetricsCache | None = None,
        version: str = __version__,
        errors_total: Callable[[], int] | None = None,
        providers: Sequence[FamiliesProvider] = (),
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.latest = latest
        self.cache = cache if cache is not None else MetricsCache()
        self.version = version
        self.errors_total = errors_total
        self.providers = tuple(providers)
        if registry is not None:
            registry.register(self)

    def describe(self) -> list[Metric]:
        """The static family names, for the registry's duplicate check."""
        names = [(s.name, s.type, s.help) for s in self.cache.specs(CgroupMode.V2)]
        names += [(s.name, s.type, s.help) for s in SNAPSHOT_TABLE]
        return [Metric(family_name(n, t), h, t) for n, t, h in names] + self._agent()

    def collect(self) -> Iterator[Metric]:
        snapshot = self.latest()
        if snapshot is not None:
            yield from self.cache.families(snapshot)
        yield from self._dynamic()

    def _agent(self) -> list[Metric]:
        build = Metric("watchdog_build_info", "Agent build: 1, labelled by version.", "gauge")
        build.add_sample("watchdog_build_info", {"version": self.version}, 1)
        out = [build]
        if self.errors_total is not None:
            errors = Metric(
                "watchdog_sampling_errors", "Files that could not be read while sampling.",
                "counter",
            )  # fmt: skip
            errors.add_sample("watchdog_sampling_errors_total", {}, self.errors_total())
            out.append(errors)
        return out

    def _dynamic(self) -> list[Metric]:
        out = self._agent()
        for provider in self.providers:
            out.extend(provider())
        return out

    def render_parts(self, fmt: Format) -> list[bytes | memoryview]:
        """A scrape's body as chunks (the cached Snapshot part is not copied)."""
        snapshot = self.latest()
        parts = [] if snapshot is None else self.cache.chunks(snapshot, fmt)
        return self._with_dynamic(parts, fmt)

    def render_last(self, fmt: Format) -> list[bytes | memoryview]:
        """``render_parts`` over the cache's latest rendering, whichever Snapshot it was
        (the server renders each new Snapshot ahead, and serves the last one meanwhile)."""
        return self._with_dynamic(self.cache.last(fmt), fmt)

    def _with_dynamic(
        self, parts: list[bytes | memoryview], fmt: Format
    ) -> list[bytes | memoryview]:
        parts.append(render_metrics(self._dynamic(), fmt))
        if fmt is Format.OPENMETRICS:
            parts.append(EOF)
        return parts

    def render(self, fmt: Format = Format.TEXT) -> bytes:
        return b"".join(self.render_parts(fmt))

    def scrape(self, accept: str | None = None) -> tuple[str, bytes]:
        """(Content-Type, body) for a request's Accept header."""
        content_type, fmt = negotiate(accept)
        return content_type, self.render(fmt)
