"""What the data side hands the view: pure, immutable values and the Fleet protocol.

The data side (``fleet``, ``feed``, ``client``, ``local``) turns each agent's snapshot
stream into one :class:`HostView` per agent and publishes a whole :class:`FleetView` on
every change. The app (``app`` and its screens) only reads these values and awaits the
:class:`Fleet` methods from Textual workers; it never opens a socket or a file itself.

Absent is not zero here either: every number a row lacks is ``None`` and shows as "-".
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from watchdog_agent.errors import WatchdogError
from watchdog_agent.model import ContainerStats, Event, LogLine, ProcessInfo


class LinkState(enum.StrEnum):
    """One agent's connection, as the header shows it."""

    CONNECTING = "connecting"  # the first attempt is under way
    CONNECTED = "connected"  # snapshots arrive
    RETRYING = "retrying"  # down, refused the connection, or broke off: retried with backoff
    AUTH_REFUSED = "auth refused"  # 401/403: retried slowly (credentials may be fixed)
    BAD_ANSWER = "bad answer"  # it answered, but not the agent's API (garbage): retried
    LOCAL = "local"  # no agent answered: the collectors run in-process (one host only)


@dataclass(frozen=True, slots=True)
class Row:
    """One container of one host, ready to show and sort (rates computed from the two
    latest samples; None: a gap, shown as "-")."""

    host: str  # HostView.key of the host it belongs to
    id: str
    name: str | None
    image: str | None
    state: str | None  # Docker's State.Status
    started_at: float | None  # unix seconds (uptime = now - started_at while running)
    finished_exit_code: int | None  # exit code of a stopped container
    oom_killed: bool | None
    restart_count: int | None
    cpu_percent: float | None  # docker stats semantics: 100 = one core
    cpu_limit: float | None  # CPUs (--cpus); None: no limit (full bar = the host's CPUs)
    memory_usage_bytes: int | None  # docker stats semantics
    memory_limit_bytes: int | None  # None: unlimited
    memory_percent: float | None
    net_rx_rate: float | None  # bytes per second over the last interval
    net_tx_rate: float | None
    blk_read_rate: float | None
    blk_write_rate: float | None
    pids: int | None
    pids_limit: int | None
    psi_cpu_some_avg10: float | None  # percent
    throttled_percent: float | None  # share of CFS periods throttled, last interval
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def running(self) -> bool:
        return self.state == "running"


@dataclass(frozen=True, slots=True)
class HostView:
    """One agent (or the in-process collectors) and its containers."""

    key: str  # the agent URL as given (or "local"): stable identity of the host
    name: str  # the HOST column: the agent's host name once known, else the URL's host:port
    link: LinkState
    detail: str | None  # why it is not connected (raw text: the view escapes it)
    since: float  # unix seconds: when ``link`` entered this state
    rows: Mapping[str, Row]  # container id -> row (stopped ones included)
    host: Mapping[str, Any] | None = None  # GET /api/v1/host's document (null: none yet)
    daemon: Mapping[str, Any] | None = None  # /api/v1/info's "daemon" object
    agent: Mapping[str, Any] | None = None  # the agent's own cost (the snapshot's "agent")
    sampled_at: float | None = None  # unix seconds of the latest snapshot
    interval: float | None = None  # the agent's sampling interval, seconds


@dataclass(frozen=True, slots=True)
class FleetView:
    """Every host, in ``--agent`` order."""

    hosts: tuple[HostView, ...]

    def rows(self) -> list[Row]:
        return [row for h in self.hosts for row in h.rows.values()]


class FleetError(WatchdogError):
    """A request the view made could not be answered (the text is shown to the user)."""


class Fleet(Protocol):
    """The data side as the app sees it. ``host`` is a ``HostView.key``; every method
    raises FleetError (never a raw network error) on failure."""

    async def run(self, publish: Callable[[FleetView], None]) -> None:
        """Feed every host until cancelled, calling ``publish`` (on the caller's event
        loop) with the whole FleetView after each change. One host down never stalls
        the others."""
        ...

    async def close(self) -> None:
        """Stop every connection and task (idempotent)."""
        ...

    async def container(self, host: str, cid: str) -> Mapping[str, Any]:
        """``GET /api/v1/containers/{id}``'s document (limits, labels, state...)."""
        ...

    async def history(self, host: str, cid: str, count: int) -> Sequence[ContainerStats]:
        """The kept samples, oldest first (``/stats?history=N``): the sparklines."""
        ...

    async def top(self, host: str, cid: str) -> Sequence[ProcessInfo]:
        """The process tree (roots, with ``children``): host PID and container PID."""
        ...

    async def postmortem(self, host: str, cid: str) -> Mapping[str, Any] | None:
        """The post-mortem document of a dead container (None: none recorded)."""
        ...

    async def disk(self, host: str) -> Mapping[str, Any]:
        """``GET /api/v1/disk``'s document (areas; ``verbose`` rows)."""
        ...

    def logs(self, host: str, cid: str, *, tail: int, follow: bool) -> AsyncIterator[LogLine]:
        """The container's log lines (the last ``tail``, then new ones if ``follow``)."""
        ...

    def events(self, host: str, filters: Sequence[str], since: str | None) -> AsyncIterator[Event]:
        """Events matching ``filters`` (docker's ``key=value`` grammar), from ``since``
        (docker's --since grammar; None: only new ones), then live."""
        ...
