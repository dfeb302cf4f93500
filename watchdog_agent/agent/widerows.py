"""The history's WIDE rows (agent/history.py): the served numbers as float64 counters,
exact to 2**53, for a ring whose samples its compact rows cannot hold exactly."""

from __future__ import annotations

import math
import struct

from watchdog_agent.model import (
    ContainerStats,
    HistoryRow,
    Pressure,
    PressureAvg,
    PsiAvg,
    PsiLine,
)

ROW = struct.Struct("<dfddfdddIIdddd18H")
NAN = math.nan
NO_U32 = 0xFFFF_FFFF
NO_U16 = 0xFFFF
_PSI_NONE = (NO_U16,) * 6


def _f(value: float | None) -> float:
    return NAN if value is None else float(value)


def _u32(value: int | None) -> int:
    return NO_U32 if value is None or not 0 <= value < NO_U32 else value


def _centi(avg: float) -> int:
    value = round(avg * 100)
    return value if 0 <= value < NO_U16 else NO_U16


def _psi_line(line: PsiLine | None) -> tuple[int, int, int]:
    if line is None:
        return (NO_U16, NO_U16, NO_U16)
    return (_centi(line.avg10), _centi(line.avg60), _centi(line.avg300))


def _psi(p: Pressure | None) -> tuple[int, ...]:
    return _PSI_NONE if p is None else (*_psi_line(p.some), *_psi_line(p.full))


def pack(stats: ContainerStats) -> bytes:
    """One sample as a WIDE row (the served numbers; not the raw CgroupSample)."""
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


def _float(value: float) -> float | None:
    return None if value != value else value


def _float32(value: float) -> float | None:
    # a float32 column: give the digits it holds, not the binary expansion's tail
    return None if value != value else float(f"{value:.7g}")


def _int(value: float) -> int | None:
    return None if value != value else int(value)


def _avg(values: tuple[int | None, ...]) -> PsiAvg | None:
    a, b, c = values
    if a is None or b is None or c is None:
        return None
    return PsiAvg(a / 100, b / 100, c / 100)


def _pressure(values: tuple[int | None, ...]) -> PressureAvg | None:
    some, full = _avg(values[:3]), _avg(values[3:])
    return None if some is None and full is None else PressureAvg(some, full)


def _percent(usage: int | None, limit: int | None) -> float | None:
    return None if usage is None or not limit else usage / limit * 100.0


def _u16(value: int) -> int | None:
    return None if value == NO_U16 else value


def unpack(cid: str, name: str | None, image: str | None, data: tuple[float, ...]) -> HistoryRow:
    """A WIDE row as a HistoryRow."""
    t, cpu, cpu_s, thr_s, thr, mem, ws, limit, pids, pids_limit = data[:10]
    psi = tuple(_u16(int(v)) for v in data[14:])
    return HistoryRow(
        id=cid,
        name=name,
        image=image,
        sampled_at=t,
        cpu_percent=_float32(cpu),
        cpu_usage_seconds_total=_float(cpu_s),
        cpu_throttled_seconds_total=_float(thr_s),
        cpu_throttled_percent=_float32(thr),
        memory_usage_bytes=_int(mem),
        memory_working_set_bytes=_int(ws),
        memory_limit_bytes=_int(limit),
        memory_percent=_percent(_int(mem), _int(limit)),
        pids=None if pids == NO_U32 else int(pids),
        pids_limit=None if pids_limit == NO_U32 else int(pids_limit),
        net_rx_bytes=_int(data[10]),
        net_tx_bytes=_int(data[11]),
        blk_read_bytes=_int(data[12]),
        blk_write_bytes=_int(data[13]),
        psi_cpu=_pressure(psi[0:6]),
        psi_memory=_pressure(psi[6:12]),
        psi_io=_pressure(psi[12:18]),
    )
