"""Rows and hosts built to order for the main table's tests (sort orders, gaps, stopped
containers, many rows); the Fleet that carries them is tests/helpers/staticfleet.py's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from watchdog_agent.tui.view import FleetView, HostView, LinkState, Row

NOW = 1_700_000_000.0


def row(cid: str, name: str, host: str = "http://h1:9338", **kw: Any) -> Row:
    base = Row(
        host=host, id=cid * 64 if len(cid) == 1 else cid.ljust(64, "0"), name=name,
        image="busybox:latest", state="running", started_at=NOW - 3725,
        finished_exit_code=None, oom_killed=None, restart_count=0, cpu_percent=1.0,
        cpu_limit=None, memory_usage_bytes=10 * 2**20, memory_limit_bytes=None,
        memory_percent=1.0, net_rx_rate=100.0, net_tx_rate=50.0, blk_read_rate=0.0,
        blk_write_rate=4096.0, pids=3, pids_limit=None, psi_cpu_some_avg10=0.5,
        throttled_percent=0.0, labels={},
    )  # fmt: skip
    return replace(base, **kw)


def stopped(cid: str, name: str, code: int, **kw: Any) -> Row:
    gaps = dict.fromkeys(
        ("cpu_percent", "memory_usage_bytes", "memory_percent", "net_rx_rate", "net_tx_rate",
         "blk_read_rate", "blk_write_rate", "pids", "psi_cpu_some_avg10", "throttled_percent")
    )  # fmt: skip
    return row(cid, name, state="exited", started_at=None, finished_exit_code=code,
               **{**gaps, **kw})  # fmt: skip


HOST_DOC: Mapping[str, Any] = {
    "hostname": "h1", "cpus": 4, "cpu_percent": 12.5, "load1": 0.5, "load5": 0.4,
    "load15": 0.3, "memory_total_bytes": 8 * 2**30, "memory_used_bytes": 2 * 2**30,
    "data_root": {"path": "/var/lib/docker", "size_bytes": 100e9, "used_bytes": 40e9},
}  # fmt: skip
DAEMON_DOC: Mapping[str, Any] = {"up": True, "version": "20.10.24"}


def host(rows: Sequence[Row], key: str = "http://h1:9338", name: str = "h1", **kw: Any) -> HostView:
    base = HostView(
        key=key, name=name, link=LinkState.CONNECTED, detail=None, since=NOW - 60,
        rows={r.id: replace(r, host=key) for r in rows}, host=HOST_DOC, daemon=DAEMON_DOC,
        agent={"cpu_seconds_total": 10.0, "resident_memory_bytes": 40 * 2**20},
        sampled_at=NOW - 1, interval=1.0,
    )  # fmt: skip
    return replace(base, **kw)


def fleet_of(*hosts: HostView) -> FleetView:
    return FleetView(hosts=tuple(hosts))
