"""The main table's columns as data: title, width, cell formatter, sort key (pure).

A cell is a tuple of pieces ``(text, tone)``; the widget maps each tone to a style from
the stylesheet (so colours follow the theme and ``NO_COLOR``) and pads or crops the cell
to the column's width. Absent numbers are gaps ("-"), never 0. Untrusted text (names,
images, host names) is escaped with ``termsafe.escape`` here, where the cell is made.

The CPU bar is limit-aware: its full length is what the container may use, its
``--cpus`` limit when it has one (50 % of a ``--cpus 0.5`` container fills it), else the
host's CPUs (as the Row contract says; one core when the host's count is unknown). The
number beside it keeps ``docker stats`` semantics (100 % = one core).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from watchdog_agent.commands.textfmt import binary_size
from watchdog_agent.errors import UsageError
from watchdog_agent.termsafe import escape

from .view import Row

GAP = "-"
BAR_WIDTH = 8
_EIGHTHS = " ▏▎▍▌▋▊▉"
_FULL = "█"
_EMPTY = "·"


class Tone(enum.StrEnum):
    """How a piece of a cell is shown; the widget maps each to a component style."""

    PLAIN = "plain"
    DIM = "dim"
    OK = "ok"
    WARN = "warn"
    CRIT = "crit"


Piece = tuple[str, Tone]
Cell = tuple[Piece, ...]
SortValue = float | str | tuple[float | str, ...]


@dataclass(frozen=True, slots=True)
class Context:
    """What a formatter needs besides the row: the time (uptime) and each host's CPUs."""

    now: float
    host_cpus: Mapping[str, int | None]
    host_names: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # short name for --sort and tests
    title: str
    width: int
    format: Callable[[Row, Context], Cell]
    sort_key: Callable[[Row], SortValue | None]  # None: a gap, sorted last either way
    descending: bool = False  # the first click sorts biggest first
    right: bool = False  # numbers are right-aligned


def _plain(text: str | None) -> Cell:
    return ((GAP, Tone.DIM),) if text is None else ((text, Tone.PLAIN),)


def _fold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


# --- units ---------------------------------------------------------------------------

_DECIMAL = ("B", "kB", "MB", "GB", "TB", "PB")


def rate(value: float | None) -> str:
    """Bytes per second in decimal units, three significant digits: ``12.3kB/s``."""
    if value is None:
        return GAP
    i = 0
    while value >= 999.5 and i < len(_DECIMAL) - 1:
        value /= 1000.0
        i += 1
    return f"{value:.3g}{_DECIMAL[i]}/s" if i else f"{value:.0f}B/s"


