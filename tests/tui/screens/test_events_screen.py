"""EventsScreen: the last hour then live, newest at the bottom, f edits docker's filter
grammar (a bad filter refused with a clear message), attributes escaped."""

from __future__ import annotations

from helpers.screenapp import SIZE, ScreenApp, settle, shown, top_screen
from helpers.staticfleet import BUSY, CLOCK, DEAD, EVIL, HOST_A, StaticFleet
from textual.widgets import Input

from watchdog_agent.model import Event
from watchdog_agent.tui.screens.events import EventsScreen, split_filters


def _app(fleet: StaticFleet, filters: tuple[str, ...] = ()) -> ScreenApp:
    return ScreenApp(fleet, lambda: EventsScreen(fleet, HOST_A, filters))


async def test_last_hour_then_live_newest_at_the_bottom() -> None:
    fleet = StaticFleet()
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, EventsScreen)
        await settle(pilot, lambda: screen.count == 9)
        assert ("events", HOST_A, (), "1h") in fleet.calls
        lines = shown(screen.log_view).splitlines()
        assert lines[0].startswith("2027-01-15 07:10:00  container create  dead")
        assert "die  dead  (exitCode=137, image=watchdog-test/busybox:latest)" in lines[7]
        assert "network   connect  none" in lines[8]
        at = int(CLOCK) + 1
        stop = Event("container", "stop", BUSY, {"name": "busy"}, "local", at, at * 10**9)
        fleet.push_event(stop)
        await settle(pilot, lambda: screen.count == 10)
        assert shown(screen.log_view).splitlines()[-1].endswith("container stop  busy")
        assert "10 events" in shown(screen.status)


async def test_attributes_are_escaped() -> None:
    fleet = StaticFleet()
    app = _app(fleet, (f"container={EVIL}",))
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, EventsScreen)
        await settle(pilot, lambda: screen.count == 1)
        text = shown(screen.log_view)
        assert "evil\\x1b[31mred\\x1b]0;pwned\\x07" in text
        assert "note=\\x1b]0;title\\x07" in text
        assert "\x1b" not in text and "\x07" not in text


async def test_filter_key_and_a_bad_filter() -> None:
    fleet = StaticFleet()
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, EventsScreen)
        await settle(pilot, lambda: screen.count == 9)
        await pilot.press("f")
        assert isinstance(app.focused, Input) and screen.editor.display
        await pilot.press(*"colour=red", "enter")
        status = shown(screen.status)
        assert "unknown filter key 'colour'" in status and "not changed" in status
        assert screen.filters == () and screen.count == 9  # the old stream goes on
        assert screen.editor.display  # still open, to fix it
        await pilot.press("ctrl+a", "ctrl+k", *f"container={DEAD} event=die", "enter")
        await settle(pilot, lambda: screen.count == 1)
        assert tuple(screen.filters) == (f"container={DEAD}", "event=die")
        assert ("events", HOST_A, screen.filters, "1h") in fleet.calls
        assert "container die  dead" in shown(screen.log_view)
        assert f"filters: container={DEAD} event=die" in shown(screen.title_line)
        await pilot.press("f", "escape")  # Escape closes the editor first
        assert isinstance(app.screen, EventsScreen) and not screen.editor.display
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, EventsScreen)


def test_split_filters() -> None:
    assert split_filters("type=container, event=die  label='a b'") == (
        "type=container",
        "event=die",
        "label=a b",
    )


async def test_fleet_error_is_a_message() -> None:
    fleet = StaticFleet()
    fleet.fail("events", "agent at http://127.0.0.1:9338 is retrying: connection refused")
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, EventsScreen)
        await settle(pilot, lambda: "connection refused" in shown(screen.status))
        assert shown(screen.status).startswith("events: agent at")
