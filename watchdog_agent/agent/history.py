"""Per-container sample history in packed rows: what ``?history=N``, post-mortems and
sparklines read, at a few dozen bytes a sample instead of a whole ContainerStats.

One ``Ring`` per container holds its last ``capacity`` samples in one ``bytearray``
(``struct``, little-endian, no padding), oldest overwritten first. A missing value stays
a gap, mapped back to None on reading, never 0.

What a row keeps (COLUMNS integers and two floats): the sample time in whole
microseconds (what the API serves: RFC 3339 with microseconds, rounded as
``datetime.fromtimestamp`` rounds), the CPU and throttled time as the nanosecond
counters they are derived from (``ns / 1e9`` gives the served float back bit for bit),
memory usage, working set (as its difference from usage: the sampler serves them
equal) and limit, pids and their limit, the network and block I/O byte counters and
the PSI averages of cpu, memory and io, ``some`` and ``full``, in hundredths of a
percent (the kernel prints two decimals: exact); CPU percent and throttled percent as
float32 (7 significant digits, NaN for a gap). ``memory_percent`` is derived again from
usage and limit exactly as the sampler derives it. Not kept: per-interface network
counters and PSI stall totals (the latest sample has them); those read back as None.

Each integer column is delta-encoded against a per-ring base, at the narrowest width
its values in the ring need: nothing at all while every row holds the base's value
(a limit, an idle container's PSI, a gap that is always a gap), else a signed 8, 16, 32
or 64-bit difference from the base in units of the differences' greatest common
divisor (4096 for memory in pages, 1000 for CPU nanoseconds that cgroup v2 counts in
microseconds), and a per-row bit mask for the gaps of such a column once one had a
gap. A value that does not fit its column re-packs the ring once
with the base moved to each column's smallest value and every width recomputed from
the rows held, with room for HEADROOM times their span (so a ring also narrows again as
old rows leave, and a steadily growing counter re-packs it at most every few rings'
worth of samples: the time column about every 30 minutes at 1 s). A sample the compact
rows cannot hold exactly (a served CPU total that is not ``ns / 1e9``, a value that is
not an integer) turns the ring into WIDE rows (ROW below: float64 counters, exact to
2**53) until it is released.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Iterator, Mapping

from watchdog_agent.agent.widerows import (
    NO_U16,
    ROW,
    _f,
    _float32,
    _percent,
    _pressure,
    _u32,
    pack,
    unpack,
)
from watchdog_agent.model import ContainerStats, HistoryRow, Pressure, PsiLine

NS = 1_000_000_000
US = 1_000_000
_FIRST_ROWS = 8  # a new ring's first allocation; it doubles up to its capacity

# the integer columns of a compact row (the two float32 percentages come first)
T, CPU_NS, THR_NS, MEM, WS, LIMIT, PIDS, PIDS_LIMIT, RX, TX, RD, WR = range(12)
PSI_FIRST = 12  # 18 PSI averages: cpu, memory, io; some then full; avg10, avg60, avg300
COLUMNS = PSI_FIRST + 18
CONST = ""  # a column held once per ring, in its base
WIDTHS = (("b", 0x7F), ("h", 0x7FFF), ("i", 0x7FFF_FFFF), ("q", 0x7FFF_FFFF_FFFF_FFFF))
# a re-pack gives each column room for HEADROOM times the span its rows held: a counter
# that keeps growing at the same rate needs the next re-pack HEADROOM - 1 rings later
HEADROOM = 4

Values = list[int | None]
_ONES = (1,) * COLUMNS


def micros(t: float) -> int:
    """``t`` in whole microseconds, rounded as ``datetime.fromtimestamp`` rounds (the
    fraction, half to even): ``micros(t) / 1e6`` formats as the same RFC 3339 string."""
    whole = math.trunc(t)
    return whole * US + round((t - whole) * US)


def _ns(seconds: float | None, ns: int | None) -> int | None:
    """The counter behind a served CPU total; ValueError when it does not give it back."""
    if seconds is None:
        return None
    if ns is None or ns / NS != seconds:
        raise ValueError(seconds)
    return ns


def _hundredths(line: PsiLine | None) -> tuple[int | None, ...]:
    if line is None:
        return (None, None, None)
    return (round(line.avg10 * 100), round(line.avg60 * 100), round(line.avg300 * 100))


def _pressure_values(p: Pressure | None) -> tuple[int | None, ...]:
    if p is None:
        return (None,) * 6
    return (*_hundredths(p.some), *_hundredths(p.full))


def values(stats: ContainerStats) -> Values:
    """A sample's integer columns; ValueError when a CPU total is not its counter / 1e9."""
    s = stats.sample
    usage, ws = stats.memory_usage_bytes, stats.memory_working_set_bytes
    return [
        micros(stats.sampled_at),
        _ns(stats.cpu_usage_seconds_total, s.cpu_usage_ns),
        _ns(stats.cpu_throttled_seconds_total, s.cpu_throttled_ns),
        usage,
        None if ws is None else ws - (usage or 0),
        stats.memory_limit_bytes,
        stats.pids,
        stats.pids_limit,
        stats.net_rx_bytes,
        stats.net_tx_bytes,
        stats.blk_read_bytes,
        stats.blk_write_bytes,
        *_pressure_values(s.psi_cpu),
        *_pressure_values(s.psi_memory),
        *_pressure_values(s.psi_io),
    ]


