"""The header above the table: each host's link, totals, daemon and the agent's cost.

One host gets two lines:

    ● web-01  connected · sampled 1s ago, every 1s · docker 20.10.24 up
      · data-root 45GB / 99GB (45%)
    CPU 23.4% of 8 · MEM 3.2GiB / 15.5GiB (20%) · load 0.52 0.40 0.33
      · 12 running, 3 stopped · agent 1.2% CPU 45MiB RSS

(each on one line).

A fleet gets one compact line per host (at most ``MAX_HOST_LINES``, then a summary).
Every value from an agent may be missing (a gap: "-"); the text is built here from
pure functions, the widget only shows it. Host names and details are escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textual.content import Content
from textual.widgets import Static

from watchdog_agent.commands.textfmt import binary_size
from watchdog_agent.termsafe import escape

from .columns import GAP, duration
from .view import FleetView, HostView, LinkState

MAX_HOST_LINES = 8
DETAIL_CELLS = 90
Part = tuple[str, str]

_LINK: dict[LinkState, tuple[str, str]] = {
    LinkState.CONNECTING: ("○", "$warning"),
    LinkState.CONNECTED: ("●", "$success"),
    LinkState.RETRYING: ("✖", "$error"),
    LinkState.AUTH_REFUSED: ("✖", "$error"),
    LinkState.BAD_ANSWER: ("✖", "$error"),
    LinkState.LOCAL: ("●", "$accent"),
}


def _num(doc: Mapping[str, Any] | None, key: str) -> float | None:
    value = None if doc is None else doc.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: float | None) -> int | None:
    return None if value is None else int(value)


def _size(value: float | None) -> str:
    return binary_size(_int(value))


def _decimal(value: float | None) -> str:
    if value is None:
        return GAP
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if value < 999.5 or unit == "PB":
            return f"{value:.3g}{unit}" if unit != "B" else f"{value:.0f}B"
        value /= 1000.0
    return GAP


def _pct(value: float | None) -> str:
    return GAP if value is None else f"{value:.1f}%"


class AgentCpu:
    """Each agent's own CPU %, from its ``cpu_seconds_total`` in two snapshots."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[float, float]] = {}  # key -> (cpu seconds, sampled_at)
        self._percent: dict[str, float | None] = {}

    def update(self, host: HostView) -> float | None:
        cpu = _num(host.agent, "cpu_seconds_total")
        if cpu is None or host.sampled_at is None:
            return self._percent.get(host.key)
        last = self._last.get(host.key)
        if last is None or host.sampled_at > last[1]:
            if last is not None and cpu >= last[0]:
                self._percent[host.key] = 100.0 * (cpu - last[0]) / (host.sampled_at - last[1])
            self._last[host.key] = (cpu, host.sampled_at)
        return self._percent.get(host.key)


def link_parts(host: HostView, now: float) -> list[Part]:
    mark, style = _LINK.get(host.link, ("?", "$warning"))
    parts: list[Part] = [(mark + " ", style), (escape(host.name), "bold"), ("  ", "")]
    if host.link is LinkState.LOCAL:
        parts.append(("local: collectors in-process", style))
    elif host.link is LinkState.CONNECTED:
        parts.append(("connected", style))
    else:
        parts.append((f"{host.link.value} {duration(now - host.since)}", style))
    if host.detail and host.link is not LinkState.CONNECTED:
        detail = escape(host.detail)
        if len(detail) > DETAIL_CELLS:
            detail = detail[: DETAIL_CELLS - 1] + "…"
        parts.append((f": {detail}", style))
    return parts


def containers_text(host: HostView) -> str:
    """From the host's own rows once it has sent a snapshot (they are current: the
    daemon's counts come from its ``/info``, read once a minute); before that, the
    daemon's counts."""
    running: int | None
    stopped: int | None
    if host.sampled_at is not None:
        running = sum(1 for r in host.rows.values() if r.running)
        stopped = len(host.rows) - running
    else:
        running = _int(_num(host.daemon, "containers_running"))
        stopped = _int(_num(host.daemon, "containers_stopped"))
    if running is None or stopped is None:
        return "containers -"
    return f"{running} running, {stopped} stopped"


def cpu_text(host: HostView) -> str:
    """The host's CPU use as a share of all its CPUs (0-100 %, as top's summary), not
    the table's docker-stats scale (100 % per core)."""
    cpus = _int(_num(host.host, "cpus"))
    share = _num(host.host, "cpu_fraction")
    if share is not None:
        share *= 100.0
    else:
        percent = _num(host.host, "cpu_percent")
        share = None if percent is None or not cpus else percent / cpus
    of = "" if cpus is None else f" of {cpus} CPU{'' if cpus == 1 else 's'}"
    return f"CPU {_pct(share)}{of}"


