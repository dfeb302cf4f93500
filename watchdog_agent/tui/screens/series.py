"""The container view's time series (pure): CPU, memory, network and block I/O rates and
PSI, filled at once from the agent's kept samples and extended by each published row.
A missing value stays a gap (None); the sparklines draw only the known points."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from watchdog_agent.commands.textfmt import binary_size, decimal_size
from watchdog_agent.model import ContainerStats
from watchdog_agent.tui.view import Row

from .base import MISSING

KEEP = 300  # points per series: five minutes at the default one-second interval


class Spec(NamedTuple):
    key: str
    title: str
    unit: str  # "%", "bytes" (1024-based) or "rate" (1000-based, per second)


SPECS = (
    Spec("cpu", "CPU %", "%"),
    Spec("mem", "MEMORY", "bytes"),
    Spec("net_rx", "NET RX", "rate"),
    Spec("net_tx", "NET TX", "rate"),
    Spec("blk_read", "BLOCK READ", "rate"),
    Spec("blk_write", "BLOCK WRITE", "rate"),
    Spec("psi", "PSI CPU some", "%"),
)


def show(value: float | None, unit: str) -> str:
    if value is None:
        return MISSING
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "bytes":
        return binary_size(int(value))
    return f"{decimal_size(int(value))}/s"


def _rate(a: int | None, b: int | None, seconds: float) -> float | None:
    if a is None or b is None or seconds <= 0 or b < a:  # b < a: the counter was reset
        return None
    return (b - a) / seconds


def _psi(s: ContainerStats) -> float | None:
    p = s.sample.psi_cpu
    return None if p is None or p.some is None else p.some.avg10


RATES = (
    ("net_rx", "net_rx_bytes"),
    ("net_tx", "net_tx_bytes"),
    ("blk_read", "blk_read_bytes"),
    ("blk_write", "blk_write_bytes"),
)


def points(history: Sequence[ContainerStats]) -> Iterator[tuple[float, dict[str, float | None]]]:
    """(sampled_at, values) of each kept sample; rates from the one before it (the first
    sample has none)."""
    before: ContainerStats | None = None
    for s in history:
        point: dict[str, float | None] = {
            "cpu": s.cpu_percent,
            "mem": None if s.memory_usage_bytes is None else float(s.memory_usage_bytes),
            "psi": _psi(s),
        }
        for key, counter in RATES:
            point[key] = (
                None
                if before is None
                else _rate(getattr(before, counter), getattr(s, counter),
                           s.sampled_at - before.sampled_at)
            )  # fmt: skip
        yield s.sampled_at, point
        before = s


def row_point(row: Row) -> dict[str, float | None]:
    return {
        "cpu": row.cpu_percent,
        "mem": None if row.memory_usage_bytes is None else float(row.memory_usage_bytes),
        "net_rx": row.net_rx_rate,
        "net_tx": row.net_tx_rate,
        "blk_read": row.blk_read_rate,
        "blk_write": row.blk_write_rate,
        "psi": row.psi_cpu_some_avg10,
    }


class Series:
    """Every series of one container, the same length, oldest first."""

    def __init__(self, keep: int = KEEP) -> None:
        self.keep = keep
        self.values: dict[str, deque[float | None]] = {
            spec.key: deque(maxlen=keep) for spec in SPECS
        }
        self.last_at: float | None = None
        self.times: deque[float] = deque(maxlen=keep)

    def fill(self, history: Sequence[ContainerStats]) -> None:
        """Start again from the kept samples."""
        for values in self.values.values():
            values.clear()
        self.times.clear()
        self.last_at = None
        for at, point in points(history):
            self._add(at, point)

    def extend(self, row: Row, at: float | None) -> bool:
        """Add a published row; False when it is not newer than the last point."""
        if at is None or (self.last_at is not None and at <= self.last_at):
            return False
        self._add(at, row_point(row))
        return True

    def _add(self, at: float, point: dict[str, float | None]) -> None:
        for key, values in self.values.items():
            values.append(point.get(key))
        self.times.append(at)
        self.last_at = at

    def __len__(self) -> int:
        return len(self.values["cpu"])

    def span(self) -> str:
        """How much the series cover, in words: "60 samples over 59 s"."""
        if not self.times:
            return "no samples"
        seconds = self.times[-1] - self.times[0]
        length = f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
        noun = "sample" if len(self.times) == 1 else "samples"
        return f"{len(self.times)} {noun} over {length}"

    def known(self, key: str) -> list[float]:
        """The points to draw: the gaps left out."""
        return [v for v in self.values[key] if v is not None]

    def summary(self, spec: Spec) -> str:
        known = self.known(spec.key)
        if not known:
            return "no samples"
        last = self.values[spec.key][-1]
        return f"{show(last, spec.unit):>10}  max {show(max(known), spec.unit)}"
