"""Enter, l, e, t, d push the other screens with the selected container (or its host),
as agreed with their module (tui/screens/*.py); each test runs once that screen exists."""

from __future__ import annotations

from typing import Any

import pytest
from tuifakes import NOW, PushFleet, fleet_of, host, row

from watchdog_agent.tui.app import DstatsApp
from watchdog_agent.tui.mainscreen import MainScreen
from watchdog_agent.tui.options import ViewOptions

H1, H2 = "http://h1:9338", "http://h2:9338"
VIEW = fleet_of(
    host([row("a", "alpha", cpu_percent=1.0)], key=H1, name="h1"),
    host([row("b", "bravo", cpu_percent=9.0, labels={"tier": "db"})], key=H2, name="h2"),
)
B = "b" * 64


def clock() -> float:
    return NOW


# key, module, class, the arguments after the fleet
CASES = [
    ("enter", "container", "ContainerScreen", (H2, B, clock)),
    ("l", "logs", "LogsScreen", (H2, B)),
    ("t", "tree", "TreeScreen", (H2, B)),
    ("e", "events", "EventsScreen", (H2, ("label=tier=db",))),
    ("d", "disk", "DiskScreen", (H2,)),
]


@pytest.mark.parametrize(("key", "module", "name", "expected"), CASES)
async def test_key_pushes_its_screen(
    key: str, module: str, name: str, expected: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = pytest.importorskip(f"watchdog_agent.tui.screens.{module}")
    real = getattr(mod, name)
    seen: list[tuple[Any, ...]] = []

    class Recording(real):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any) -> None:
            seen.append(args)
            super().__init__(*args)

    monkeypatch.setattr(mod, name, Recording)
    fleet = PushFleet(VIEW)
    app = DstatsApp(fleet, ViewOptions(filters=("label=tier=db",)), clock=clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, real)
        assert seen == [(fleet, *expected)]
        await pilot.press("escape")


HOST_CASES = [("e", "events", "EventsScreen", (H1, ())), ("d", "disk", "DiskScreen", (H1,))]


@pytest.mark.parametrize(("key", "module", "name", "expected"), HOST_CASES)
async def test_host_screens_without_a_selection_use_the_first_host(
    key: str, module: str, name: str, expected: tuple[Any, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = pytest.importorskip(f"watchdog_agent.tui.screens.{module}")
    real = getattr(mod, name)
    seen: list[tuple[Any, ...]] = []

    class Recording(real):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any) -> None:
            seen.append(args)
            super().__init__(*args)

    monkeypatch.setattr(mod, name, Recording)
    fleet = PushFleet(VIEW)
    app = DstatsApp(fleet, ViewOptions(filters=("nothing-matches",)), clock=clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert app.main.model.selected is None
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, real)
        assert seen == [(fleet, *expected)]


async def test_enter_without_a_selection_stays_put() -> None:
    app = DstatsApp(PushFleet(VIEW), ViewOptions(filters=("nothing-matches",)), clock=clock)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        await pilot.press("enter", "l", "t")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
