"""The process tree of one container, host PID beside container PID, refreshed every two
seconds by a worker (the Fleet's ``top``; nothing is read on the UI loop)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Footer, Static

from watchdog_agent.model import ProcessInfo
from watchdog_agent.tui.view import Fleet, FleetError, FleetView

from .base import FleetScreen, label, row_of
from .proctable import count, process_table

REFRESH_SECONDS = 2.0


class TreeScreen(FleetScreen):
    """``t``: the process tree (PID, CPID, USER, CPU %, RSS, CMD)."""

    def __init__(self, fleet: Fleet, host_key: str, container_id: str) -> None:
        super().__init__(fleet, host_key)
        self.container_id = container_id
        self.title_line = Static(label(None, container_id), id="title", markup=False)
        self.body = Static("", id="tree", markup=False)
        self.roots: Sequence[ProcessInfo] | None = None
        self.gone = False

    def compose(self) -> ComposeResult:
        yield self.title_line
        with VerticalScroll():
            yield self.body
        yield from self.compose_status()
        yield Footer()

    def on_mount(self) -> None:
        self.show_status("reading the process tree...")
        self.refresh_tree()
        self.set_interval(REFRESH_SECONDS, self.refresh_tree)

    def refresh_tree(self) -> None:
        if not self.gone:
            self.run_worker(self._load(), group="top", exclusive=True)

    async def _load(self) -> None:
        try:
            roots = await self.fleet.top(self.host_key, self.container_id)
        except FleetError as e:
            self.show_status(f"process tree: {e}", error=True)
            return
        self.roots = roots
        self.body.update(process_table(roots))
        self.show_status(f"{count(roots)} processes; refreshed every {REFRESH_SECONDS:g} s")

    def fleet_changed(self, view: FleetView) -> None:
        row = row_of(view, self.host_key, self.container_id)
        if row is None:
            self.gone = True
            self.show_status("the container is gone (removed)", error=True)
            return
        self.title_line.update(Text(f"Processes of {label(row.name, row.id)}"))