def duration(seconds: float) -> str:
    """A compact uptime (as ``dstats --once`` prints it): ``45s``, ``12m03s``, ``5h07m``,
    ``3d04h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def percent(value: float | None, digits: int = 1) -> str:
    return GAP if value is None else f"{value:.{digits}f}%"


def level(fraction: float, warn: float, crit: float) -> Tone:
    return Tone.CRIT if fraction >= crit else Tone.WARN if fraction >= warn else Tone.OK


# --- cells ---------------------------------------------------------------------------


def cpu_ceiling(row: Row, ctx: Context) -> float:
    """What a full bar stands for, in docker-stats percent (100 = one core)."""
    if row.cpu_limit is not None and row.cpu_limit > 0:
        return 100.0 * row.cpu_limit
    cpus = ctx.host_cpus.get(row.host)
    return 100.0 * cpus if cpus else 100.0


def bar(fraction: float, width: int = BAR_WIDTH) -> tuple[str, str]:
    """(filled, empty) glyphs of a bar ``fraction`` full (clamped to 0..1), in eighths."""
    eighths = round(min(max(fraction, 0.0), 1.0) * width * 8)
    full, part = divmod(eighths, 8)
    filled = _FULL * full + (_EIGHTHS[part] if part else "")
    return filled, _EMPTY * (width - len(filled))


def cpu_cell(row: Row, ctx: Context) -> Cell:
    if row.cpu_percent is None:
        return ((_EMPTY * BAR_WIDTH, Tone.DIM), (" " + GAP, Tone.DIM))
    fraction = row.cpu_percent / cpu_ceiling(row, ctx)
    filled, empty = bar(fraction)
    return (
        (filled, level(fraction, 0.5, 0.8)),
        (empty, Tone.DIM),
        (f" {row.cpu_percent:5.1f}%", Tone.PLAIN),
    )


def state_text(row: Row, now: float) -> str | None:
    """``running 5m03s``; ``exited (137, OOM)``; the state alone when nothing more is known."""
    if row.state is None:
        return None
    if row.running and row.started_at is not None:
        return f"{row.state} {duration(now - row.started_at)}"
    if row.finished_exit_code is not None:
        oom = ", OOM" if row.oom_killed else ""
        return f"{row.state} ({row.finished_exit_code}{oom})"
    return row.state


def state_cell(row: Row, ctx: Context) -> Cell:
    text = state_text(row, ctx.now)
    if text is None:
        return _plain(None)
    if row.state == "running":
        tone = Tone.OK
    elif row.state in ("paused", "restarting", "created", "removing"):
        tone = Tone.WARN
    elif row.oom_killed or (row.finished_exit_code or 0) != 0 or row.state == "dead":
        tone = Tone.CRIT
    else:
        tone = Tone.DIM
    return ((text, tone),)


def memory_text(row: Row) -> str:
    if row.memory_usage_bytes is None and row.memory_limit_bytes is None:
        return GAP
    limit = "unlimited" if row.memory_limit_bytes is None else binary_size(row.memory_limit_bytes)
    return f"{binary_size(row.memory_usage_bytes)} / {limit}"


def memory_percent_cell(row: Row, ctx: Context) -> Cell:
    return threshold_cell(row.memory_percent, 80.0, 95.0)


def pair(a: float | None, b: float | None) -> str:
    return GAP if a is None and b is None else f"{rate(a)} / {rate(b)}"


def pair_sum(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


def threshold_cell(value: float | None, warn: float, crit: float) -> Cell:
    if value is None:
        return _plain(None)
    tone = Tone.PLAIN if value < warn else level(value, warn, crit)
    return ((percent(value), tone),)


def count(value: int | None) -> Cell:
    return _plain(None if value is None else str(value))


def _finite(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def _state_key(row: Row) -> SortValue | None:
    if row.state is None:
        return None
    # running first, the longest-running first among them; then the others by name
    return (0.0, -(row.started_at or 0.0)) if row.running else (1.0, row.state)


# --- the columns ---------------------------------------------------------------------

HOST = Column(
    "host", "HOST", 16, lambda r, c: _plain(escape(c.host_names.get(r.host, r.host))),
    lambda r: r.host.casefold(),
)  # fmt: skip
COLUMNS: tuple[Column, ...] = (
    Column("name", "NAME", 20, lambda r, c: _plain(None if r.name is None else escape(r.name)),
           lambda r: _fold(r.name)),
    Column("id", "ID", 12, lambda r, c: _plain(escape(r.id[:12])), lambda r: r.id),
    Column("image", "IMAGE", 20,
           lambda r, c: _plain(None if r.image is None else escape(r.image)),
           lambda r: _fold(r.image)),
    Column("state", "STATE", 17, state_cell, _state_key),
    Column("cpu", "CPU %", 16, cpu_cell, lambda r: _finite(r.cpu_percent), descending=True),
    Column("mem", "MEM USAGE / LIMIT", 19, lambda r, c: _plain(memory_text(r)),
           lambda r: r.memory_usage_bytes, descending=True, right=True),
    Column("mem%", "MEM %", 6, memory_percent_cell, lambda r: _finite(r.memory_percent),
           descending=True, right=True),
    Column("net", "NET I/O", 19, lambda r, c: _plain(pair(r.net_rx_rate, r.net_tx_rate)),
           lambda r: pair_sum(r.net_rx_rate, r.net_tx_rate), descending=True, right=True),
    Column("block", "BLOCK I/O", 19,
           lambda r, c: _plain(pair(r.blk_read_rate, r.blk_write_rate)),
           lambda r: pair_sum(r.blk_read_rate, r.blk_write_rate), descending=True, right=True),
    Column("pids", "PIDS", 5, lambda r, c: count(r.pids), lambda r: r.pids,
           descending=True, right=True),
    Column("psi", "PSI", 6, lambda r, c: threshold_cell(r.psi_cpu_some_avg10, 10.0, 40.0),
           lambda r: _finite(r.psi_cpu_some_avg10), descending=True, right=True),
    Column("throttled", "THROTTLED %", 11,
           lambda r, c: threshold_cell(r.throttled_percent, 5.0, 25.0),
           lambda r: _finite(r.throttled_percent), descending=True, right=True),
    Column("restarts", "RESTARTS", 8, lambda r, c: count(r.restart_count),
           lambda r: r.restart_count, descending=True, right=True),
)  # fmt: skip
DEFAULT_SORT = "cpu"


def columns_for(multi_host: bool) -> tuple[Column, ...]:
    """The table's columns: HOST first when the fleet has more than one host."""
    return (HOST, *COLUMNS) if multi_host else COLUMNS


ALIASES = {
    "uptime": "state", "mem-percent": "mem%", "memp": "mem%", "memory": "mem", "io": "block",
    "blkio": "block", "restart": "restarts", "throttle": "throttled", "cpu%": "cpu",
    "container": "name",
}  # fmt: skip


def find_column(name: str | None) -> Column | None:
    """A column by short key, alias or title, case-insensitively (``cpu``, ``CPU %``;
    the keys and aliases ``dstats --sort`` accepts)."""
    if name is None:
        return None
    wanted = name.strip().casefold()
    wanted = ALIASES.get(wanted, wanted)
    for column in (HOST, *COLUMNS):
        if wanted in (column.key, column.title.casefold()):
            return column
    return None


def sort_column(text: str) -> Column:
    """``--sort``'s column (a key, an alias or a title, any case); a UsageError naming
    the valid keys."""
    column = find_column(text)
    if column is None:
        valid = ", ".join(c.key for c in (HOST, *COLUMNS))
        raise UsageError(f"unknown sort column {text[:40]!r}; valid: {valid}, uptime")
    return column
