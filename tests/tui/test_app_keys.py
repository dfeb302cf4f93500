"""The main screen under Pilot: every key's effect, clicks, updates in place, pause,
a small terminal and NO_COLOR (tui/app.py, mainscreen.py, table.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from helpers.staticfleet import StaticFleet
from textual.pilot import Pilot
from textual.screen import Screen
from tuifakes import NOW, fleet_of, host, row, stopped

from watchdog_agent.tui.app import DstatsApp
from watchdog_agent.tui.mainscreen import FilterInput, MainScreen
from watchdog_agent.tui.options import ViewOptions
from watchdog_agent.tui.screens.help import HelpScreen
from watchdog_agent.tui.screens.sortpick import SortPicker
from watchdog_agent.tui.view import FleetError, FleetView, LinkState

SIZE = (200, 40)
ROWS = [
    row("a", "alpha", cpu_percent=10.0, memory_usage_bytes=300 * 2**20),
    row("b", "bravo", cpu_percent=80.0, cpu_limit=1.0, memory_usage_bytes=100 * 2**20,
        labels={"tier": "db"}),
    row("c", "charlie", cpu_percent=None, memory_usage_bytes=200 * 2**20),
    stopped("d", "delta", 137),
]  # fmt: skip
FIRST = fleet_of(host(ROWS))


def make(view: FleetView = FIRST, **options: Any) -> tuple[DstatsApp, StaticFleet]:
    fleet = StaticFleet(view)
    return DstatsApp(fleet, ViewOptions(**options), clock=lambda: NOW), fleet


def names(app: DstatsApp) -> list[str | None]:
    return [r.name for r in app.main.model.visible]


def selected(app: DstatsApp) -> str | None:
    r = app.main.model.selected
    return None if r is None else r.name


async def ready(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.pause()


async def test_first_view_is_shown_sorted_by_cpu_gaps_last() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert isinstance(app.screen, MainScreen)
        assert names(app) == ["bravo", "alpha", "charlie"]  # delta is stopped: hidden
        table = app.main.table
        assert "alpha" in table.render_line(2).text and "▼" in table.render_line(0).text
        status = str(app.main.query_one("#status").render())
        assert "3 of 4 containers" in status and "sort CPU % ▼" in status


async def test_s_picks_the_sort_column_from_a_list() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("s")
        assert isinstance(app.screen, SortPicker)
        await pilot.press("home", "enter")  # NAME
        assert isinstance(app.screen, MainScreen)
        assert app.main.model.sort_column.key == "name"
        assert names(app) == ["alpha", "bravo", "charlie"]
        await pilot.press("s", "escape")  # cancelled: unchanged
        assert isinstance(app.screen, MainScreen) and app.main.model.sort_column.key == "name"


async def test_arrows_move_the_sort_column() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("right")  # CPU % -> MEM USAGE
        assert app.main.model.sort_column.key == "mem"
        assert names(app) == ["alpha", "charlie", "bravo"]
        await pilot.press("left", "left")  # -> STATE
        assert app.main.model.sort_column.key == "state"
        assert "sort STATE" in str(app.main.query_one("#status").render())


async def test_r_reverses() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("r")
        assert names(app) == ["alpha", "bravo", "charlie"]  # the gap stays last
        assert "▲" in app.main.table.render_line(0).text


async def test_a_click_on_a_title_sorts_and_again_reverses() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert await pilot.click("#table", offset=(3, 0))  # the NAME title
        assert app.main.model.sort_column.key == "name"
        assert names(app) == ["alpha", "bravo", "charlie"]
        assert await pilot.click("#table", offset=(3, 0))
        assert names(app) == ["charlie", "bravo", "alpha"]
        assert await pilot.click("#table", offset=(3, 2))  # a row: the cursor goes there
        assert selected(app) == "bravo"


@pytest.mark.parametrize("key", ["f", "slash"])
async def test_filter_applies_on_enter(key: str) -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press(key)
        box = app.main.query_one("#filter", FilterInput)
        assert box.display and box.has_focus
        await pilot.press(*"label=tier=db", "enter")
        assert names(app) == ["bravo"]
        assert not box.display and app.main.table.has_focus
        assert "filter: label=tier=db" in str(app.main.query_one("#status").render())
        await pilot.press(key)
        assert box.value == "label=tier=db"
        box.value = ""
        await pilot.press("enter")
        assert len(names(app)) == 3


async def test_filter_escape_cancels_and_a_bad_filter_keeps_the_input_open() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f", *"alp", "escape")
        box = app.main.query_one("#filter", FilterInput)
        assert not box.display and len(names(app)) == 3
        await pilot.press("f", *"status=sleepy", "enter")
        assert box.display and box.has_class("-invalid")
        assert len(names(app)) == 3


async def test_a_shows_stopped_containers_with_exit_codes() -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("a")
        assert "delta" in names(app)
        line = next(
            app.main.table.render_line(i + 1).text
            for i, r in enumerate(app.main.model.visible)
            if r.name == "delta"
        )
        assert "exited (137)" in line
        await pilot.press("a")
        assert "delta" not in names(app)


async def test_cursor_keys() -> None:
    many = fleet_of(host([row(f"{i:02d}", f"c{i:02d}", cpu_percent=float(100 - i))
                          for i in range(60)]))  # fmt: skip
    app, _ = make(many)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert selected(app) == "c00"
        await pilot.press("down", "down")
        assert selected(app) == "c02"
        await pilot.press("up")
        assert selected(app) == "c01"
        await pilot.press("pagedown")
        page = app.main.model.cursor - 1
        assert page > 10
        await pilot.press("pageup")
        assert selected(app) == "c01"
        await pilot.press("end")
        assert selected(app) == "c59"
        table = app.main.table
        assert round(table.scroll_y) > 0  # scrolled to keep the cursor in sight
        assert "c59" in table.render_line(table.scrollable_content_region.height - 1).text
        await pilot.press("home")
        assert selected(app) == "c00" and round(table.scroll_y) == 0


async def test_updates_keep_the_cursor_on_the_same_container() -> None:
    app, fleet = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("down")
        assert selected(app) == "alpha"
        busier = [replace(r, cpu_percent=99.0) if r.name == "alpha" else r for r in ROWS]
        fleet.push(fleet_of(host(busier)))
        await pilot.pause()
        assert names(app)[0] == "alpha"
        assert app.main.model.cursor == 0 and selected(app) == "alpha"
        assert "99.0%" in app.main.table.render_line(1).text


async def test_p_pauses_and_resumes_refresh() -> None:
    app, fleet = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("p")
        assert "PAUSED" in str(app.main.query_one("#status").render())
        fleet.push(fleet_of(host([row("z", "zulu", cpu_percent=1.0)])))
        await pilot.pause()
        assert names(app) == ["bravo", "alpha", "charlie"]  # held back
        await pilot.press("p")
        assert names(app) == ["zulu"]
        assert "PAUSED" not in str(app.main.query_one("#status").render())


@pytest.mark.parametrize("key", ["h", "question_mark"])
async def test_help_lists_every_key(key: str) -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press(key)
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help").render())
        for shown in ("s ", "r ", "f or /", "a ", "Enter", "l ", "e ", "t ", "d ", "p ", "q "):
            assert f"\n{shown}" in text, shown
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_q_quits_and_closes_the_fleet() -> None:
    app, fleet = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert app.return_code == 0 and not app.is_running
    assert fleet.closed


async def test_a_small_terminal_gets_a_message_not_the_table() -> None:
    app, _ = make()
    async with app.run_test(size=(60, 10)) as pilot:
        await ready(pilot)
        message = app.main.query_one("#too-small")
        assert message.display and not app.main.table.display
        assert "at least 80x12" in str(message.render()) and "60x10" in str(message.render())
        await pilot.resize_terminal(120, 30)
        await ready(pilot)
        assert app.main.table.display and not message.display


async def test_fleet_adds_a_host_column_and_header_lines() -> None:
    down = host([], key="http://h2:9338", name="h2:9338", link=LinkState.RETRYING,
                detail="connection refused", host=None, daemon=None, agent=None)  # fmt: skip
    app, _ = make(fleet_of(host(ROWS[:2]), down))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.main.table.render_line(0).text.split()[0] == "HOST"
        header = str(app.main.query_one("#header").render())
        assert "retrying 1m00s: connection refused" in header
        assert "● h1" in header and "connected" in header


SVG_DEFAULT_FOREGROUND = "#c5c8c6"  # Rich's export theme: text with no colour of its own


def _colours(svg: str) -> set[str]:
    """The colours of the text and cells (not the window's frame buttons)."""
    rules = re.findall(r"fill: (#[0-9a-f]{6})", svg)
    rects = re.findall(r'<rect fill="(#[0-9a-f]{6})"', svg)
    return set(rules + rects) - {SVG_DEFAULT_FOREGROUND}


def _grey(colour: str) -> bool:
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return r == g == b


async def test_no_color_turns_the_screen_monochrome(monkeypatch: pytest.MonkeyPatch) -> None:
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        coloured = _colours(app.export_screenshot())
    assert any(not _grey(c) for c in coloured)
    monkeypatch.setenv("NO_COLOR", "1")
    app, _ = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.no_color
        plain = _colours(app.export_screenshot())
    assert plain and all(_grey(c) for c in plain), plain


async def test_help_closes_with_q_without_quitting() -> None:
    app, fleet = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("h", "q")
        assert isinstance(app.screen, MainScreen) and app.is_running
        assert not fleet.closed


async def test_any_exit_closes_the_fleet() -> None:
    app, fleet = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        app.exit()
        await pilot.pause()
    assert fleet.closed


class Watcher(Screen[None]):
    """A screen that follows the fleet, as the container view does."""

    def __init__(self) -> None:
        super().__init__()
        self.views: list[FleetView] = []

    def fleet_changed(self, view: FleetView) -> None:
        self.views.append(view)


async def test_the_top_screen_gets_each_view_and_the_table_keeps_up_beneath() -> None:
    app, fleet = make()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        watcher = Watcher()
        await app.push_screen(watcher)
        newer = fleet_of(host([row("z", "zulu")]))
        fleet.push(newer)
        await pilot.pause()
        assert watcher.views == [newer]
        assert names(app) == ["zulu"]


class BrokenFleet(StaticFleet):
    async def run(self, publish: Callable[[FleetView], None]) -> None:
        raise FleetError("the data side gave up")


async def test_a_feed_that_fails_is_reported_not_a_crash() -> None:
    app = DstatsApp(BrokenFleet(FIRST), ViewOptions(), clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert app.is_running and isinstance(app.screen, MainScreen)
        assert any("the data side gave up" in str(n.message) for n in app._notifications)
