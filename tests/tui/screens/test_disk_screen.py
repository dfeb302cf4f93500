"""DiskScreen: the four areas as docker system df counts them and the largest rows of
each, r reads again, a FleetError is a message."""

from __future__ import annotations

from helpers.screenapp import SIZE, ScreenApp, settle, shown, top_screen
from helpers.staticfleet import HOST_A, StaticFleet

from watchdog_agent.tui.screens.disk import DiskScreen


def _app(fleet: StaticFleet) -> ScreenApp:
    return ScreenApp(fleet, lambda: DiskScreen(fleet, HOST_A))


async def test_areas_and_largest_rows() -> None:
    fleet = StaticFleet()
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, DiskScreen)
        await settle(pilot, lambda: screen.document is not None)
        lines = [line.split() for line in shown(screen.body).splitlines()]
        # tests/helpers/diskdocs.py's numbers, as docker system df counts them
        assert ["Images", "3", "2", "10kB", "6kB", "(60%)"] in lines
        assert ["Containers", "5", "3", "1.05kB", "900B", "(85%)"] in lines
        assert ["Local", "Volumes", "3", "1", "5kB", "1kB", "(20%)"] in lines
        assert ["Build", "Cache", "3", "2", "1kB", "300B"] in lines
        text = shown(screen.body)
        assert "Containers: the 5 largest" in text
        assert text.index("gone") < text.index("up")  # 900 B before 100 B
        assert "sampled at 2027-01-15T08:00:00.000000Z" in shown(screen.status)
        await pilot.press("r")
        await settle(pilot, lambda: sum(c[0] == "disk" for c in fleet.calls) == 2)


async def test_fleet_error_is_a_message() -> None:
    fleet = StaticFleet()
    fleet.fail("disk", "the agent has no Docker connection")
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, DiskScreen)
        await settle(pilot, lambda: "no Docker" in shown(screen.status))
        assert shown(screen.status) == "disk use: the agent has no Docker connection\n"
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, DiskScreen)
