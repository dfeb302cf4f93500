"""TreeScreen: host PID beside container PID, commands escaped, refreshed by a worker,
a failed call shown as a message, Escape back."""

from __future__ import annotations

from helpers.screenapp import SIZE, ScreenApp, settle, shown
from helpers.staticfleet import BUSY, DEAD, HOST_A, StaticFleet
from textual.screen import Screen

from watchdog_agent.tui.screens.tree import TreeScreen


def _app(fleet: StaticFleet, cid: str = BUSY) -> ScreenApp:
    return ScreenApp(fleet, lambda: TreeScreen(fleet, HOST_A, cid))


async def test_shows_both_pids_and_escapes_the_command() -> None:
    fleet = StaticFleet()
    async with _app(fleet).run_test(size=SIZE) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, TreeScreen)
        await settle(pilot, lambda: screen.roots is not None)
        text = shown(screen.body)
        lines = text.splitlines()
        assert lines[0].split() == ["PID", "CPID", "USER", "CPU", "%", "RSS", "CMD"]
        assert lines[1].split()[:2] == ["4242", "1"]
        yes = next(line for line in lines if line.rstrip().endswith("yes"))
        assert yes.split()[:5] == ["4250", "7", "root", "49.5", "512KiB"]
        assert "sleep 3600 \\x1b[31mred" in text and "\x1b" not in text
        assert "3 processes" in shown(screen.status)
        assert "Processes of busy" in shown(screen.title_line)


async def test_refreshes_on_its_own() -> None:
    fleet = StaticFleet()
    async with _app(fleet).run_test(size=SIZE) as pilot:
        await settle(pilot, lambda: sum(c[0] == "top" for c in fleet.calls) >= 2, 150, 0.1)


async def test_fleet_error_is_a_message_and_escape_goes_back() -> None:
    fleet = StaticFleet()
    fleet.fail("top", "agent at http://127.0.0.1:9338 answered 500")
    async with _app(fleet).run_test(size=SIZE) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, TreeScreen)
        await settle(pilot, lambda: "500" in shown(screen.status))
        assert "process tree: agent at" in shown(screen.status)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, TreeScreen)
        assert isinstance(pilot.app.screen, Screen)


async def test_a_stopped_container_says_so() -> None:
    fleet = StaticFleet()
    async with _app(fleet, DEAD).run_test(size=SIZE) as pilot:
        screen = pilot.app.screen
        assert isinstance(screen, TreeScreen)
        await settle(pilot, lambda: "not running" in shown(screen.status))
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, TreeScreen)
