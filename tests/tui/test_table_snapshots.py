"""SVG snapshots of the main table (one host; a fleet with a retrying host) and of the
help screen, with a fixed clock (pytest-textual-snapshot; ``--snapshot-update`` after a
deliberate change, then look at the pictures)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from helpers.staticfleet import StaticFleet
from textual.pilot import Pilot
from tuifakes import NOW, fleet_of, host, row, stopped

from watchdog_agent.tui.app import DstatsApp
from watchdog_agent.tui.options import ViewOptions
from watchdog_agent.tui.view import FleetView, LinkState

SnapCompare = Callable[..., bool]
SIZE = (200, 24)
ROWS = [
    row("a", "web-frontend", image="nginx:1.25-alpine", cpu_percent=12.3,
        memory_usage_bytes=48 * 2**20, memory_limit_bytes=512 * 2**20, memory_percent=9.4,
        net_rx_rate=15_300.0, net_tx_rate=210_000.0, pids=9, restart_count=1),
    row("b", "api", image="registry.example/team/api:2024.11.3", cpu_percent=49.0,
        cpu_limit=0.5, throttled_percent=31.2, psi_cpu_some_avg10=22.4, pids=41,
        pids_limit=100, memory_usage_bytes=900 * 2**20, memory_limit_bytes=1024 * 2**20,
        memory_percent=87.9, blk_read_rate=2.5e6, blk_write_rate=800_000.0),
    row("c", "worker\x1b[2J", image="busybox:latest", cpu_percent=180.0,
        started_at=NOW - 3 * 86400 - 7200),
    row("d", "fresh", cpu_percent=None, memory_usage_bytes=None, memory_percent=None,
        net_rx_rate=None, net_tx_rate=None, blk_read_rate=None, blk_write_rate=None,
        pids=None, psi_cpu_some_avg10=None, throttled_percent=None, started_at=NOW - 4),
    stopped("e", "batch-job", 137, oom_killed=True),
    stopped("f", "migrate", 0, restart_count=None),
]  # fmt: skip


def app_for(view: FleetView, **options: Any) -> DstatsApp:
    return DstatsApp(StaticFleet(view), ViewOptions(**options), clock=lambda: NOW)


async def settle(pilot: Pilot[None]) -> None:
    await pilot.pause()
    await pilot.pause()


def test_main_table_one_host(snap_compare: SnapCompare) -> None:
    app = app_for(fleet_of(host(ROWS)), all=True)
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_main_table_fleet_with_a_retrying_host(snap_compare: SnapCompare) -> None:
    down = host([], key="http://10.9.9.9:9338", name="10.9.9.9:9338", link=LinkState.RETRYING,
                detail="connect: connection refused", since=NOW - 42, host=None, daemon=None,
                agent=None, sampled_at=None)  # fmt: skip
    second = host(ROWS[:2], key="http://db-2:9338", name="db-2")
    app = app_for(fleet_of(host(ROWS[2:4]), second, down))
    assert snap_compare(app, terminal_size=SIZE, run_before=settle)


def test_help_screen(snap_compare: SnapCompare) -> None:
    app = app_for(fleet_of(host(ROWS)))
    assert snap_compare(app, press=["_", "question_mark"], terminal_size=(120, 30))
