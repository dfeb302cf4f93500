"""Rows, hosts and a Fleet whose updates the test pushes: for the main table's tests.

``PushFleet.run`` publishes the first view, then waits; ``push`` publishes the next one
(as the data side would after a snapshot). The other Fleet methods answer with empty
documents: the main table's tests only check that a screen is pushed with the right
host and container.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from watchdog_agent.model import ContainerStats, Event, LogLine, ProcessInfo
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


class PushFleet:
    """A Fleet the test drives: ``push`` publishes a view; calls are recorded."""

    def __init__(self, first: FleetView) -> None:
        self.first = first
        self.publish: Callable[[FleetView], None] | None = None
        self.closed = 0
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._stop = asyncio.Event()

    async def run(self, publish: Callable[[FleetView], None]) -> None:
        self.publish = publish
        publish(self.first)
        await self._stop.wait()

    def push(self, view: FleetView) -> None:
        assert self.publish is not None, "the app has not started the fleet"
        self.publish(view)

    async def close(self) -> None:
        self.closed += 1
        self._stop.set()

    async def container(self, host: str, cid: str) -> Mapping[str, Any]:
        self.calls.append(("container", (host, cid)))
        return {"id": cid}

    async def history(self, host: str, cid: str, count: int) -> Sequence[ContainerStats]:
        self.calls.append(("history", (host, cid, count)))
        return []

    async def top(self, host: str, cid: str) -> Sequence[ProcessInfo]:
        self.calls.append(("top", (host, cid)))
        return []

    async def postmortem(self, host: str, cid: str) -> Mapping[str, Any] | None:
        self.calls.append(("postmortem", (host, cid)))
        return None

    async def disk(self, host: str) -> Mapping[str, Any]:
        self.calls.append(("disk", (host,)))
        return {}

    async def logs(self, host: str, cid: str, *, tail: int, follow: bool) -> AsyncIterator[LogLine]:
        self.calls.append(("logs", (host, cid)))
        return
        yield

    async def events(
        self, host: str, filters: Sequence[str], since: str | None
    ) -> AsyncIterator[Event]:
        self.calls.append(("events", (host, tuple(filters))))
        return
        yield
