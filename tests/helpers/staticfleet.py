"""A deterministic in-memory Fleet (``watchdog_agent.tui.view.Fleet``) for Pilot and
snapshot tests of ``dstats``: fixed hosts, rows, history, process trees, logs, events, a
disk document and a post-mortem document, all in the agent's own JSON shapes, and a fixed
clock. Nothing here opens a socket or a file.

Tests drive it by hand: ``push(view)`` publishes a new FleetView to the running app,
``push_log``/``push_event`` feed followed logs and live events, ``fail(method, text)``
makes a method raise FleetError, and ``calls`` records what the view asked for.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from helpers.diskdocs import usage
from watchdog_agent.agent.diskareas import areas
from watchdog_agent.agent.postmortem.store import postmortem_json
from watchdog_agent.errors import UsageError
from watchdog_agent.events.filters import parse_filters
from watchdog_agent.events.timeparse import parse_time
from watchdog_agent.model import (
    CgroupSample,
    ContainerRef,
    ContainerStats,
    Event,
    HistoryRow,
    LogLine,
    PostMortem,
    Pressure,
    PressureAvg,
    ProcessInfo,
    PsiAvg,
    PsiLine,
)
from watchdog_agent.server.documents import container_json
from watchdog_agent.tui.view import FleetError, FleetView, HostView, LinkState, Row
from watchdog_agent.wire.diskjson import disk_json

CLOCK = 1_800_000_000.0  # the fixed "now" (2027-01-15T08:00:00Z), unix seconds


def clock() -> float:
    """The fixed clock screens are given in tests."""
    return CLOCK


MIB = 1024 * 1024
HOST_A = "http://127.0.0.1:9338"  # key of the first host (never contacted)
HOST_B = "http://127.0.0.1:19338"
BUSY = "b5" * 32  # running, --cpus 0.5, busy (about its whole limit)
IDLE = "1d" * 32  # running, idle
DEAD = "de" * 32  # exited 137, OOM killed
UNLIMITED = "0f" * 32  # running, no memory limit
EVIL = "e1" * 32  # running; its name carries terminal escapes
DB = "db" * 32  # on the second host
EVIL_NAME = "evil\x1b[31mred\x1b]0;pwned\x07"
HISTORY_SAMPLES = 60
STARTED = CLOCK - 3 * 3600.0


def _row(cid: str, name: str, host: str = HOST_A, **numbers: Any) -> Row:
    base: dict[str, Any] = {
        "host": host, "id": cid, "name": name, "image": "watchdog-test/busybox:latest",
        "state": "running", "started_at": STARTED, "finished_exit_code": None,
        "oom_killed": False, "restart_count": 0, "cpu_percent": 0.0, "cpu_limit": None,
        "memory_usage_bytes": 4 * MIB, "memory_limit_bytes": 512 * MIB,
        "memory_percent": 0.78, "net_rx_rate": 0.0, "net_tx_rate": 0.0,
        "blk_read_rate": 0.0, "blk_write_rate": 0.0, "pids": 1, "pids_limit": None,
        "psi_cpu_some_avg10": 0.0, "throttled_percent": 0.0,
        "labels": {"com.example.team": "core"},
    }  # fmt: skip
    base.update(numbers)
    return Row(**base)


def rows_a() -> dict[str, Row]:
    rows = [
        _row(BUSY, "busy", cpu_percent=49.6, cpu_limit=0.5, memory_usage_bytes=64 * MIB,
             memory_limit_bytes=128 * MIB, memory_percent=50.0, net_rx_rate=1536.0,
             net_tx_rate=512.0, blk_read_rate=0.0, blk_write_rate=4096.0, pids=3,
             pids_limit=100, psi_cpu_some_avg10=12.5, throttled_percent=41.0),
        _row(IDLE, "idle"),
        _row(DEAD, "dead", state="exited", started_at=None, finished_exit_code=137,
             oom_killed=True, restart_count=2, cpu_percent=None, memory_usage_bytes=None,
             memory_limit_bytes=64 * MIB, memory_percent=None, net_rx_rate=None,
             net_tx_rate=None, blk_read_rate=None, blk_write_rate=None, pids=None,
             psi_cpu_some_avg10=None, throttled_percent=None),
        _row(UNLIMITED, "unlimited", cpu_percent=3.2, memory_usage_bytes=200 * MIB,
             memory_limit_bytes=None, memory_percent=None, pids=12),
        _row(EVIL, EVIL_NAME, cpu_percent=0.5, labels={"x": "\x1b[2Jcleared"}),
    ]  # fmt: skip
    return {r.id: r for r in rows}


def fleet_view(
    *,
    cpu_busy: float = 49.6,
    link_b: LinkState = LinkState.CONNECTED,
    at: float = CLOCK,
    without: tuple[str, ...] = (),
) -> FleetView:
    """The standard fleet; ``cpu_busy`` changes the busy row and ``at`` the first host's
    ``sampled_at`` (a new publish to push); ``without``: container ids removed."""
    a_rows = rows_a()
    a_rows[BUSY] = dataclasses.replace(a_rows[BUSY], cpu_percent=cpu_busy)
    for cid in without:
        a_rows.pop(cid, None)
    b_rows = {DB: _row(DB, "db", host=HOST_B, cpu_percent=7.5, pids=9)}
    host_doc = {"hostname": "alpha", "cpus": 2, "cpu_percent": 60.0, "cpu_fraction": 0.3,
                "load1": 0.5, "load5": 0.4, "load15": 0.3,
                "memory_total_bytes": 4096 * MIB, "memory_used_bytes": 1024 * MIB,
                "memory_available_bytes": 3072 * MIB}  # fmt: skip
    a = HostView(
        key=HOST_A, name="alpha", link=LinkState.CONNECTED, detail=None, since=CLOCK - 60,
        rows=a_rows, host=host_doc, daemon={"version": "20.10.24", "containers_running": 4},
        agent={"cpu_percent": 0.4}, sampled_at=at, interval=1.0,
    )  # fmt: skip
    detail = None if link_b is LinkState.CONNECTED else "connection refused"
    b = HostView(
        key=HOST_B, name="beta", link=link_b, detail=detail, since=CLOCK - 5, rows=b_rows,
        sampled_at=CLOCK if detail is None else None, interval=1.0,
    )  # fmt: skip
    return FleetView((a, b))


# ---- per-container documents ----------------------------------------------------------


def _psi(avg10: float) -> Pressure:
    return Pressure(PsiLine(avg10, avg10 / 2, avg10 / 4, 1_000_000), None)


def history_of(cid: str, count: int = HISTORY_SAMPLES) -> list[ContainerStats]:
    """Fixed samples one second apart ending at CLOCK; counters grow, so rates are fixed."""
    out = []
    for i in range(count):
        at = CLOCK - (count - 1 - i)
        busy = cid == BUSY
        cpu = (40.0 + (i % 10)) if busy else 0.1 * (i % 3)
        mem = (60 + i % 8) * MIB if busy else 4 * MIB
        sample = CgroupSample(
            container_id=cid, monotonic=float(i), wall=at,
            psi_cpu=_psi(10.0 + i % 5 if busy else 0.0), psi_memory=_psi(0.5), psi_io=_psi(1.0),
        )  # fmt: skip
        out.append(
            ContainerStats(
                id=cid,
                sampled_at=at,
                sample=sample,
                name="busy" if busy else None,
                cpu_percent=cpu,
                memory_usage_bytes=mem,
                memory_working_set_bytes=mem,
                memory_limit_bytes=128 * MIB if busy else 512 * MIB,
                pids=3,
                net_rx_bytes=1536 * i,
                net_tx_bytes=512 * i,
                blk_read_bytes=0,
                blk_write_bytes=4096 * i,
            )
        )
    return out


MEMORY_STAT = {
    "current": 80 * MIB,
    "anon": 48 * MIB,
    "file": 28 * MIB,
    "active_file": 12 * MIB,
    "inactive_file": 16 * MIB,
    "shmem": 2 * MIB,
    "kernel": 3 * MIB,
}


def container_doc(cid: str, row: Row) -> dict[str, Any]:
    """``GET /api/v1/containers/{id}`` of a row, with ``stats.memory_stat`` for BUSY."""
    ref = ContainerRef(
        id=cid, name=row.name, image=row.image, state=row.state, labels=row.labels,
        started_at=row.started_at, created=STARTED - 60, restart_count=row.restart_count,
        exit_code=row.finished_exit_code, oom_killed=row.oom_killed,
        memory_limit_bytes=row.memory_limit_bytes, cpu_limit=row.cpu_limit,
        pids_limit=row.pids_limit, pid=4242 if row.running else None, tty=False,
    )  # fmt: skip
    stats = history_of(cid, 1)[0] if row.running else None
    if stats is not None and cid == BUSY:
        stats = stats._replace(memory_usage_bytes=80 * MIB - 16 * MIB,
                               memory_working_set_bytes=80 * MIB - 16 * MIB)  # fmt: skip
    doc = container_json(ref, stats)
    if doc["stats"] is not None:
        doc["stats"]["memory_stat"] = dict(MEMORY_STAT) if cid == BUSY else None
    return doc


def _proc(pid: int, ns_pid: int, ppid: int, cmd: str, *kids: ProcessInfo, **kw: Any) -> ProcessInfo:
    values: dict[str, Any] = {
        "pid": pid, "ppid": ppid, "ns_pid": ns_pid, "ns_ppid": None if ns_pid == 1 else 1,
        "user": "root", "uid": 0, "state": "S", "threads": 1, "cpu_seconds": 1.5,
        "cpu_percent": 0.0, "rss_bytes": 1 * MIB, "started_at": STARTED, "cmd": cmd,
        "children": kids,
    }  # fmt: skip
    values.update(kw)
    return ProcessInfo(**values)


def tree_of(cid: str) -> list[ProcessInfo]:
    """Roots with children: host PIDs 4242.., container PIDs 1.."""
    yes = _proc(4250, 7, 4242, "yes", cpu_percent=49.5, state="R", rss_bytes=512 * 1024)
    sleeper = _proc(4251, 8, 4242, "sleep 3600 \x1b[31mred", user="nobody", uid=65534)
    return [_proc(4242, 1, 4200, "sh -c yes > /dev/null & sleep 3600", yes, sleeper)]


def logs_of(cid: str) -> list[LogLine]:
    """520 lines (more than a tail of 500), every 7th on stderr, one with an escape."""
    out = []
    for i in range(520):
        stream = "stderr" if i % 7 == 3 else "stdout"
        out.append(LogLine(stream, None, f"line {i:03d} of {cid[:4]}"))
    out[-3] = LogLine("stdout", None, "colour \x1b[31mRED[/] [bold]not markup[/bold]")
    out[-2] = LogLine("stderr", None, "error: disk full")
    return out


def _event(action: str, seconds_ago: int, cid: str, name: str, **attrs: str) -> Event:
    at = int(CLOCK) - seconds_ago
    attributes = {"image": "watchdog-test/busybox:latest", "name": name, **attrs}
    return Event("container", action, cid, attributes, "local", at, at * 1_000_000_000)


def events_backlog() -> list[Event]:
    """Events of the last hour, oldest first (one attribute with a terminal escape)."""
    return [
        _event("create", 3000, DEAD, "dead"),
        _event("start", 2990, DEAD, "dead"),
        _event("create", 2400, BUSY, "busy"),
        _event("start", 2390, BUSY, "busy"),
        _event("start", 1800, EVIL, EVIL_NAME, note="\x1b]0;title\x07"),
        _event("oom", 600, DEAD, "dead"),
        _event("kill", 599, DEAD, "dead", signal="9"),
        _event("die", 598, DEAD, "dead", exitCode="137"),
        Event(
            "network",
            "connect",
            "n" * 64,
            {"name": "none", "container": IDLE, "type": "null"},
            "local",
            int(CLOCK) - 120,
            (int(CLOCK) - 120) * 1_000_000_000,
        ),
    ]


def postmortem_doc() -> dict[str, Any]:
    rows = [
        HistoryRow(DEAD, "dead", "watchdog-test/busybox:latest", CLOCK - 660 + i, 20.0 + i,
                   None, None, None, (30 + i) * MIB, (30 + i) * MIB, 64 * MIB, None, 2, None,
                   0, 0, 0, 0, PressureAvg(PsiAvg(5.0, 2.0, 1.0), None), None, None)
        for i in range(5)
    ]  # fmt: skip
    pm = PostMortem(
        container_id=DEAD, name="dead", image="watchdog-test/busybox:latest", action="die",
        died_at_nano=(int(CLOCK) - 598) * 1_000_000_000, exit_code=137, oom_killed=True,
        signal=9, started_at=CLOCK - 2990, samples=tuple(rows),
        processes=(_proc(5100, 1, 5000, "sh -c eat-memory"),), processes_at=CLOCK - 601,
        logs=(LogLine("stdout", "2027-01-15T07:50:00Z", "allocating"),
              LogLine("stderr", "2027-01-15T07:50:01Z", "killed \x1b[31m")),
        events=tuple(e for e in events_backlog() if e.actor_id == DEAD),
        captured_at=CLOCK - 597,
    )  # fmt: skip
    return postmortem_json(pm)


def disk_doc() -> dict[str, Any]:
    """``GET /api/v1/disk?verbose=1`` over tests/helpers/diskdocs.py's /system/df."""
    u = usage()
    return disk_json(u, areas(u), verbose=True)


