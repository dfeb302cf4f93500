"""A tiny Textual app for the screens' tests: it runs a Fleet the way dstats' app does
(``run`` in a worker, each publish handed to the top screen's ``fleet_changed``) and
pushes the screen under test over an empty base screen."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import RichLog, Static

from watchdog_agent.tui.screens.logview import LogView
from watchdog_agent.tui.view import Fleet, FleetView

SIZE = (110, 45)  # terminal size of the snapshots
S = TypeVar("S", bound=Screen[Any])


class ScreenApp(App[None]):
    def __init__(self, fleet: Fleet, make: Callable[[], Screen[None]]) -> None:
        super().__init__()
        self.fleet = fleet
        self.make = make
        self.view: FleetView | None = None

    def on_mount(self) -> None:
        self.push_screen(self.make())
        self.run_worker(self.fleet.run(self.publish), group="fleet")

    def publish(self, view: FleetView) -> None:
        self.view = view
        changed = getattr(self.screen, "fleet_changed", None)
        if changed is not None:
            changed(view)

    async def on_unmount(self) -> None:
        await self.fleet.close()


def top_screen(app: App[None], kind: type[S]) -> S:
    """The app's top screen, which must be a ``kind``."""
    screen = app.screen
    assert isinstance(screen, kind), screen
    return screen


async def settle(
    pilot: Pilot[None], done: Callable[[], bool], rounds: int = 200, delay: float | None = None
) -> None:
    """Pause until ``done()`` (bounded: ``rounds`` pauses of ``delay`` seconds, or of
    one message round), then fail if it never was."""
    for _ in range(rounds):
        await pilot.pause(delay)
        if done():
            return
    raise AssertionError("the screen never reached the expected state")


def until(done: Callable[[], bool]) -> Callable[[Pilot[None]], Awaitable[None]]:
    """A ``run_before`` for snap_compare: wait until ``done()``."""

    async def run_before(pilot: Pilot[None]) -> None:
        await settle(pilot, done)

    return run_before


def plain(content: object, width: int = 200) -> str:
    """What a Static's content (Text, Table, Group...) shows, as plain text."""
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(content)
    return console.export_text()


def shown(widget: Static | RichLog | LogView) -> str:
    """A Static's, a RichLog's or a LogView's text as it shows (no styles)."""
    if isinstance(widget, LogView):
        return "\n".join(widget.plain_lines())
    if isinstance(widget, RichLog):
        return "\n".join(strip.text for strip in widget.lines)
    return plain(widget.content)
