"""ContainerScreen: sparklines full at once from the history and extended by publishes,
limits, the memory breakdown beside docker stats' and cAdvisor's "memory", the process
tree, recent events, a dead container's post-mortem, l/t/e/Escape, a vanished
container and a FleetError said in words."""

from __future__ import annotations

from helpers.screenapp import SIZE, ScreenApp, settle, shown, top_screen
from helpers.staticfleet import (
    BUSY,
    CLOCK,
    DEAD,
    EVIL,
    HISTORY_SAMPLES,
    HOST_A,
    StaticFleet,
    clock,
    fleet_view,
)

from watchdog_agent.tui.screens.container import ContainerScreen
from watchdog_agent.tui.screens.events import EventsScreen
from watchdog_agent.tui.screens.logs import LogsScreen
from watchdog_agent.tui.screens.series import KEEP
from watchdog_agent.tui.screens.tree import TreeScreen


def _app(fleet: StaticFleet, cid: str = BUSY) -> ScreenApp:
    return ScreenApp(fleet, lambda: ContainerScreen(fleet, HOST_A, cid, clock))


def _loaded(screen: ContainerScreen) -> bool:
    return len(screen.series) > 0 and screen.doc is not None and "4242" in shown(screen.procs)


async def test_everything_at_once() -> None:
    fleet = StaticFleet()
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, ContainerScreen)
        await settle(pilot, lambda: _loaded(screen) and len(screen.recent) == 2)
        assert ("history", HOST_A, BUSY, KEEP) in fleet.calls
        # sparklines: the 60 kept samples, full at once
        assert len(screen.series) == HISTORY_SAMPLES
        assert screen.sparks["cpu"].data == [40.0 + (i % 10) for i in range(HISTORY_SAMPLES)]
        assert screen.sparks["net_rx"].data == [1536.0] * (HISTORY_SAMPLES - 1)
        assert shown(screen.values["cpu"]).split() == ["49.0%", "max", "49.0%"]
        assert shown(screen.values["net_rx"]).split() == ["1.536kB/s", "max", "1.536kB/s"]
        assert shown(screen.values["psi"]).split() == ["14.0%", "max", "14.0%"]
        info = shown(screen.info)
        assert "state running (up 3h00m)" in info
        assert "limits: CPUs 0.5   memory 128MiB   PIDs 100" in info
        assert "Container busy (b5b5b5b5b5b5)" in shown(screen.title_line)
        memory = [line.split() for line in shown(screen.memory).splitlines()]
        assert memory[0][:2] == ["anon", "48MiB"]
        assert memory[3][:2] == ["inactive_file", "16MiB"]
        assert memory[5][:2] == ["kernel", "3MiB"]
        assert memory[7][:4] == ["docker", "stats", '"MEM', 'USAGE"'] and memory[7][4] == "64MiB"
        assert memory[8][:2] == ["cAdvisor", "container_memory_usage_bytes"]
        assert memory[8][2] == "80MiB"
        assert memory[9][:3] == ["cAdvisor", "container_memory_working_set_bytes", "64MiB"]
        procs = shown(screen.procs)
        assert "4242" in procs and "\\x1b[31mred" in procs and "\x1b" not in procs
        events = shown(screen.events_view).splitlines()
        assert [e.split()[3] for e in events] == ["create", "start"]
        assert ("events", HOST_A, (f"container={BUSY}",), "1h") in fleet.calls
        assert not screen.postmortem.display


async def test_publishes_extend_the_sparklines() -> None:
    fleet = StaticFleet()
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, ContainerScreen)
        await settle(pilot, lambda: _loaded(screen))
        fleet.push(fleet_view(cpu_busy=12.0, at=CLOCK + 1))
        await pilot.pause()
        assert len(screen.series) == HISTORY_SAMPLES + 1
        data = screen.sparks["cpu"].data
        assert data is not None and data[-1] == 12.0
        assert shown(screen.values["cpu"]).split()[0] == "12.0%"
        fleet.push(fleet_view(cpu_busy=13.0, at=CLOCK + 1))  # not a newer sample
        await pilot.pause()
        assert len(screen.series) == HISTORY_SAMPLES + 1


