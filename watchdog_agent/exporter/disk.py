"""Series from Docker's disk sample (/system/df, taken every --disk-interval seconds):
each container's writable layer (``DISK_CONTAINER_TABLE``) and the areas of ``docker
system df`` (``DISK_TABLE``). They change only with a new disk sample (or, for the
containers' series, when the inventory changes: a container removed since the sample has
none), so they are rendered once per sample and inventory version; before the first
sample (or without Docker) there are none. No I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence

from watchdog_agent.model import DiskArea, DiskContainer, DiskUsage

from .exposition import Family, Format, Series, family, series, write_families, write_family
from .gzipped import EMPTY, Deflated, deflate
from .table import (
    DISK_BYTES,
    DISK_CONTAINER_TABLE,
    DISK_RECLAIMABLE,
    DOCKER_OBJECTS,
    DOCKER_OBJECTS_ACTIVE,
)

Areas = Callable[[DiskUsage], Sequence[DiskArea]]


def primary_name(names: Sequence[str]) -> str | None:
    """The container's own name (legacy links add names like ``web/db``)."""
    own = [n for n in names if "/" not in n]
    return own[0] if own else (names[0] if names else None)


def area_families(areas: Sequence[DiskArea]) -> list[Family]:
    def per_type(values: Sequence[tuple[str, int]]) -> list[tuple[dict[str, str], float]]:
        return [({"type": t}, v) for t, v in values]

    return [
        Family(DISK_BYTES, per_type([(a.type, a.size) for a in areas])),
        Family(DISK_RECLAIMABLE, per_type([(a.type, a.reclaimable) for a in areas])),
        Family(DOCKER_OBJECTS, per_type([(a.type, a.total) for a in areas])),
        Family(DOCKER_OBJECTS_ACTIVE, per_type([(a.type, a.active) for a in areas])),
    ]


def render_disk(
    usage: DiskUsage,
    areas: Sequence[DiskArea],
    fmt: Format,
    known: Container[str] | None = None,
) -> bytes:
    """The disk families in ``fmt`` (no ``# EOF``): containers' first (only those in
    ``known``, when given), then the areas."""
    rows: list[tuple[DiskContainer, None, Series]] = [
        (c, None, series(c.id, primary_name(c.names), c.image))
        for c in usage.containers
        if known is None or c.id in known
    ]
    out: list[bytes] = []
    for spec in DISK_CONTAINER_TABLE:
        body = write_family(spec.name, spec.labels, spec.get, rows)
        if body:
            out.append(family(spec.name, spec.type, spec.help, body, fmt))
    out.append(write_families(area_families(areas), fmt))
    return b"".join(out)


class DiskMetrics:
    """Renders the latest disk sample once per sample, inventory version and format.

    ``known`` (with ``version``, which changes whenever it may have): the ids of the
    containers Docker still has; a container removed after the sample has no series,
    though the sample (taken every --disk-interval seconds) still names it."""

    def __init__(
        self,
        latest: Callable[[], DiskUsage | None],
        areas: Areas,
        known: Callable[[], Container[str]] | None = None,
        version: Callable[[], object] | None = None,
    ) -> None:
        self._latest = latest
        self._areas = areas
        self._known = known
        self._version = version
        self._key: tuple[DiskUsage, object] | None = None
        self._rendered: dict[Format, bytes] = {}
        self._gzipped: dict[Format, Deflated] = {}

    def gzipped(self, fmt: Format) -> Deflated:
        """``render(fmt)`` compressed, once per sample."""
        data = self.render(fmt)  # first: a new sample clears what was compressed
        if not data:
            return EMPTY
        out = self._gzipped.get(fmt)
        if out is None:
            out = self._gzipped[fmt] = deflate(data)
        return out

    def render(self, fmt: Format) -> bytes:
        usage = self._latest()
        if usage is None:
            return b""
        version = None if self._version is None else self._version()
        if self._key is None or self._key[0] is not usage or self._key[1] != version:
            self._key, self._rendered, self._gzipped = (usage, version), {}, {}
        out = self._rendered.get(fmt)
        if out is None:
            known = None if self._known is None else self._known()
            out = self._rendered[fmt] = render_disk(usage, self._areas(usage), fmt, known)
        return out
