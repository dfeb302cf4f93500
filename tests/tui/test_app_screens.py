"""Enter, l, e, t, d push the other screens with the selected container (or its host),
as agreed with their modules (tui/screens/*.py); each test runs once that screen exists.
The fleet is tests/helpers/staticfleet.py's standard one (two hosts)."""

from __future__ import annotations

from typing import Any

import pytest
from helpers.staticfleet import BUSY, HOST_A, StaticFleet, clock

from watchdog_agent.tui.app import DstatsApp
from watchdog_agent.tui.mainscreen import MainScreen
from watchdog_agent.tui.options import ViewOptions

TEAM = "label=com.example.team=core"
# key, module, class, the arguments after the fleet (the busiest container is selected)
CASES = [
    ("enter", "container", "ContainerScreen", (HOST_A, BUSY, clock)),
    ("l", "logs", "LogsScreen", (HOST_A, BUSY)),
    ("t", "tree", "TreeScreen", (HOST_A, BUSY)),
    ("e", "events", "EventsScreen", (HOST_A, (TEAM,))),
    ("d", "disk", "DiskScreen", (HOST_A,)),
]
# with nothing selected, the host screens open on the first host
HOST_CASES = [("e", "events", "EventsScreen", (HOST_A, ())), ("d", "disk", "DiskScreen", (HOST_A,))]


async def pushed(
    key: str, module: str, name: str, filters: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> tuple[StaticFleet, list[tuple[Any, ...]]]:
    mod = pytest.importorskip(f"watchdog_agent.tui.screens.{module}")
    real = getattr(mod, name)
    seen: list[tuple[Any, ...]] = []

    class Recording(real):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any) -> None:
            seen.append(args)
            super().__init__(*args)

    monkeypatch.setattr(mod, name, Recording)
    fleet = StaticFleet()
    app = DstatsApp(fleet, ViewOptions(filters=filters), clock=clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        if "nothing-matches" in filters:
            assert app.main.model.selected is None
        else:
            assert app.main.model.selected is not None and app.main.model.selected.id == BUSY
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, real)
        await pilot.press("escape")
    return fleet, seen


@pytest.mark.parametrize(("key", "module", "name", "expected"), CASES)
async def test_key_pushes_its_screen(
    key: str, module: str, name: str, expected: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet, seen = await pushed(key, module, name, (TEAM,), monkeypatch)
    assert seen == [(fleet, *expected)]


@pytest.mark.parametrize(("key", "module", "name", "expected"), HOST_CASES)
async def test_host_screens_without_a_selection_use_the_first_host(
    key: str, module: str, name: str, expected: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet, seen = await pushed(key, module, name, ("nothing-matches",), monkeypatch)
    assert seen == [(fleet, *expected)]


async def test_container_keys_without_a_selection_stay_put() -> None:
    app = DstatsApp(StaticFleet(), ViewOptions(filters=("nothing-matches",)), clock=clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "l", "t")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