# ---- the Fleet -------------------------------------------------------------------------


class StaticFleet:
    """Implements the Fleet protocol over fixed data (see the module's doc)."""

    def __init__(self, view: FleetView | None = None) -> None:
        self.view = fleet_view() if view is None else view
        self.calls: list[tuple[Any, ...]] = []
        self.failures: dict[str, str] = {}  # method name -> FleetError text
        self.logs_by_id: dict[str, list[LogLine]] = {}  # overrides logs_of
        self.backlog: list[Event] = events_backlog()
        self.disk_document: dict[str, Any] = disk_doc()
        self.closed = False
        self._publish: Callable[[FleetView], None] | None = None
        self._log_queues: list[tuple[str, asyncio.Queue[LogLine]]] = []
        self._event_queues: list[asyncio.Queue[Event]] = []

    # -- test controls
    def fail(self, method: str, text: str) -> None:
        self.failures[method] = text

    def push(self, view: FleetView) -> None:
        """Publish ``view`` to the running app (as the data side does on a change)."""
        self.view = view
        if self._publish is not None:
            self._publish(view)

    def push_log(self, cid: str, line: LogLine) -> None:
        for want, queue in self._log_queues:
            if want == cid:
                queue.put_nowait(line)

    def push_event(self, event: Event) -> None:
        self.backlog.append(event)
        for queue in self._event_queues:
            queue.put_nowait(event)

    def _check(self, method: str, *args: Any) -> None:
        self.calls.append((method, *args))
        text = self.failures.get(method)
        if text is not None:
            raise FleetError(text)

    def _row(self, host: str, cid: str) -> Row:
        for h in self.view.hosts:
            if h.key == host and cid in h.rows:
                return h.rows[cid]
        raise FleetError(f"no such container: {cid[:12]}")

    # -- the protocol
    async def run(self, publish: Callable[[FleetView], None]) -> None:
        self._publish = publish
        publish(self.view)
        try:
            await asyncio.Event().wait()
        finally:
            self._publish = None

    async def close(self) -> None:
        self.closed = True

    async def container(self, host: str, cid: str) -> Mapping[str, Any]:
        self._check("container", host, cid)
        return container_doc(cid, self._row(host, cid))

    async def history(self, host: str, cid: str, count: int) -> Sequence[ContainerStats]:
        self._check("history", host, cid, count)
        row = self._row(host, cid)
        return history_of(cid, min(count, HISTORY_SAMPLES)) if row.running else []

    async def top(self, host: str, cid: str) -> Sequence[ProcessInfo]:
        self._check("top", host, cid)
        row = self._row(host, cid)
        if not row.running:
            raise FleetError(f"container {cid[:12]} is not running")
        return tree_of(cid)

    async def postmortem(self, host: str, cid: str) -> Mapping[str, Any] | None:
        self._check("postmortem", host, cid)
        return postmortem_doc() if cid == DEAD else None

    async def disk(self, host: str) -> Mapping[str, Any]:
        self._check("disk", host)
        return self.disk_document

    async def logs(self, host: str, cid: str, *, tail: int, follow: bool) -> AsyncIterator[LogLine]:
        self._check("logs", host, cid, tail, follow)
        self._row(host, cid)
        lines = self.logs_by_id.get(cid)
        kept = logs_of(cid) if lines is None else lines
        for line in kept[-tail:] if tail > 0 else []:
            yield line
        if not follow:
            return
        queue: asyncio.Queue[LogLine] = asyncio.Queue()
        entry = (cid, queue)
        self._log_queues.append(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            self._log_queues.remove(entry)

    async def events(
        self, host: str, filters: Sequence[str], since: str | None
    ) -> AsyncIterator[Event]:
        self._check("events", host, tuple(filters), since)
        try:
            wanted = parse_filters(filters)
        except UsageError as e:  # the agent answers 400 with this text
            raise FleetError(str(e)) from None
        if since is not None:
            start = parse_time(since, now=CLOCK)
            for old in list(self.backlog):
                if old.time_nano >= start and wanted.matches(old):
                    yield old
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._event_queues.append(queue)
        try:
            while True:
                new = await queue.get()
                if wanted.matches(new):
                    yield new
        finally:
            self._event_queues.remove(queue)
