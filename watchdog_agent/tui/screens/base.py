"""What every dstats screen shares: the Fleet it reads, going back, a status line that
says what failed (a FleetError's text, never a traceback), and ``fleet_changed``, which
the app calls on the top screen after each publish."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from watchdog_agent.termsafe import escape
from watchdog_agent.tui.view import Fleet, FleetView, HostView, Row

MISSING = "-"


class FleetScreen(Screen[None]):
    """A screen over one host of the fleet (``host_key`` is a ``HostView.key``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("q", "back", "Back", show=False),
    ]

    def __init__(self, fleet: Fleet, host_key: str) -> None:
        super().__init__()
        self.fleet = fleet
        self.host_key = host_key
        self.status = Static("", id="status", markup=False)

    def compose_status(self) -> ComposeResult:
        yield self.status

    def action_back(self) -> None:
        self.dismiss()

    def fleet_changed(self, view: FleetView) -> None:
        """Called by the app after each publish (the default ignores it)."""

    def show_status(self, message: str, *, error: bool = False) -> None:
        """``message`` may hold text from the agent or a container: it is escaped."""
        self.status.update(Text(escape(message), style="bold red" if error else ""))


def host_of(view: FleetView, key: str) -> HostView | None:
    for host in view.hosts:
        if host.key == key:
            return host
    return None


def row_of(view: FleetView, key: str, cid: str) -> Row | None:
    host = host_of(view, key)
    return None if host is None else host.rows.get(cid)


def label(name: str | None, cid: str) -> str:
    """A container as a title shows it, escaped: ``name (id12)``."""
    return f"{escape(name) if name else MISSING} ({cid[:12]})"
