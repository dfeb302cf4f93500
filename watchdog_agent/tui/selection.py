"""Which rows to show, in which order (pure): the filters and sort keys of ``dstats``.

A filter is either Docker's grammar, ``KEY=VALUE`` with the keys of ``docker ps
--filter`` (id, name, label, status, ancestor/image, exited; applied as the agent's
``/api/v1/containers`` applies them: server/psfilter.py), or any other text, matched as
a case-insensitive substring of the name or the image. Several filters must all hold.

Sort keys are short column names (``SORT_KEYS``). Numbers sort largest first (as top
does), text A to Z; ``reverse`` flips that. A gap (None) sorts last either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from watchdog_agent.errors import UsageError
from watchdog_agent.model import ContainerRef
from watchdog_agent.server.psfilter import PS_KEYS, PsFilter, parse_ps_filters
from watchdog_agent.tui.rows import LIVE
from watchdog_agent.tui.view import Row


@dataclass(frozen=True, slots=True)
class SortKey:
    header: str  # the column as the table heads it
    value: Callable[[Row], Any]  # None: a gap
    numeric: bool  # largest first by default


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


def _uptime(row: Row) -> float | None:
    # the longest-running first: the earliest start
    return None if row.started_at is None or not row.running else -row.started_at


SORT_KEYS: dict[str, SortKey] = {
    "host": SortKey("HOST", lambda r: r.host, False),
    "name": SortKey("NAME", lambda r: (r.name or "").lower() or None, False),
    "id": SortKey("ID", lambda r: r.id, False),
    "image": SortKey("IMAGE", lambda r: r.image, False),
    "state": SortKey("STATE", lambda r: r.state, False),
    "uptime": SortKey("UPTIME", _uptime, True),
    "cpu": SortKey("CPU %", lambda r: r.cpu_percent, True),
    "mem": SortKey("MEM USAGE / LIMIT", lambda r: r.memory_usage_bytes, True),
    "mem%": SortKey("MEM %", lambda r: r.memory_percent, True),
    "net": SortKey("NET I/O", lambda r: _sum(r.net_rx_rate, r.net_tx_rate), True),
    "block": SortKey("BLOCK I/O", lambda r: _sum(r.blk_read_rate, r.blk_write_rate), True),
    "pids": SortKey("PIDS", lambda r: r.pids, True),
    "psi": SortKey("PSI", lambda r: r.psi_cpu_some_avg10, True),
    "throttled": SortKey("THROTTLED %", lambda r: r.throttled_percent, True),
    "restarts": SortKey("RESTARTS", lambda r: r.restart_count, True),
}
ALIASES = {
    "mem-percent": "mem%", "memory": "mem", "io": "block", "blkio": "block",
    "restart": "restarts", "throttle": "throttled", "cpu%": "cpu", "container": "name",
}  # fmt: skip


def sort_key(text: str) -> str:
    """The canonical key for ``--sort`` (a key, an alias or a column header, any case);
    UsageError naming the valid ones."""
    word = text.strip().lower()
    if word in SORT_KEYS:
        return word
    if word in ALIASES:
        return ALIASES[word]
    for key, column in SORT_KEYS.items():
        if column.header.lower() == word:
            return key
    valid = ", ".join(SORT_KEYS)
    raise UsageError(f"unknown sort column {text[:40]!r}; valid: {valid}")


def sort_rows(rows: Iterable[Row], key: str | None, reverse: bool = False) -> list[Row]:
    """Rows in ``key`` order (None: as given, then by host); gaps last; ties by name, id."""
    listed = list(rows)
    if key is None:
        return listed[::-1] if reverse else listed
    column = SORT_KEYS[sort_key(key)]
    descending = column.numeric != reverse
    listed.sort(key=lambda r: ((r.name or "").lower(), r.id))
    present = [r for r in listed if column.value(r) is not None]
    gaps = [r for r in listed if column.value(r) is None]
    present.sort(key=column.value, reverse=descending)
    return present + gaps


@dataclass(frozen=True, slots=True)
class RowFilter:
    docker: PsFilter
    words: tuple[str, ...]  # lower-case substrings of the name or the image

    def matches(self, row: Row) -> bool:
        if self.words:
            text = f"{row.name or ''}\n{row.image or ''}".lower()
            if not all(w in text for w in self.words):
                return False
        return not self.docker.include or self.docker.matches(_ref(row))


def parse_filters(items: Sequence[str]) -> RowFilter:
    """``--filter`` values (or what was typed after ``f``); UsageError for a bad
    ``KEY=VALUE`` (an unknown key, a bad status or exit code)."""
    docker: list[str] = []
    words: list[str] = []
    for item in items:
        key, sep, _ = item.partition("=")
        if sep and key.strip().lower() in PS_KEYS:
            docker.append(item)
        elif item.strip():
            words.append(item.strip().lower())
    return RowFilter(parse_ps_filters(docker), tuple(words))


def select(rows: Iterable[Row], everything: bool, rows_filter: RowFilter) -> list[Row]:
    """Rows that pass the filter; stopped ones only with ``everything`` (or when the
    filter asks for a state, as ``docker ps`` does with ``status``)."""
    by_status = "status" in rows_filter.docker.include or "exited" in rows_filter.docker.include
    return [
        r for r in rows
        if (everything or by_status or r.state in LIVE) and rows_filter.matches(r)
    ]  # fmt: skip


def _ref(row: Row) -> ContainerRef:
    return ContainerRef(
        id=row.id,
        name=row.name,
        image=row.image,
        labels=row.labels,
        state=row.state,
        exit_code=row.finished_exit_code,
    )
