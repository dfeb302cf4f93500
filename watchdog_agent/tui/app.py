"""``dstats``' Textual app: the main screen over a Fleet, fed from one worker.

The app does no I/O of its own: a worker awaits ``fleet.run(publish)``; each published
FleetView goes to the main screen (the table, unless paused) and to the screen on top
if it has a ``fleet_changed(view)`` method. Quitting closes the fleet.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import Worker, WorkerState

from .mainscreen import MainScreen
from .options import ViewOptions
from .view import Fleet, FleetView


class DstatsApp(App[None]):
    TITLE = "dstats"
    ENABLE_COMMAND_PALETTE = False
    CSS_PATH = str(Path(__file__).with_name("dstats.tcss"))
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "Quit")]

    def __init__(
        self, fleet: Fleet, options: ViewOptions, clock: Callable[[], float] = time.time
    ) -> None:
        super().__init__()
        self.fleet = fleet
        self.options = options
        self.clock = clock
        self.main = MainScreen(fleet, options, clock)
        self._fleet_closed = False

    def on_mount(self) -> None:
        self.push_screen(self.main)
        self.run_worker(self._feed(), name="fleet", group="fleet", exit_on_error=False)

    async def _feed(self) -> None:
        try:
            await self.fleet.run(self.publish)
        finally:  # the app is closing (the worker is cancelled) or the feed ended
            await self.close_fleet()

    def publish(self, view: FleetView) -> None:
        """What ``fleet.run`` calls (on this loop) with each new FleetView."""
        self.main.fleet_changed(view)
        top = self.screen
        if top is not self.main:
            hook = getattr(top, "fleet_changed", None)
            if callable(hook):
                hook(view)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.name == "fleet" and event.state is WorkerState.ERROR:
            error = event.worker.error
            self.notify(f"the data feed stopped: {error}", severity="error", timeout=30)

    async def close_fleet(self) -> None:
        if not self._fleet_closed:
            self._fleet_closed = True
            await self.fleet.close()

    async def action_quit(self) -> None:
        await self.close_fleet()
        self.exit()

    async def on_unmount(self) -> None:
        await self.close_fleet()
