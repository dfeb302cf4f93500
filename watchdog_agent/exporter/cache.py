"""The per-Snapshot rendering cache: a Snapshot's families, written once as bytes.

``MetricsCache.render`` converts a Snapshot (and the inventory's refs, for start times and
labels) into the container and per-Snapshot families of the metric table, with the
exposition writer, and keeps the latest result; every scrape of the same Snapshot then
only joins stored bytes. Start times and labels come from ``refs`` as of the rendering:
at most one sampling interval behind the inventory. No I/O.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from watchdog_agent.model import CgroupMode, ContainerRef, ContainerStats, Snapshot

from .exposition import Format, Series, go_float, header, series, write_family
from .getters import DeviceName, major_minor
from .table import SNAPSHOT_TABLE, MetricSpec, container_table, info_spec

RefsProvider = Callable[[], Mapping[str, ContainerRef]]
NO_REFS: Mapping[str, ContainerRef] = MappingProxyType({})
Row = tuple[ContainerStats, ContainerRef | None, Series]


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
        device_name: DeviceName = major_minor,
    ) -> None:
        self._refs = refs
        self._device_name = device_name
        self._info = info_spec(label_allowlist)
        self._tables: dict[CgroupMode, tuple[MetricSpec, ...]] = {}
        self._latest: _Rendered | None = None
        self.renders = 0  # Snapshots rendered so far

    def specs(self, mode: CgroupMode) -> tuple[MetricSpec, ...]:
        """The per-container families on a host in ``mode``, the info series last."""
        table = self._tables.get(mode)
        if table is None:
            table = self._tables[mode] = (*container_table(mode, self._device_name), self._info)
        return table

    def refs(self) -> Mapping[str, ContainerRef]:
        """The inventory's refs now (none without a provider)."""
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
        refs = self.refs()
        rows: list[Row] = [
            (stats, refs.get(cid), series(cid, stats.name, stats.image))
            for cid, stats in snapshot.containers.items()
        ]
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
            body = write_family(spec.name, spec.labels, spec.get, rows)
            if body:
                family(spec.name, spec.type, spec.help, body)
        for sspec in SNAPSHOT_TABLE:
            value = sspec.get(snapshot)
            if value is not None:
                family(sspec.name, sspec.type, sspec.help, f"{sspec.name} {go_float(value)}\n")
        self.renders += 1
        return _Rendered(snapshot, b"".join(text), heads)
