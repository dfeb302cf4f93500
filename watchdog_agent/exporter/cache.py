"""The per-Snapshot rendering cache: a Snapshot's families, written once as bytes.

``MetricsCache.render`` converts a Snapshot (and the inventory's refs, for start times and
labels) into the container and per-Snapshot families of the metric table, with the
exposition writer, and keeps the latest result; every scrape of the same Snapshot then
only joins stored bytes. Start times and labels come from ``refs`` as of the rendering:
at most one sampling interval behind the inventory. No I/O.
"""

from __future__ import annotations

import weakref
import zlib
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from watchdog_agent.model import CgroupMode, ContainerRef, ContainerStats, Snapshot

from .exposition import Format, Series, go_float, header, series, write_family
from .getters import DeviceName, major_minor
from .gzipped import EMPTY, LEVEL, Deflated, Segmenter, inflate
from .table import SNAPSHOT_TABLE, MetricSpec, container_table, info_spec

RefsProvider = Callable[[], Mapping[str, ContainerRef]]
NO_REFS: Mapping[str, ContainerRef] = MappingProxyType({})
Row = tuple[ContainerStats, ContainerRef | None, Series]


class _Rendered:
    """One Snapshot's families, kept once: compressed (a gzip piece per format, the family
    bodies shared, only the headers differ), and as plain text while plain scrapes ask for
    it; where each family's text header sits in the text with its OpenMetrics header (the
    plain OpenMetrics body is spliced from the text when asked, never stored). The
    Snapshot is held weakly: a rendering keeps serving scrapes after its Snapshot was
    replaced (and released) in the store."""

    __slots__ = ("gzipped", "heads", "plain_asked", "snapshot", "text")

    def __init__(
        self,
        snapshot: Snapshot,
        text: bytes | None,
        heads: list[tuple[int, int, bytes]],
        gzipped: dict[Format, Deflated],
    ):
        self.snapshot = weakref.ref(snapshot)
        self.text = text  # None until a plain scrape asks (then inflated once)
        self.heads = heads  # (offset of the text header, its length, OpenMetrics header)
        self.gzipped = gzipped
        self.plain_asked = False

    def plain(self) -> bytes:
        """The text body; inflated from the compressed one the first time it is asked
        for (a thread's work at 1,000 containers: the server asks in one)."""
        self.plain_asked = True
        text = self.text
        if text is None:
            text = self.text = inflate(self.gzipped[Format.TEXT])
        return text

    def chunks(self, fmt: Format) -> list[bytes | memoryview]:
        """The plain body in ``fmt`` as chunks over the one stored copy (nothing copied)."""
        text = self.plain()
        if fmt is not Format.OPENMETRICS:
            return [text]
        view = memoryview(text)
        out: list[bytes | memoryview] = []
        at = 0
        for offset, length, head in self.heads:
            if offset > at:
                out.append(view[at:offset])
            out.append(head)
            at = offset + length
        if at < len(text):
            out.append(view[at:])
        return out