def compact_row(
    cid: str, name: str | None, image: str | None, cpu: float, thr: float, v: Values
) -> HistoryRow:
    """A compact row's columns as a HistoryRow."""
    t, cpu_ns, thr_ns, usage, ws, limit = v[T], v[CPU_NS], v[THR_NS], v[MEM], v[WS], v[LIMIT]
    return HistoryRow(
        id=cid,
        name=name,
        image=image,
        sampled_at=(t or 0) / US,
        cpu_percent=_float32(cpu),
        cpu_usage_seconds_total=None if cpu_ns is None else cpu_ns / NS,
        cpu_throttled_seconds_total=None if thr_ns is None else thr_ns / NS,
        cpu_throttled_percent=_float32(thr),
        memory_usage_bytes=usage,
        memory_working_set_bytes=None if ws is None else ws + (usage or 0),
        memory_limit_bytes=limit,
        memory_percent=_percent(usage, limit),
        pids=v[PIDS],
        pids_limit=v[PIDS_LIMIT],
        net_rx_bytes=v[RX],
        net_tx_bytes=v[TX],
        blk_read_bytes=v[RD],
        blk_write_bytes=v[WR],
        psi_cpu=_pressure(tuple(v[PSI_FIRST : PSI_FIRST + 6])),
        psi_memory=_pressure(tuple(v[PSI_FIRST + 6 : PSI_FIRST + 12])),
        psi_io=_pressure(tuple(v[PSI_FIRST + 12 : PSI_FIRST + 18])),
    )


def _wide_row(cpu: float, thr: float, v: Values) -> tuple[float, ...]:
    """A compact row's columns as ROW's."""
    row = compact_row("", None, None, cpu, thr, v)
    psi = [NO_U16 if x is None or not 0 <= x < NO_U16 else x for x in v[PSI_FIRST:]]
    return (
        row.sampled_at, cpu, _f(row.cpu_usage_seconds_total),
        _f(row.cpu_throttled_seconds_total), thr, _f(row.memory_usage_bytes),
        _f(row.memory_working_set_bytes), _f(row.memory_limit_bytes), _u32(row.pids),
        _u32(row.pids_limit), _f(row.net_rx_bytes), _f(row.net_tx_bytes),
        _f(row.blk_read_bytes), _f(row.blk_write_bytes), *psi,
    )  # fmt: skip


@functools.cache
def _shape(
    codes: tuple[str, ...], masked: bool
) -> tuple[tuple[str, ...], tuple[int, ...], tuple[int, ...], struct.Struct]:
    """A row layout's columns held once, columns packed and Struct (shared by rings)."""
    consts = tuple(i for i, c in enumerate(codes) if c == CONST)
    packed = tuple(i for i, c in enumerate(codes) if c != CONST)
    return codes, consts, packed, struct.Struct("<ff" + ("I" if masked else "") + "".join(codes))


