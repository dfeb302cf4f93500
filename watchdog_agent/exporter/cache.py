"""The per-Snapshot rendering cache: a Snapshot's families, written once as bytes.

``MetricsCache.render`` converts a Snapshot (and the inventory's refs, for start times and
labels) into the container and per-Snapshot families of the metric table, with the
exposition writer, and keeps the latest result, plain or gzip-compressed (as scrapes
ask); every scrape of the same Snapshot then only joins stored bytes. Start times and
labels come from ``refs`` as of the rendering: at most one sampling interval behind the
inventory. No I/O.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from types import MappingProxyType

from watchdog_agent.model import CgroupMode, ContainerRef, ContainerStats, Snapshot

from .exposition import Format, Series, go_float, header, series, write_family
from .getters import DeviceName, major_minor
from .gzipped import EMPTY, LEVEL, Deflated, Deflater, deflate_chunks, inflate
from .table import SNAPSHOT_TABLE, MetricSpec, container_table, info_spec

RefsProvider = Callable[[], Mapping[str, ContainerRef]]
NO_REFS: Mapping[str, ContainerRef] = MappingProxyType({})
Row = tuple[ContainerStats, ContainerRef | None, Series]


# a family's headers: (offset in the text body, text header, offset in the OpenMetrics
# body, OpenMetrics header)
Head = tuple[int, bytes, int, bytes]
# what a scrape asks of a rendering: the body compressed in a format, or plain (None)
Kind = Format | None


def _splice(body: bytes, heads: Sequence[Head], to: Format) -> list[bytes | memoryview]:
    """``body`` (in the other format) with each family's header replaced by its header
    in ``to``, as chunks over ``body`` (nothing copied)."""
    view = memoryview(body)
    out: list[bytes | memoryview] = []
    at = 0
    for text_at, text_head, om_at, om_head in heads:
        offset, length, head = (
            (text_at, len(text_head), om_head)
            if to is Format.OPENMETRICS
            else (om_at, len(om_head), text_head)
        )
        if offset > at:
            out.append(view[at:offset])
        out.append(head)
        at = offset + length
    if at < len(body):
        out.append(view[at:])
    return out


class _Rendered:
    """One Snapshot's families, kept once, in the forms scrapes asked for: the plain text
    (the OpenMetrics body is spliced from it when asked, never stored) and each format
    compressed (a gzip piece). A form nobody asked for is made when first asked from one
    that is there, and the next rendering is made in the forms this one was asked in: a
    gzip-only scraper such as Prometheus costs one compression and no plain copy. The
    Snapshot is held weakly: a rendering keeps serving scrapes after its Snapshot was
    replaced (and released) in the store."""

    __slots__ = ("asked", "gzipped", "heads", "level", "snapshot", "text")

    def __init__(
        self,
        snapshot: Snapshot,
        text: bytes | None,
        heads: list[Head],
        gzipped: dict[Format, Deflated],
        level: int,
    ):
        self.snapshot = weakref.ref(snapshot)
        self.text = text
        self.heads = heads
        self.gzipped = gzipped
        self.level = level
        # replaced, never changed in place: a rendering thread reads it while scrapes ask
        self.asked: frozenset[Kind] = frozenset()

    def _ask(self, kind: Kind) -> None:
        if kind not in self.asked:
            self.asked = self.asked | {kind}

    def has(self, kind: Kind) -> bool:
        return self.text is not None if kind is None else kind in self.gzipped

    def _text(self) -> bytes:
        text = self.text
        if text is None:
            if Format.TEXT in self.gzipped:
                text = inflate(self.gzipped[Format.TEXT])
            else:
                om = inflate(self.gzipped[Format.OPENMETRICS])
                text = b"".join(_splice(om, self.heads, Format.TEXT))
            self.text = text
        return text

    def chunks(self, fmt: Format) -> list[bytes | memoryview]:
        """The plain body in ``fmt`` as chunks over the one stored copy; inflated from a
        compressed body the first time (a thread's work: the server asks in one)."""
        self._ask(None)
        text = self._text()
        return [text] if fmt is not Format.OPENMETRICS else _splice(text, self.heads, fmt)

    def gzipped_in(self, fmt: Format) -> Deflated:
        """The body in ``fmt`` compressed; compressed the first time (a thread's work)."""
        self._ask(fmt)
        piece = self.gzipped.get(fmt)
        if piece is None:
            kept = self.text is not None
            text = self._text()
            body = [text] if fmt is not Format.OPENMETRICS else _splice(text, self.heads, fmt)
            piece = self.gzipped[fmt] = deflate_chunks(body, self.level)
            if not kept and None not in self.asked:
                self.text = None  # restored only to compress: not kept
        return piece

    def prepare(self, kind: Kind) -> None:
        """Makes ``kind`` be at hand (a thread's work)."""
        if kind is None:
            self.chunks(Format.TEXT)
        else:
            self.gzipped_in(kind)


class MetricsCache:
    """Renders a Snapshot's families once; keeps the latest rendering, in the forms
    scrapes ask for (see ``_Rendered``)."""

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
        self.renders = 0  # Snapshots rendered so far
        self._compressed = 0  # bodies compressed in renderings no longer the latest

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

    def has(self, kind: Kind) -> bool:
        """Whether the latest rendering is at hand plain (``None``) or compressed in a
        format without more work (or there is no rendering)."""
        return self._latest is None or self._latest.has(kind)

    def prepare(self, kind: Kind) -> None:
        """Makes ``has(kind)`` true (a thread's work at 1,000 containers)."""
        if self._latest is not None:
            self._latest.prepare(kind)

    def chunks(self, snapshot: Snapshot, fmt: Format = Format.TEXT) -> list[bytes | memoryview]:
        """The Snapshot's families in ``fmt`` (no ``# EOF``) as chunks of the one rendering;
        rendered once per Snapshot."""
        rendered = self._latest
        if rendered is None or rendered.snapshot() is not snapshot:
            rendered = self.install(self.build(snapshot))
        return rendered.chunks(fmt)

    def last(self, fmt: Format = Format.TEXT) -> list[bytes | memoryview]:
        """The latest rendering's plain chunks, whichever Snapshot it was ([] before the
        first)."""
        return [] if self._latest is None else self._latest.chunks(fmt)

    def last_gzipped(self, fmt: Format = Format.TEXT) -> Deflated:
        """The latest rendering compressed, in ``fmt`` (empty before the first)."""
        return EMPTY if self._latest is None else self._latest.gzipped_in(fmt)

    @property
    def compressions(self) -> int:
        """Bodies compressed so far (a rendering in a format is compressed once)."""
        return self._compressed + (0 if self._latest is None else len(self._latest.gzipped))

    def render(self, snapshot: Snapshot, fmt: Format = Format.TEXT) -> bytes:
        """The Snapshot's families in ``fmt`` (no ``# EOF``); rendered once per Snapshot
        (the text format is the stored bytes themselves)."""
        chunks = self.chunks(snapshot, fmt)
        if len(chunks) == 1 and isinstance(chunks[0], bytes):
            return chunks[0]
        return b"".join(chunks)

    def install(self, rendered: _Rendered) -> _Rendered:
        """Makes ``rendered`` the latest rendering."""
        if self._latest is not None:
            self._compressed += len(self._latest.gzipped)
        self._latest = rendered
        return rendered

    def build(
        self, snapshot: Snapshot, *, forms: Collection[Kind] | None = None, asking: Kind = None
    ) -> _Rendered:
        """A rendering of ``snapshot`` in ``forms``, not installed: a thread's work. By
        default the forms the latest rendering was asked in, and ``asking`` (what the
        scrape that started this rendering asks for; plain text by default)."""
        if forms is None:
            latest = self._latest
            forms = {asking} if latest is None else {asking, *latest.asked}
        refs = self.refs()
        rows: list[Row] = [
            (stats, refs.get(cid), series(cid, stats.name, stats.image))
            for cid, stats in snapshot.containers.items()
        ]
        keep_plain = None in forms
        text: list[bytes] = []  # kept only when the plain text is
        # each format asked for compressed as its families come: none is held whole
        deflaters = {fmt: Deflater(self.level) for fmt in Format if fmt in forms}
        heads: list[Head] = []
        at = om_at = 0  # byte offsets in the text and OpenMetrics bodies

        def family(name: str, type_: str, help_: str, body: str) -> None:
            nonlocal at, om_at
            head = header(name, type_, help_, Format.TEXT)
            om_head = header(name, type_, help_, Format.OPENMETRICS)
            heads.append((at, head, om_at, om_head))
            data = body.encode()
            if keep_plain:
                text.extend((head, data))
            for fmt, deflater in deflaters.items():
                deflater.add(head if fmt is Format.TEXT else om_head)
                deflater.add(data)
            at += len(head) + len(data)
            om_at += len(om_head) + len(data)

        for spec in self.specs(snapshot.mode):
            body = write_family(spec.name, spec.labels, spec.get, rows)
            if body:
                family(spec.name, spec.type, spec.help, body)
        for sspec in SNAPSHOT_TABLE:
            value = sspec.get(snapshot)
            if value is not None:
                family(sspec.name, sspec.type, sspec.help, f"{sspec.name} {go_float(value)}\n")
        gzipped = {fmt: deflater.finish() for fmt, deflater in deflaters.items()}
        self.renders += 1
        plain = b"".join(text) if keep_plain else None
        return _Rendered(snapshot, plain, heads, gzipped, self.level)