class MetricsCache:
    """Renders a Snapshot's families once; keeps the latest rendering: compressed, and as
    plain text only while plain (not gzip) scrapes ask for it (a gzip-only scraper such
    as Prometheus costs no plain copy)."""

    def __init__(
        self,
        *,
        refs: RefsProvider | None = None,
        label_allowlist: Sequence[str] = (),
        device_name: DeviceName = major_minor,
        level: int = LEVEL,
    ) -> None:
        self._refs = refs
        self._device_name = device_name
        self._info = info_spec(label_allowlist)
        self._tables: dict[CgroupMode, tuple[MetricSpec, ...]] = {}
        self._latest: _Rendered | None = None
        self.level = level
        self.renders = 0  # Snapshots rendered (and compressed) so far

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

    @property
    def ready(self) -> bool:
        """Whether any Snapshot was rendered yet."""
        return self._latest is not None

    @property
    def plain_ready(self) -> bool:
        """Whether the latest rendering's plain text is at hand (or there is none)."""
        return self._latest is None or self._latest.text is not None

    def restore_plain(self) -> None:
        """Makes the latest rendering's plain text be at hand (a thread's work)."""
        if self._latest is not None:
            self._latest.plain()

    def chunks(self, snapshot: Snapshot, fmt: Format = Format.TEXT) -> list[bytes | memoryview]:
        """The Snapshot's families in ``fmt`` (no ``# EOF``) as chunks of the one rendering;
        rendered once per Snapshot."""
        rendered = self._latest
        if rendered is None or rendered.snapshot() is not snapshot:
            rendered = self.install(self.build(snapshot, keep_plain=True))
        return rendered.chunks(fmt)

    def last(self, fmt: Format = Format.TEXT) -> list[bytes | memoryview]:
        """The latest rendering's plain chunks, whichever Snapshot it was ([] before the
        first)."""
        return [] if self._latest is None else self._latest.chunks(fmt)

    def last_gzipped(self, fmt: Format = Format.TEXT) -> Deflated:
        """The latest rendering compressed, in ``fmt`` (empty before the first)."""
        return EMPTY if self._latest is None else self._latest.gzipped[fmt]

    def render(self, snapshot: Snapshot, fmt: Format = Format.TEXT) -> bytes:
        """The Snapshot's families in ``fmt`` (no ``# EOF``); rendered once per Snapshot
        (the text format is the stored bytes themselves)."""
        chunks = self.chunks(snapshot, fmt)
        if len(chunks) == 1 and isinstance(chunks[0], bytes):
            return chunks[0]
        return b"".join(chunks)

    def install(self, rendered: _Rendered) -> _Rendered:
        """Makes ``rendered`` the latest rendering."""
        self._latest = rendered
        return rendered

    def build(self, snapshot: Snapshot, *, keep_plain: bool | None = None) -> _Rendered:
        """A rendering of ``snapshot``, not installed (a thread's work: nothing here is
        shared but the counters). The plain text is kept when ``keep_plain``; by default
        when the latest rendering's was asked for."""
        if keep_plain is None:
            latest = self._latest
            keep_plain = latest is not None and latest.plain_asked
        refs = self.refs()
        rows: list[Row] = [
            (stats, refs.get(cid), series(cid, stats.name, stats.image))
            for cid, stats in snapshot.containers.items()
        ]
        text: list[bytes] = []
        heads: list[tuple[int, int, bytes]] = []
        at = 0  # byte offset in the text body
        # both formats compressed: the bodies once, shared; each format's headers apart
        compressed: dict[Format, list[bytes]] = {Format.TEXT: [], Format.OPENMETRICS: []}
        crcs = dict.fromkeys(compressed, 0)
        size = {Format.TEXT: 0, Format.OPENMETRICS: 0}
        segments, om_heads = Segmenter(self.level), Segmenter(self.level)

        def add(fmt: Format, chunk: bytes, plain: bytes) -> None:
            compressed[fmt].append(chunk)
            crcs[fmt] = zlib.crc32(plain, crcs[fmt])
            size[fmt] += len(plain)

        def family(name: str, type_: str, help_: str, body: str) -> None:
            nonlocal at
            head = header(name, type_, help_, Format.TEXT)
            om_head = header(name, type_, help_, Format.OPENMETRICS)
            heads.append((at, len(head), om_head))
            data = body.encode()
            if keep_plain:
                text.extend((head, data))
            add(Format.TEXT, segments.compress(head), head)
            add(Format.OPENMETRICS, om_heads.compress(om_head), om_head)
            shared = segments.compress(data)
            add(Format.TEXT, shared, data)
            add(Format.OPENMETRICS, shared, data)
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
        return _Rendered(
            snapshot,
            b"".join(text) if keep_plain else None,
            heads,
            {f: Deflated(tuple(c), crcs[f], size[f]) for f, c in compressed.items()},
        )
