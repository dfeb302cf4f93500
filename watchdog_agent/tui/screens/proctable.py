"""The process tree as a table (pure): PID (host), CPID (in the container), USER, CPU %,
RSS and the command, indented under its parent. Every string from the container (user,
command) is escaped; a Rich Text is never read as markup."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rich.table import Table
from rich.text import Text

from watchdog_agent.commands.textfmt import binary_size
from watchdog_agent.model import ProcessInfo
from watchdog_agent.termsafe import escape

from .base import MISSING

HEADERS = ("PID", "CPID", "USER", "CPU %", "RSS", "CMD")
MAX_ROWS = 500  # a fork bomb's tree is cut here, and says so


def walk(roots: Sequence[ProcessInfo], depth: int = 0) -> Iterator[tuple[int, ProcessInfo]]:
    """(depth, process), parents before their children, siblings by host PID."""
    for p in sorted(roots, key=lambda p: p.pid):
        yield depth, p
        yield from walk(p.children, depth + 1)


def cells(depth: int, p: ProcessInfo) -> tuple[str, ...]:
    cpu = MISSING if p.cpu_percent is None else f"{p.cpu_percent:.1f}"
    branch = "  " * (depth - 1) + "└ " if depth else ""
    return (
        str(p.pid),
        MISSING if p.ns_pid is None else str(p.ns_pid),
        escape(p.user),
        cpu,
        binary_size(p.rss_bytes),
        branch + escape(p.cmd),
    )


def process_table(roots: Sequence[ProcessInfo], limit: int = MAX_ROWS) -> Table:
    table = Table(box=None, pad_edge=False, expand=False, show_edge=False)
    for head in HEADERS:
        right = head in ("PID", "CPID", "CPU %", "RSS")
        table.add_column(head, justify="right" if right else "left", no_wrap=True)
    count = 0
    for depth, p in walk(roots):
        if count == limit:
            table.add_row(*([""] * 5), Text(f"... more than {limit} processes"))
            break
        table.add_row(*(Text(c) for c in cells(depth, p)))
        count += 1
    if count == 0:
        table.add_row(*([""] * 5), Text("no processes"))
    return table


def count(roots: Sequence[ProcessInfo]) -> int:
    return sum(1 for _ in walk(roots))
