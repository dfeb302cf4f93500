"""Plain-text tables for the CLI (docker stats / docker top look). Pure functions.

Every cell is escaped with ``termsafe.escape`` in ``table``, where text output is made:
names, users and commands come from inside containers and may hold terminal escapes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from watchdog_agent.model import ContainerStats, Pressure, ProcessInfo
from watchdog_agent.termsafe import escape

MISSING = "-"
_BINARY = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB")


def _human(value: float, base: float, units: Sequence[str]) -> str:
    i = 0
    while value >= base and i < len(units) - 1:
        value /= base
        i += 1
    return f"{value:.4g}{units[i]}" if i else f"{value:.0f}{units[i]}"


def binary_size(value: int | None) -> str:
    """Memory sizes as docker stats prints them (1024-based)."""
    return MISSING if value is None else _human(float(value), 1024.0, _BINARY)


def decimal_size(value: int | None) -> str:
    """Network and block sizes as docker stats prints them (1000-based)."""
    return MISSING if value is None else _human(float(value), 1000.0, _DECIMAL)


def percent(value: float | None) -> str:
    return MISSING if value is None else f"{value:.2f}%"


def _psi(p: Pressure | None) -> str:
    return MISSING if p is None or p.some is None else f"{p.some.avg10:.2f}"


def table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns separated by three spaces, like the docker CLI. Cells are
    escaped first, so widths are those of the text the terminal shows."""
    body = [[escape(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths[i], len(cell))
    lines = []
    for row in [list(headers), *body]:
        cells = [c.ljust(widths[i]) for i, c in enumerate(row[:-1])] + row[-1:]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines)


STATS_HEADERS = (
    "CONTAINER ID",
    "NAME",
    "CPU %",
    "MEM USAGE / LIMIT",
    "MEM %",
    "NET I/O",
    "BLOCK I/O",
    "PIDS",
    "THROTTLED",
    "PSI CPU/MEM/IO",
)


def stats_row(s: ContainerStats) -> list[str]:
    limit = "unlimited" if s.memory_limit_bytes is None else binary_size(s.memory_limit_bytes)
    sample = s.sample
    return [
        s.id[:12],
        s.name or MISSING,
        percent(s.cpu_percent),
        f"{binary_size(s.memory_usage_bytes)} / {limit}",
        percent(s.memory_percent),
        f"{decimal_size(s.net_rx_bytes)} / {decimal_size(s.net_tx_bytes)}",
        f"{decimal_size(s.blk_read_bytes)} / {decimal_size(s.blk_write_bytes)}",
        MISSING if s.pids is None else str(s.pids),
        percent(s.cpu_throttled_percent),
        "/".join(_psi(p) for p in (sample.psi_cpu, sample.psi_memory, sample.psi_io)),
    ]


def stats_table(stats: Iterable[ContainerStats]) -> str:
    return table(STATS_HEADERS, (stats_row(s) for s in stats))


TOP_HEADERS = ("PID", "NSPID", "PPID", "USER", "STATE", "THR", "%CPU", "RSS", "STARTED", "CMD")


def _started(ts: float | None) -> str:
    return MISSING if ts is None else datetime.fromtimestamp(ts).strftime("%H:%M:%S")


def top_row(p: ProcessInfo, indent: str = "") -> list[str]:
    return [
        str(p.pid),
        MISSING if p.ns_pid is None else str(p.ns_pid),
        str(p.ppid),
        p.user,
        p.state,
        MISSING if p.threads is None else str(p.threads),
        MISSING if p.cpu_percent is None else f"{p.cpu_percent:.1f}",
        binary_size(p.rss_bytes),
        _started(p.started_at),
        indent + p.cmd,
    ]


def top_table(flat: Iterable[ProcessInfo]) -> str:
    return table(TOP_HEADERS, (top_row(p) for p in flat))


def top_footer(listed: int, unreadable: int | None) -> str:
    """The line under a top table: how many processes it lists, and how many more exist
    but could not be read (``None``: an agent that does not report it)."""
    shown = f"{listed} process{'' if listed == 1 else 'es'}"
    if unreadable is None:
        return f"{shown}, unreadable unknown (the agent does not report it)"
    if unreadable == 0:
        return f"{shown}, 0 unreadable"
    return f"{shown}, {unreadable} unreadable (exist but could not be read: not listed)"


def unreadable_note(unreadable: int) -> str:
    """The stderr note for the JSON formats, whose stdout stays the list alone."""
    them, are = ("process", "is") if unreadable == 1 else ("processes", "are")
    return f"{unreadable} {them} of the container could not be read and {are} not listed"


def top_tree(roots: Iterable[ProcessInfo]) -> str:
    rows: list[list[str]] = []

    def walk(p: ProcessInfo, prefix: str, last: bool, depth: int) -> None:
        branch = "" if depth == 0 else prefix + ("└─ " if last else "├─ ")
        rows.append(top_row(p, branch))
        inner = "" if depth == 0 else prefix + ("   " if last else "│  ")
        for i, child in enumerate(p.children):
            walk(child, inner, i == len(p.children) - 1, depth + 1)

    for root in roots:
        walk(root, "", True, 0)
    return table(TOP_HEADERS, rows)
