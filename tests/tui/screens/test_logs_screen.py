"""LogsScreen: the last 500 lines then followed, f toggles following, / searches and n
moves between matches, stderr marked, escapes and Rich markup shown as text."""

from __future__ import annotations

import asyncio

from helpers.screenapp import SIZE, ScreenApp, settle, shown, top_screen
from helpers.staticfleet import BUSY, HOST_A, StaticFleet
from textual.widgets import Input

from watchdog_agent.model import LogLine
from watchdog_agent.tui.screens.logs import LogsScreen
from watchdog_agent.tui.screens.logview import STDERR_BAR

BUFFER = 700  # a small buffer, so the test writes fewer lines


def _app(fleet: StaticFleet) -> ScreenApp:
    return ScreenApp(fleet, lambda: LogsScreen(fleet, HOST_A, BUSY))


async def test_tail_then_follow_escaped() -> None:
    fleet = StaticFleet()
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, LogsScreen)
        await settle(pilot, lambda: len(screen.lines) == 500)
        assert ("logs", HOST_A, BUSY, 500, True) in fleet.calls
        text = shown(screen.log_view)
        assert text.splitlines()[0] == "  line 020 of b5b5"
        # an escape sequence is shown as text; Rich markup in a line is not obeyed
        assert "colour \\x1b[31mRED[/] [bold]not markup[/bold]" in text
        assert "\x1b" not in text
        assert f"{STDERR_BAR}error: disk full" in text
        assert "\n  line 519 of b5b5" in text
        for _ in range(50):  # until the stream follows
            if fleet._log_queues:
                break
            await pilot.pause()
        fleet.push_log(BUSY, LogLine("stderr", None, "late \x1b]0;x\x07 line"))
        await settle(pilot, lambda: len(screen.lines) == 501)
        assert shown(screen.log_view).splitlines()[-1] == f"{STDERR_BAR}late \\x1b]0;x\\x07 line"
        view = screen.log_view  # followed: at the bottom (after the next refresh, on a busy host)
        await settle(pilot, lambda: view.scroll_y == view.max_scroll_y)


async def test_follow_toggle() -> None:
    fleet = StaticFleet()
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, LogsScreen)
        await settle(pilot, lambda: len(screen.lines) == 500)
        await pilot.press("f")
        assert not screen.follow and "paused" in shown(screen.status)
        assert not screen.log_view.follow
        await pilot.press("f")
        assert screen.follow and "following" in shown(screen.status)


async def test_search_and_next() -> None:
    fleet = StaticFleet()
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, LogsScreen)
        await settle(pilot, lambda: len(screen.lines) == 500)
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"line 1", "0", "0", "enter")  # "line 100"
        assert screen.term == "line 100"
        assert len(screen.matches) == 1 and screen.current == 0
        assert "search 'line 100': 1/1 matches" in shown(screen.status)
        assert not screen.follow  # searching stops following
        await pilot.press("slash")
        await pilot.press("ctrl+a", "ctrl+k", *"OF B5B5", "enter")  # case-insensitive
        assert len(screen.matches) == 498  # 500 lines, two without the id
        assert screen.current == 497  # the newest
        await pilot.press("n")
        assert screen.current == 0  # wraps to the oldest
        first = screen.matches[0]
        top = screen.log_view.scroll_y
        assert top <= first < top + screen.log_view.scrollable_content_region.height
        await pilot.press("N")
        assert screen.current == 497
        await pilot.press("slash", "escape")  # Escape closes the search, stays here
        assert isinstance(app.screen, LogsScreen) and not screen.search.display


async def test_bounded_buffer() -> None:
    fleet = StaticFleet()
    old = [LogLine("stdout", None, f"x{i}" if i != 350 else "late first") for i in range(800)]
    fleet.logs_by_id[BUSY] = old
    app = ScreenApp(fleet, lambda: LogsScreen(fleet, HOST_A, BUSY, buffer=BUFFER))
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, LogsScreen)
        screen_lines = screen.lines
        # the fleet gives the last 500 (tail); push more than the buffer holds
        await settle(pilot, lambda: len(screen_lines) == 500)
        for _ in range(50):
            if fleet._log_queues:
                break
            await pilot.pause()
        screen.find("late")  # matches keep pointing at their lines as old ones go
        assert screen.matches == [50] and screen.current == 0  # the tail is x300..x799
        for i in range(BUFFER):
            fleet.push_log(BUSY, LogLine("stdout", None, f"y{i}" if i != 600 else "late second"))
        await settle(pilot, lambda: screen_lines[-1].line == f"y{BUFFER - 1}", 400)
        assert len(screen_lines) == BUFFER
        assert [screen_lines[i].line for i in screen.matches] == ["late second"]
        assert screen.current is None  # its match went with the oldest lines
        assert len(screen.log_view.lines) <= BUFFER


async def test_fleet_error_and_escape() -> None:
    fleet = StaticFleet()
    fleet.fail("logs", "no such container: b5b5b5b5b5b5")
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, LogsScreen)
        await settle(pilot, lambda: "no such container" in shown(screen.status))
        assert shown(screen.status).startswith("logs: no such container")
        await pilot.press("escape")
        await asyncio.sleep(0)
        await pilot.pause()
        assert not isinstance(app.screen, LogsScreen)