async def test_keys_open_logs_tree_events_and_escape_comes_back() -> None:
    fleet = StaticFleet()
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, ContainerScreen)
        await settle(pilot, lambda: _loaded(screen))
        for key, kind in (("l", LogsScreen), ("t", TreeScreen), ("e", EventsScreen)):
            await pilot.press(key)
            await pilot.pause()
            pushed = app.screen
            assert isinstance(pushed, kind), key
            if isinstance(pushed, EventsScreen):
                assert pushed.filters == (f"container={BUSY}",)
            await pilot.press("escape")
            await pilot.pause()
            assert app.screen is screen
        await pilot.press("q")
        await pilot.pause()
        assert app.screen is not screen


async def test_a_dead_container_shows_its_post_mortem() -> None:
    fleet = StaticFleet()
    app = _app(fleet, DEAD)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, ContainerScreen)
        await settle(pilot, lambda: screen.postmortem.display)
        info = shown(screen.info)
        assert "state exited   exit code 137 (OOM killed)   restarts 2" in info
        pm = shown(screen.postmortem)
        assert "Exit code:   137" in pm and "Signal:      9 (SIGKILL)" in pm
        assert "OOM killed:  yes" in pm and "killed \\x1b[31m" in pm and "\x1b" not in pm
        assert "not running" in shown(screen.procs)
        assert all(s.data == [] for s in screen.sparks.values())
        assert shown(screen.values["cpu"]).strip() == "no samples"


async def test_a_vanished_container_says_so() -> None:
    fleet = StaticFleet()
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, ContainerScreen)
        await settle(pilot, lambda: _loaded(screen))
        fleet.push(fleet_view(at=CLOCK + 1, without=(BUSY,)))
        await pilot.pause()
        assert shown(screen.status).strip() == "the container is gone (removed)"


async def test_fleet_errors_are_messages() -> None:
    fleet = StaticFleet()
    fleet.fail("container", "agent at http://127.0.0.1:9338: timed out")
    fleet.fail("history", "agent at http://127.0.0.1:9338: timed out")
    app = _app(fleet)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, ContainerScreen)
        await settle(pilot, lambda: len(screen.problems) == 2)
        status = shown(screen.status)
        assert "history: agent at http://127.0.0.1:9338: timed out" in status
        assert "container: agent at" in status


async def test_an_escape_in_the_name_is_shown_escaped() -> None:
    fleet = StaticFleet()
    app = _app(fleet, EVIL)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, ContainerScreen)
        await settle(pilot, lambda: screen.doc is not None)
        title = shown(screen.title_line)
        assert "evil\\x1b[31mred\\x1b]0;pwned\\x07" in title and "\x1b" not in title


def test_uptime_words() -> None:
    """The container view's uptime is the table's (columns.duration): one format."""
    from watchdog_agent.tui.columns import duration

    assert [duration(s) for s in (-1, 40, 340, 3 * 3600, 2 * 86400 + 3 * 3600 + 59)] == [
        "0s",
        "40s",
        "5m40s",
        "3h00m",
        "2d03h",
    ]


async def test_a_removed_container_still_shows_its_post_mortem() -> None:
    fleet = StaticFleet()
    fleet.fail("container", f"no such container: {DEAD[:12]}")  # docker run --rm: removed
    app = _app(fleet, DEAD)
    async with app.run_test(size=SIZE) as pilot:
        screen = top_screen(app, ContainerScreen)
        await settle(pilot, lambda: screen.postmortem.display)
        assert "Exit code:   137" in shown(screen.postmortem)
        assert f"container: no such container: {DEAD[:12]}" in shown(screen.status)