class Ring:
    """One container's last ``capacity`` samples as packed rows (compact, delta-encoded
    against ``base`` at the widths in ``codes``, until a sample needs WIDE rows)."""

    __slots__ = (
        "allocated", "base", "buf", "capacity", "codes", "consts", "count", "fmt", "image",
        "last_seen", "masked", "name", "packed", "scale", "start", "wide",
    )  # fmt: skip

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.allocated = min(capacity, _FIRST_ROWS)  # rows the buffer has room for
        self.count = 0  # rows held
        self.start = 0  # slot of the oldest row once full
        self.name: str | None = None
        self.image: str | None = None
        self.last_seen = 0.0  # unix seconds of the last append
        self.wide = False  # ROW rows from now on
        self.base: Values = [None] * COLUMNS
        self.masked = False  # rows carry a gap mask (a packed column had a gap)
        self.scale: tuple[int, ...] = _ONES  # each column's differences are multiples of it
        self._shape((CONST,) * COLUMNS)
        self.buf = bytearray(self.fmt.size * self.allocated)

    def _shape(self, codes: tuple[str, ...]) -> None:
        self.codes, self.consts, self.packed, self.fmt = _shape(codes, self.masked)

    @property
    def row_size(self) -> int:
        return self.fmt.size

    def append(self, stats: ContainerStats, seen: float) -> None:
        row: bytes | None = None
        if self.wide:
            row = pack(stats)
        else:
            cpu, thr = _f(stats.cpu_percent), _f(stats.cpu_throttled_percent)
            try:
                v = values(stats)
            except ValueError:
                pass
            else:
                row = self._encode(v, cpu, thr)
                if row is None and self._reshape(v):
                    row = self._encode(v, cpu, thr)
            if row is None:
                self._widen()
                row = pack(stats)
        self._put(row)
        self.name, self.image, self.last_seen = stats.name, stats.image, seen

    def _encode(self, v: Values, cpu: float, thr: float) -> bytes | None:
        """The row for ``v`` at the ring's widths; None when a value does not fit."""
        base, scale = self.base, self.scale
        for i in self.consts:
            if v[i] != base[i]:
                return None
        args: list[float | int] = [cpu, thr, 0] if self.masked else [cpu, thr]
        mask = 0
        for i in self.packed:
            x = v[i]
            if x is None:
                mask |= 1 << i
                args.append(0)
                continue
            d = x - base[i]  # type: ignore[operator]  # packed: base is int
            if scale[i] != 1:
                if d % scale[i]:
                    return None
                d //= scale[i]
            args.append(d)
        if mask:
            if not self.masked:
                return None
            args[2] = mask
        try:
            return self.fmt.pack(*args)
        except (struct.error, OverflowError, TypeError):
            return None

    def _decode(self, slot: int) -> tuple[float, float, Values]:
        fmt = self.fmt
        data = fmt.unpack_from(self.buf, slot * fmt.size)
        v = list(self.base)
        base, scale = self.base, self.scale
        first = 3 if self.masked else 2
        mask = data[2] if self.masked else 0
        for k, i in enumerate(self.packed, first):
            v[i] = None if mask >> i & 1 else base[i] + data[k] * scale[i]
        return data[0], data[1], v

    def _reshape(self, new: Values) -> bool:
        """Re-pack the rows held (less the one ``new`` replaces when full) at widths that
        fit them and ``new``, against each column's smallest value; False when no width
        does (a value that is not an integer, a span of 2**63 or more)."""
        rows = [self._decode(slot) for slot in self.slots(self.count)]
        if self.count == self.capacity:
            rows = rows[1:]
        codes: list[str] = []
        base: Values = []
        scale: list[int] = []
        masked = False
        for i in range(COLUMNS):
            column = [r[2][i] for r in rows]
            column.append(new[i])
            present = [x for x in column if x is not None]
            if any(type(x) is not int for x in present):
                return False
            if all(x == column[0] for x in column):
                codes.append(CONST)
                base.append(column[0])
                scale.append(1)
                continue
            masked = masked or len(present) < len(column)
            low = min(present)
            step = math.gcd(*(x - low for x in present)) or 1  # pages, microseconds ...
            span = (max(present) - low) // step
            if span > WIDTHS[-1][1]:
                return False
            codes.append(next((c for c, top in WIDTHS if span * HEADROOM <= top), "q"))
            base.append(low)
            scale.append(step)
        self.base, self.masked, self.scale = base, masked, tuple(scale)
        self._shape(tuple(codes))
        size = self.fmt.size
        buf = bytearray(size * self.allocated)
        for k, (cpu, thr, v) in enumerate(rows):
            row = self._encode(v, cpu, thr)
            assert row is not None  # every held value fits by construction
            buf[k * size : (k + 1) * size] = row
        self.buf, self.count, self.start = buf, len(rows), 0
        return True

    def _widen(self) -> None:
        """Re-pack every row as ROW (once: the ring then stays wide)."""
        rows = [self._decode(slot) for slot in self.slots(self.count)]
        self.buf = bytearray(ROW.size * self.allocated)
        for k, (cpu, thr, v) in enumerate(rows):
            ROW.pack_into(self.buf, k * ROW.size, *_wide_row(cpu, thr, v))
        self.start, self.wide = 0, True

    def _put(self, row: bytes) -> None:
        size = len(row)
        if self.count < self.capacity:
            if self.count == self.allocated:  # grow to an exact size, no slack
                self.allocated = min(self.capacity, 2 * self.count)
                grown = bytearray(size * self.allocated)
                grown[: len(self.buf)] = self.buf
                self.buf = grown
            slot = self.count
            self.count += 1
        else:
            slot = self.start
            self.start = (self.start + 1) % self.capacity
        self.buf[slot * size : (slot + 1) * size] = row

    def slots(self, n: int) -> Iterator[int]:
        """The slots of the last ``n`` rows, oldest first."""
        n = min(n, self.count)
        first = (self.start + self.count - n) % self.capacity if self.count else 0
        for i in range(n):
            yield (first + i) % self.capacity

    def rows(self, cid: str, n: int) -> list[HistoryRow]:
        name, image = self.name, self.image
        if self.wide:
            buf = self.buf
            return [
                unpack(cid, name, image, ROW.unpack_from(buf, slot * ROW.size))
                for slot in self.slots(n)
            ]
        return [compact_row(cid, name, image, *self._decode(slot)) for slot in self.slots(n)]

    def times(self) -> list[float]:
        """The sample times, oldest first."""
        if self.wide:
            return [ROW.unpack_from(self.buf, s * ROW.size)[0] for s in self.slots(self.count)]
        return [(self._decode(s)[2][T] or 0) / US for s in self.slots(self.count)]

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
        """Rings holding WIDE rows (a sample the compact rows could not hold exactly)."""
        return sum(1 for r in self._rings.values() if r.wide)

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
