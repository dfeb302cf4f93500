"""Disk use by area, as ``docker system df`` counts it (images, containers, volumes,
build cache: total, active, size, reclaimable), and the largest rows of each area, from
the agent's ``/api/v1/disk`` document (read defensively: a missing value is "-")."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from watchdog_agent.commands.dftext import human_size
from watchdog_agent.termsafe import escape
from watchdog_agent.tui.view import Fleet, FleetError

from .base import MISSING, FleetScreen

TOP = 5  # rows shown of each area
AREA_NAMES = {
    "images": "Images",
    "containers": "Containers",
    "volumes": "Local Volumes",
    "build_cache": "Build Cache",
}


def _size(value: Any) -> str:
    return human_size(value) if isinstance(value, int | float) else MISSING


def _text(value: Any) -> Text:
    return Text(MISSING if value is None else escape(str(value)))


def _table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Text]]) -> Group:
    table = Table(box=None, pad_edge=False)
    for h in headers:
        right = h in ("TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE", "LINKS", "CONTAINERS")
        table.add_column(h, justify="right" if right else "left", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    if not rows:
        table.add_row(Text("none"), *([Text("")] * (len(headers) - 1)))
    return Group(Text(title, style="bold"), table)


def areas_table(doc: Mapping[str, Any]) -> Group:
    rows = []
    for a in doc.get("areas") or []:
        pct = a.get("reclaimable_percent")
        reclaim = _size(a.get("reclaimable_bytes")) + (f" ({pct}%)" if pct is not None else "")
        name = AREA_NAMES.get(str(a.get("type")), str(a.get("type")))
        rows.append([_text(name), _text(a.get("total")), _text(a.get("active")),
                     Text(_size(a.get("size_bytes"))), Text(reclaim)])  # fmt: skip
    return _table("Disk use by area", ("TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"), rows)


def _largest(items: Any, key: str) -> list[Mapping[str, Any]]:
    if not isinstance(items, list):
        return []
    sized = [i for i in items if isinstance(i, Mapping)]
    return sorted(sized, key=lambda i: -(i.get(key) or 0))[:TOP]


def _image(i: Mapping[str, Any]) -> list[Text]:
    ref = f"{i.get('repository', MISSING)}:{i.get('tag', MISSING)}"
    return [_text(ref), _text(str(i.get("id", ""))[7:19]), Text(_size(i.get("size_bytes"))),
            _text(i.get("containers"))]  # fmt: skip


def _container(c: Mapping[str, Any]) -> list[Text]:
    names = c.get("names") or [str(c.get("id", ""))[:12]]
    return [_text(names[0]), _text(c.get("image")), Text(_size(c.get("size_bytes"))),
            _text(c.get("status"))]  # fmt: skip


def _volume(v: Mapping[str, Any]) -> list[Text]:
    return [_text(v.get("name")), _text(v.get("links")), Text(_size(v.get("size_bytes")))]


def _cache(b: Mapping[str, Any]) -> list[Text]:
    in_use = "yes" if b.get("in_use") else "no"
    return [_text(str(b.get("id", ""))[:12]), _text(b.get("type")),
            Text(_size(b.get("size_bytes"))), Text(in_use)]  # fmt: skip


Section = tuple[str, str, tuple[str, ...], Callable[[Mapping[str, Any]], list[Text]]]
SECTIONS: tuple[Section, ...] = (
    ("images", "Images", ("IMAGE", "ID", "SIZE", "CONTAINERS"), _image),
    ("containers", "Containers", ("NAME", "IMAGE", "SIZE", "STATUS"), _container),
    ("volumes", "Local Volumes", ("NAME", "LINKS", "SIZE"), _volume),
    ("build_cache", "Build Cache", ("ID", "TYPE", "SIZE", "IN USE"), _cache),
)


def disk_report(doc: Mapping[str, Any]) -> RenderableType:
    parts: list[RenderableType] = [areas_table(doc)]
    for key, title, headers, row in SECTIONS:
        if key not in doc:
            continue
        rows = [row(item) for item in _largest(doc[key], "size_bytes")]
        parts += [Text(""), _table(f"{title}: the {TOP} largest", headers, rows)]
    return Group(*parts)


class DiskScreen(FleetScreen):
    """``d``: the host's disk use by area; ``r`` reads it again."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "reload", "Reload")]

    def __init__(self, fleet: Fleet, host_key: str) -> None:
        super().__init__(fleet, host_key)
        self.body = Static("", id="disk", markup=False)
        self.document: Mapping[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield self.body
        yield from self.compose_status()
        yield Footer()

    def on_mount(self) -> None:
        self.action_reload()

    def action_reload(self) -> None:
        self.show_status("asking Docker for its disk use (this can take a while)...")
        self.run_worker(self._load(), group="disk", exclusive=True)

    async def _load(self) -> None:
        try:
            doc = await self.fleet.disk(self.host_key)
        except FleetError as e:
            self.show_status(f"disk use: {e}", error=True)
            return
        self.document = doc
        self.body.update(disk_report(doc))
        stamp = doc.get("sampled_at") or MISSING
        self.show_status(f"sampled at {stamp} (r: read again)")
