"""Per-container sample history in fixed-width rows: what ``?history=N``, post-mortems
and sparklines read, at ROW.size bytes a sample instead of a whole ContainerStats.

One ``Ring`` per container holds its last ``capacity`` samples as packed rows in one
``bytearray`` (``struct``, little-endian, no padding), oldest overwritten first. A
missing value stays a gap: NaN in a float column, an all-ones sentinel in an integer
column, mapped back to None on reading, never 0.

Columns (ROW below): the sample time, CPU (percent as float32, counters as float64),
memory usage, working set and limit (float64: exact to 2**53 bytes), pids and their
limit (uint32), network and block I/O counters (float64) and the PSI averages of cpu,
memory and io, ``some`` and ``full`` (uint16 hundredths of a percent: the kernel prints
two decimals, so this is exact). ``memory_percent`` is derived again from usage and
limit exactly as the sampler derives it. Not kept: per-interface network counters and
PSI stall totals (the latest sample has them); those read back as None.

A ring starts with NARROW rows: the same columns, but memory usage, working set and
limit and the network and block I/O byte counters as uint32 (exact below 4 GiB), 104
bytes instead of 132. The first sample with one of those at 4 GiB or more re-packs the
ring's rows as ROW once, and the ring stays wide until it is released: every value reads
back exactly as served either way.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Mapping

from watchdog_agent.model import (
    ContainerStats,
    HistoryRow,
    Pressure,
    PressureAvg,
    PsiAvg,
    PsiLine,
)

ROW = struct.Struct("<dfddfdddIIdddd18H")
NARROW = struct.Struct("<dfddfIIIIIIIII18H")  # ROW's columns, 32-bit byte counts
_NARROWED = (5, 6, 7, 10, 11, 12, 13)  # the columns NARROW holds as uint32 (not pids)
NAN = math.nan
NO_U32 = 0xFFFF_FFFF
NO_U16 = 0xFFFF
_FIRST_ROWS = 8  # a new ring's first allocation; it doubles up to its capacity
_PSI_NONE = (NO_U16,) * 6


def _f(value: float | None) -> float:
    return NAN if value is None else float(value)


def _u32(value: int | None) -> int:
    return NO_U32 if value is None or not 0 <= value < NO_U32 else value


def _psi_line(line: PsiLine | None) -> tuple[int, int, int]:
    if line is None:
        return (NO_U16, NO_U16, NO_U16)
    return (_centi(line.avg10), _centi(line.avg60), _centi(line.avg300))


def _centi(avg: float) -> int:
    value = round(avg * 100)
    return value if 0 <= value < NO_U16 else NO_U16


def _psi(p: Pressure | None) -> tuple[int, ...]:
    return _PSI_NONE if p is None else (*_psi_line(p.some), *_psi_line(p.full))


def pack(stats: ContainerStats) -> bytes:
    """One sample as a ROW (the served numbers; not the raw CgroupSample)."""
    s = stats.sample
    return ROW.pack(
        stats.sampled_at,
        _f(stats.cpu_percent),
        _f(stats.cpu_usage_seconds_total),
        _f(stats.cpu_throttled_seconds_total),
        _f(stats.cpu_throttled_percent),
        _f(stats.memory_usage_bytes),
        _f(stats.memory_working_set_bytes),
        _f(stats.memory_limit_bytes),
        _u32(stats.pids),
        _u32(stats.pids_limit),
        _f(stats.net_rx_bytes),
        _f(stats.net_tx_bytes),
        _f(stats.blk_read_bytes),
        _f(stats.blk_write_bytes),
        *_psi(s.psi_cpu),
        *_psi(s.psi_memory),
        *_psi(s.psi_io),
    )


def _n32(value: int | None) -> int:
    """A byte count as a NARROW column; ValueError when it needs a wide row."""
    if value is None:
        return NO_U32
    if type(value) is not int or not 0 <= value < NO_U32:
        raise ValueError(value)
    return value


def pack_narrow(stats: ContainerStats) -> bytes:
    """One sample as a NARROW row; ValueError when a byte count does not fit 32 bits."""
    s = stats.sample
    return NARROW.pack(
        stats.sampled_at,
        _f(stats.cpu_percent),
        _f(stats.cpu_usage_seconds_total),
        _f(stats.cpu_throttled_seconds_total),
        _f(stats.cpu_throttled_percent),
        _n32(stats.memory_usage_bytes),
        _n32(stats.memory_working_set_bytes),
        _n32(stats.memory_limit_bytes),
        _u32(stats.pids),
        _u32(stats.pids_limit),
        _n32(stats.net_rx_bytes),
        _n32(stats.net_tx_bytes),
        _n32(stats.blk_read_bytes),
        _n32(stats.blk_write_bytes),
        *_psi(s.psi_cpu),
        *_psi(s.psi_memory),
        *_psi(s.psi_io),
    )


def _wide(data: tuple[float, ...]) -> tuple[float, ...]:
    """A NARROW row's values as ROW's (a gap's all-ones becomes NaN)."""
    out = list(data)
    for i in _NARROWED:
        if out[i] == NO_U32:
            out[i] = NAN
    return tuple(out)


def _float(value: float) -> float | None:
    return None if value != value else value


def _float32(value: float) -> float | None:
    # a float32 column: give the digits it holds, not the binary expansion's tail
    return None if value != value else float(f"{value:.7g}")


def _int(value: float) -> int | None:
    return None if value != value else int(value)


def _avg(values: tuple[int, ...]) -> PsiAvg | None:
    if NO_U16 in values:
        return None
    return PsiAvg(values[0] / 100, values[1] / 100, values[2] / 100)


def _pressure(values: tuple[int, ...]) -> PressureAvg | None:
    some, full = _avg(values[:3]), _avg(values[3:])
    return None if some is None and full is None else PressureAvg(some, full)


def unpack(cid: str, name: str | None, image: str | None, data: tuple[float, ...]) -> HistoryRow:
    t, cpu, cpu_s, thr_s, thr, mem, ws, limit, pids, pids_limit = data[:10]
    usage, mem_limit = _int(mem), _int(limit)
    psi = data[14:]
    return HistoryRow(
        id=cid,
        name=name,
        image=image,
        sampled_at=t,
        cpu_percent=_float32(cpu),
        cpu_usage_seconds_total=_float(cpu_s),
        cpu_throttled_seconds_total=_float(thr_s),
        cpu_throttled_percent=_float32(thr),
        memory_usage_bytes=usage,
        memory_working_set_bytes=_int(ws),
        memory_limit_bytes=mem_limit,
        memory_percent=None if usage is None or not mem_limit else usage / mem_limit * 100.0,
        pids=None if pids == NO_U32 else int(pids),
        pids_limit=None if pids_limit == NO_U32 else int(pids_limit),
        net_rx_bytes=_int(data[10]),
        net_tx_bytes=_int(data[11]),
        blk_read_bytes=_int(data[12]),
        blk_write_bytes=_int(data[13]),
        psi_cpu=_pressure(tuple(int(v) for v in psi[0:6])),
        psi_memory=_pressure(tuple(int(v) for v in psi[6:12])),
        psi_io=_pressure(tuple(int(v) for v in psi[12:18])),
    )


class Ring:
    """One container's last ``capacity`` samples as packed rows (NARROW until a value
    needs ROW)."""

    __slots__ = ("buf", "capacity", "count", "image", "last_seen", "name", "row", "start")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.row = NARROW
        self.buf = bytearray(NARROW.size * min(capacity, _FIRST_ROWS))
        self.count = 0  # rows held
        self.start = 0  # slot of the oldest row once full
        self.name: str | None = None
        self.image: str | None = None
        self.last_seen = 0.0  # unix seconds of the last append

    @property
    def wide(self) -> bool:
        return self.row is ROW

    def _widen(self) -> None:
        """Re-pack every row as ROW (once: the ring then stays wide)."""
        old, slots = self.buf, len(self.buf) // NARROW.size
        self.buf = bytearray(ROW.size * slots)
        for i in range(slots):
            ROW.pack_into(self.buf, i * ROW.size, *_wide(NARROW.unpack_from(old, i * NARROW.size)))
        self.row = ROW

    def append(self, stats: ContainerStats, seen: float) -> None:
        if self.row is NARROW:
            try:
                row = pack_narrow(stats)
            except ValueError:
                self._widen()
                row = pack(stats)
        else:
            row = pack(stats)
        size = self.row.size
        if self.count < self.capacity:
            if (self.count + 1) * size > len(self.buf):  # grow to an exact size, no slack
                grown = bytearray(size * min(self.capacity, 2 * self.count))
                grown[: len(self.buf)] = self.buf
                self.buf = grown
            slot = self.count
            self.count += 1
        else:
            slot = self.start
            self.start = (self.start + 1) % self.capacity
        self.buf[slot * size : (slot + 1) * size] = row
        self.name, self.image, self.last_seen = stats.name, stats.image, seen

    def slots(self, n: int) -> Iterator[int]:
        """The slots of the last ``n`` rows, oldest first."""
        n = min(n, self.count)
        first = (self.start + self.count - n) % self.capacity if self.count else 0
        for i in range(n):
            yield (first + i) % self.capacity

    def rows(self, cid: str, n: int) -> list[HistoryRow]:
        fmt = self.row
        size, buf, name, image = fmt.size, self.buf, self.name, self.image
        if fmt is NARROW:
            return [
                unpack(cid, name, image, _wide(fmt.unpack_from(buf, slot * size)))
                for slot in self.slots(n)
            ]
        return [
            unpack(cid, name, image, fmt.unpack_from(buf, slot * size)) for slot in self.slots(n)
        ]

    def times(self) -> list[float]:
        """The sample times, oldest first (the first column, without unpacking rows)."""
        size = self.row.size
        return [
            struct.unpack_from("<d", self.buf, slot * size)[0] for slot in self.slots(self.count)
        ]

    @property
    def nbytes(self) -> int:
        return len(self.buf)


class History:
    """A Ring per container; rings of containers unseen for ``grace`` seconds are dropped."""

    def __init__(self, capacity: int, grace: float) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.capacity = capacity
        self.grace = grace
        self._rings: dict[str, Ring] = {}
        self.dropped = 0  # rings released after their container was gone

    def __len__(self) -> int:
        return len(self._rings)

    def __contains__(self, cid: object) -> bool:
        return cid in self._rings

    @property
    def wide(self) -> int:
        """Rings holding ROW rows (a value needed more than 32 bits)."""
        return sum(1 for r in self._rings.values() if r.row is ROW)

    @property
    def nbytes(self) -> int:
        """Bytes of row storage held (without the small per-ring objects)."""
        return sum(r.nbytes for r in self._rings.values())

    def record(self, containers: Mapping[str, ContainerStats], now: float) -> None:
        """Append one pass's samples; drop the rings unseen for longer than ``grace``."""
        rings = self._rings
        for cid, stats in containers.items():
            ring = rings.get(cid)
            if ring is None:
                ring = rings[cid] = Ring(self.capacity)
            ring.append(stats, now)
        stale = [cid for cid, ring in rings.items() if now - ring.last_seen > self.grace]
        for cid in stale:
            del rings[cid]
        self.dropped += len(stale)

    def rows(self, cid: str, n: int) -> list[HistoryRow]:
        """The container's last ``n`` samples, oldest first ([] when none are kept)."""
        ring = self._rings.get(cid)
        return [] if ring is None or n < 1 else ring.rows(cid, n)

    def since(self, cid: str, t: float) -> list[HistoryRow]:
        """The container's samples taken at or after unix time ``t``, oldest first."""
        ring = self._rings.get(cid)
        if ring is None:
            return []
        times = ring.times()
        keep = sum(1 for x in times if x >= t)
        return ring.rows(cid, keep)