def memory_text(host: HostView) -> str:
    used, total = _num(host.host, "memory_used_bytes"), _num(host.host, "memory_total_bytes")
    share = "" if used is None or not total else f" ({100.0 * used / total:.0f}%)"
    return f"MEM {_size(used)} / {_size(total)}{share}"


def load_text(host: HostView) -> str:
    loads = [_num(host.host, k) for k in ("load1", "load5", "load15")]
    return "load " + " ".join(GAP if v is None else f"{v:.2f}" for v in loads)


def data_root(host: HostView) -> Mapping[str, Any] | None:
    for doc in (host.host, host.daemon):
        value = None if doc is None else doc.get("data_root")
        if isinstance(value, Mapping):
            return value
    return None


def disk_text(host: HostView, compact: bool = False) -> str:
    fs = data_root(host)
    used, size = _num(fs, "used_bytes"), _num(fs, "size_bytes")
    share = GAP if used is None or not size else f"{100.0 * used / size:.0f}%"
    if compact:
        return f"disk {share}"
    return f"data-root {_decimal(used)} / {_decimal(size)} ({share})"


def daemon_text(host: HostView) -> str:
    if host.daemon is None:
        return "docker " + GAP
    version = host.daemon.get("version")
    version_text = escape(version) if isinstance(version, str) else GAP
    up = host.daemon.get("up")
    state = "up" if up is True else "DOWN" if up is False else GAP
    return f"docker {version_text} {state}"


def agent_text(host: HostView, cpu: float | None) -> str:
    rss = _num(host.agent, "resident_memory_bytes")
    who = "dstats" if host.link is LinkState.LOCAL else "agent"
    return f"{who} {_pct(cpu)} CPU {_size(rss)} RSS"


def sampled_text(host: HostView, now: float) -> str:
    if host.sampled_at is None:
        return "no sample yet"
    every = "" if host.interval is None else f", every {host.interval:g}s"
    return f"sampled {duration(now - host.sampled_at)} ago{every}"


def _join(parts: list[Part], texts: list[str]) -> list[Part]:
    for text in texts:
        parts += [(" · ", "$text-muted"), (text, "")]
    return parts


def host_lines(host: HostView, now: float, cpu: float | None) -> list[Content]:
    """The two lines of a single host."""
    first = _join(
        link_parts(host, now), [sampled_text(host, now), daemon_text(host), disk_text(host)]
    )
    second = _join(
        [(cpu_text(host), "")],
        [memory_text(host), load_text(host), containers_text(host), agent_text(host, cpu)],
    )
    return [Content.assemble(*first), Content.assemble(*second)]


def compact_line(host: HostView, now: float, cpu: float | None) -> Content:
    """One line of a fleet's host: its link, then its totals once connected."""
    parts = link_parts(host, now)
    if host.link in (LinkState.CONNECTED, LinkState.LOCAL) or host.host is not None:
        mem_share = GAP
        used, total = _num(host.host, "memory_used_bytes"), _num(host.host, "memory_total_bytes")
        if used is not None and total:
            mem_share = f"{100.0 * used / total:.0f}%"
        load1 = _num(host.host, "load1")
        parts = _join(parts, [
            cpu_text(host), f"MEM {mem_share}", f"load {GAP if load1 is None else f'{load1:.2f}'}",
            containers_text(host), disk_text(host, compact=True), daemon_text(host),
            agent_text(host, cpu),
        ])  # fmt: skip
    return Content.assemble(*parts)


def fleet_lines(view: FleetView, now: float, cpus: Mapping[str, float | None]) -> list[Content]:
    if len(view.hosts) == 1:
        host = view.hosts[0]
        return host_lines(host, now, cpus.get(host.key))
    if not view.hosts:
        return [Content("no hosts")]
    if len(view.hosts) <= MAX_HOST_LINES:
        return [compact_line(h, now, cpus.get(h.key)) for h in view.hosts]
    shown, rest = view.hosts[: MAX_HOST_LINES - 1], view.hosts[MAX_HOST_LINES - 1 :]
    down = sum(1 for h in rest if h.link not in (LinkState.CONNECTED, LinkState.LOCAL))
    lines = [compact_line(h, now, cpus.get(h.key)) for h in shown]
    return [*lines, Content(f"… and {len(rest)} more hosts ({down} of them not connected)")]


class FleetHeader(Static):
    """The header widget: call ``show`` with each FleetView the table shows."""

    DEFAULT_CSS = """
    FleetHeader { height: auto; max-height: 8; padding: 0 1; background: $panel; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("connecting…", id=id)
        self._cpu = AgentCpu()
        self._lines = 1

    def show(self, view: FleetView, now: float) -> None:
        cpus = {h.key: self._cpu.update(h) for h in view.hosts}
        lines = fleet_lines(view, now, cpus)
        # the layout only changes with the number of lines (one host's text does not)
        self.update(Content("\n").join(lines), layout=len(lines) != self._lines)
        self._lines = len(lines)
