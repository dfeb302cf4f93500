"""Series about every container Docker knows, stopped ones included, which the samples
cannot give: state, last exit code, restart count, OOM kill (``STATE_TABLE``). They change
only when the inventory does (an event, a resync), so they are rendered once per change."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from watchdog_agent.model import ContainerRef

from .exposition import Format, Series, family, series, write_family
from .gzipped import Deflated, deflate
from .table import STATE_TABLE

Refs = Callable[[], Mapping[str, ContainerRef]]


def render_states(refs: Mapping[str, ContainerRef], fmt: Format) -> bytes:
    """The families of ``STATE_TABLE`` that have a sample, in ``fmt`` (no ``# EOF``)."""
    rows: list[tuple[ContainerRef, None, Series]] = [
        (ref, None, series(ref.id, ref.name, ref.image)) for ref in refs.values()
    ]
    out: list[bytes] = []
    for spec in STATE_TABLE:
        body = write_family(spec.name, spec.labels, spec.get, rows)
        if body:
            out.append(family(spec.name, spec.type, spec.help, body, fmt))
    return b"".join(out)


class InventoryMetrics:
    """Renders the inventory's series once per ``version`` (which changes with it)."""

    def __init__(self, refs: Refs, version: Callable[[], object]) -> None:
        self._refs = refs
        self._version = version
        self._key: object = object()
        self._rendered: dict[Format, bytes] = {}
        self._gzipped: dict[Format, Deflated] = {}

    def _current(self) -> None:
        key = self._version()
        if key != self._key:
            self._key, self._rendered, self._gzipped = key, {}, {}

    def gzipped(self, fmt: Format) -> Deflated:
        """``render(fmt)`` compressed, once per version."""
        self._current()
        out = self._gzipped.get(fmt)
        if out is None:
            out = self._gzipped[fmt] = deflate(self.render(fmt))
        return out

    def render(self, fmt: Format) -> bytes:
        self._current()
        out = self._rendered.get(fmt)
        if out is None:
            out = self._rendered[fmt] = render_states(self._refs(), fmt)
        return out
