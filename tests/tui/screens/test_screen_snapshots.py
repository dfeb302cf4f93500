"""SVG snapshots of the container view, the logs, the events, the process tree and disk
use, over the StaticFleet's fixed data and fixed clock (pytest-textual-snapshot: after a
deliberate change run with ``--snapshot-update``, then look at the pictures)."""

from __future__ import annotations

from collections.abc import Callable

from helpers.screenapp import SIZE, ScreenApp, settle, shown
from helpers.staticfleet import BUSY, DEAD, HOST_A, StaticFleet, clock
from textual.pilot import Pilot
from textual.screen import Screen

from watchdog_agent.tui.screens.container import ContainerScreen
from watchdog_agent.tui.screens.disk import DiskScreen
from watchdog_agent.tui.screens.events import EventsScreen
from watchdog_agent.tui.screens.logs import LogsScreen
from watchdog_agent.tui.screens.tree import TreeScreen

SnapCompare = Callable[..., bool]


def _app(make: Callable[[StaticFleet], Screen[None]]) -> ScreenApp:
    fleet = StaticFleet()
    return ScreenApp(fleet, lambda: make(fleet))


def _container_ready(dead: bool) -> Callable[[Pilot[None]], object]:
    async def run_before(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, ContainerScreen)
        if dead:
            await settle(pilot, lambda: screen.postmortem.display and screen.doc is not None)
        else:
            await settle(
                pilot,
                lambda: (
                    len(screen.series) > 0
                    and "4242" in shown(screen.procs)
                    and len(screen.recent) == 2
                ),
            )
        await pilot.pause()

    return run_before


def test_container_view(snap_compare: SnapCompare) -> None:
    app = _app(lambda f: ContainerScreen(f, HOST_A, BUSY, clock))
    assert snap_compare(app, terminal_size=(110, 60), run_before=_container_ready(False))


def test_container_view_of_a_dead_container(snap_compare: SnapCompare) -> None:
    app = _app(lambda f: ContainerScreen(f, HOST_A, DEAD, clock))

    async def run_before(pilot: Pilot[None]) -> None:
        await _container_ready(True)(pilot)  # type: ignore[misc]
        screen = pilot.app.screen
        assert isinstance(screen, ContainerScreen)
        screen.query_one("VerticalScroll").scroll_end(animate=False)  # the post-mortem
        await pilot.pause()

    assert snap_compare(app, terminal_size=(110, 60), run_before=run_before)


def test_logs(snap_compare: SnapCompare) -> None:
    app = _app(lambda f: LogsScreen(f, HOST_A, BUSY))

    async def run_before(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, LogsScreen)
        await settle(pilot, lambda: len(screen.lines) == 500)
        await pilot.press("slash", *"of b5b5", "enter", "n", "n")  # the second match
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_logs_following(snap_compare: SnapCompare) -> None:
    app = _app(lambda f: LogsScreen(f, HOST_A, BUSY))

    async def run_before(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, LogsScreen)
        await settle(pilot, lambda: len(screen.lines) == 500)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_events(snap_compare: SnapCompare) -> None:
    app = _app(lambda f: EventsScreen(f, HOST_A, ()))

    async def run_before(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, EventsScreen)
        await settle(pilot, lambda: screen.count == 9)
        await pilot.press("f", *"colour=red", "enter")  # a bad filter: its message
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_tree(snap_compare: SnapCompare) -> None:
    app = _app(lambda f: TreeScreen(f, HOST_A, BUSY))

    async def run_before(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, TreeScreen)
        await settle(pilot, lambda: screen.roots is not None)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)


def test_disk(snap_compare: SnapCompare) -> None:
    app = _app(lambda f: DiskScreen(f, HOST_A))

    async def run_before(pilot: Pilot[None]) -> None:
        screen = pilot.app.screen
        assert isinstance(screen, DiskScreen)
        await settle(pilot, lambda: screen.document is not None)

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
