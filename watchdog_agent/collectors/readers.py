"""Read one container's cgroup files into CgroupSample fields, for either cgroup mode.

On a hybrid host the unified hierarchy carries cpu.stat (usage/user/system) and PSI for
every container, so those come from there and the rest from the v1 controllers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from watchdog_agent.errors import AccessDenied, ContainerGone, ParseError
from watchdog_agent.model import CgroupLocation

from .fileio import FileReader
from .parse_cgroup import (
    blkio_devices,
    parse_blkio_ops,
    parse_cpu_max,
    parse_flat_keyed,
    parse_int,
    parse_io_stat,
    parse_limit,
    parse_pid_list,
    parse_pressure,
    parse_v1_limit,
    parse_v1_quota,
)

T = TypeVar("T")
CLK_TCK = os.sysconf("SC_CLK_TCK")

# memory.stat keys behind the normalised fields: (v2 key, v1 key)
_MEMORY_KEYS = {
    "memory_rss_bytes": ("anon", "total_rss"),
    "memory_cache_bytes": ("file", "total_cache"),
    "memory_mapped_file_bytes": ("file_mapped", "total_mapped_file"),
    "memory_inactive_file_bytes": ("inactive_file", "total_inactive_file"),
    "memory_active_file_bytes": ("active_file", "total_active_file"),
}


class FieldReader:
    """Reads and parses files, turning every failure but a vanished container into an
    absent field; counts the files that exist but could not be read or parsed."""

    __slots__ = ("errors", "reader")

    def __init__(self, reader: FileReader) -> None:
        self.reader = reader
        self.errors = 0

    def get(self, path: str, parser: Callable[[bytes], T]) -> T | None:
        try:
            data = self.reader.read(path)
        except AccessDenied:
            self.errors += 1
            return None
        if data is None:
            return None
        try:
            return parser(data)
        except ParseError:
            self.errors += 1
            return None


def _key(stat: Mapping[str, int] | None, key: str) -> int | None:
    return None if stat is None else stat.get(key)


def _mul(value: int | None, factor: int) -> int | None:
    return None if value is None else value * factor


def _populated_v2(f: FieldReader, unified: str) -> bool:
    events = f.get(unified + "/cgroup.events", parse_flat_keyed)
    if events is not None and "populated" in events:
        return events["populated"] == 1
    procs = f.get(unified + "/cgroup.procs", parse_pid_list)
    return bool(procs)


def read_cpu_stat_v2(f: FieldReader, d: str) -> dict[str, Any]:
    """v2 cpu.stat: usage always; throttling only where the cpu controller is enabled."""
    stat = f.get(d + "/cpu.stat", parse_flat_keyed)
    return {
        "cpu_usage_ns": _mul(_key(stat, "usage_usec"), 1000),
        "cpu_user_ns": _mul(_key(stat, "user_usec"), 1000),
        "cpu_system_ns": _mul(_key(stat, "system_usec"), 1000),
        "cpu_periods": _key(stat, "nr_periods"),
        "cpu_throttled_periods": _key(stat, "nr_throttled"),
        "cpu_throttled_ns": _mul(_key(stat, "throttled_usec"), 1000),
    }


def read_cpu_v2(f: FieldReader, d: str) -> dict[str, Any]:
    out = read_cpu_stat_v2(f, d)
    quota = f.get(d + "/cpu.max", parse_cpu_max)
    out.update(
        cpu_quota_us=None if quota is None else quota[0],
        cpu_period_us=None if quota is None else quota[1],
        cpu_weight=f.get(d + "/cpu.weight", parse_int),
    )
    return out


def read_psi(f: FieldReader, d: str) -> dict[str, Any]:
    return {
        "psi_cpu": f.get(d + "/cpu.pressure", parse_pressure),
        "psi_memory": f.get(d + "/memory.pressure", parse_pressure),
        "psi_io": f.get(d + "/io.pressure", parse_pressure),
    }


def _memory_stat_fields(stat: Mapping[str, int] | None, v1: bool) -> dict[str, Any]:
    index = 1 if v1 else 0
    fields: dict[str, Any] = {
        name: _key(stat, keys[index]) for name, keys in _MEMORY_KEYS.items()
    }
    if stat is not None:
        fields["memory_stat"] = stat
    return fields


def read_v2(f: FieldReader, loc: CgroupLocation) -> dict[str, Any] | None:
    """Fields of a pure-v2 container; None when its cgroup holds no process any more."""
    d = loc.unified
    assert d is not None
    out = read_cpu_v2(f, d)
    events = f.get(d + "/memory.events", parse_flat_keyed)
    io = f.get(d + "/io.stat", parse_io_stat)
    out.update(
        memory_usage_bytes=f.get(d + "/memory.current", parse_int),
        memory_limit_bytes=f.get(d + "/memory.max", parse_limit),
        memory_high_bytes=f.get(d + "/memory.high", parse_limit),
        memory_peak_bytes=f.get(d + "/memory.peak", parse_int),
        memory_swap_bytes=f.get(d + "/memory.swap.current", parse_int),
        memory_failcnt=_key(events, "oom"),  # what Docker reports as failcnt on v2
        oom_kills=_key(events, "oom_kill"),
        pids_current=f.get(d + "/pids.current", parse_int),
        pids_limit=f.get(d + "/pids.max", parse_limit),
        pids_peak=f.get(d + "/pids.peak", parse_int),
        io=io,
    )
    if events is not None:
        out["memory_events"] = events
    out.update(_memory_stat_fields(f.get(d + "/memory.stat", parse_flat_keyed), v1=False))
    out.update(read_psi(f, d))
    return out if _populated_v2(f, d) else None


def read_v1(f: FieldReader, loc: CgroupLocation) -> dict[str, Any] | None:
    """Fields of a v1 or hybrid container; None when its cgroup holds no process any more."""
    v1 = loc.v1
    out: dict[str, Any] = {}
    cpu = v1.get("cpu")
    if loc.unified is not None:
        out.update(read_cpu_stat_v2(f, loc.unified))  # v1 cpu controller has the rest
        out.update(read_psi(f, loc.unified))
    elif (acct := v1.get("cpuacct")) is not None:
        times = f.get(acct + "/cpuacct.stat", parse_flat_keyed)
        tick_ns = 1_000_000_000 // CLK_TCK
        out.update(
            cpu_usage_ns=f.get(acct + "/cpuacct.usage", parse_int),
            cpu_user_ns=_mul(_key(times, "user"), tick_ns),
            cpu_system_ns=_mul(_key(times, "system"), tick_ns),
        )
    if cpu is not None:
        stat = f.get(cpu + "/cpu.stat", parse_flat_keyed)
        out.update(
            cpu_periods=_key(stat, "nr_periods"),
            cpu_throttled_periods=_key(stat, "nr_throttled"),
            cpu_throttled_ns=_key(stat, "throttled_time"),
            cpu_quota_us=f.get(cpu + "/cpu.cfs_quota_us", parse_v1_quota),
            cpu_period_us=f.get(cpu + "/cpu.cfs_period_us", parse_int),
            cpu_weight=f.get(cpu + "/cpu.shares", parse_int),
        )
    if (mem := v1.get("memory")) is not None:
        oom = f.get(mem + "/memory.oom_control", parse_flat_keyed)
        out.update(
            memory_usage_bytes=f.get(mem + "/memory.usage_in_bytes", parse_int),
            memory_limit_bytes=f.get(mem + "/memory.limit_in_bytes", parse_v1_limit),
            memory_peak_bytes=f.get(mem + "/memory.max_usage_in_bytes", parse_int),
            memory_failcnt=f.get(mem + "/memory.failcnt", parse_int),
            memory_swap_bytes=None,
            oom_kills=_key(oom, "oom_kill"),
        )
        stat = f.get(mem + "/memory.stat", parse_flat_keyed)
        out.update(_memory_stat_fields(stat, v1=True))
        if stat is not None and "total_swap" in stat:
            out["memory_swap_bytes"] = stat["total_swap"]
    if (pids := v1.get("pids")) is not None:
        out.update(
            pids_current=f.get(pids + "/pids.current", parse_int),
            pids_limit=f.get(pids + "/pids.max", parse_v1_limit),
        )
    if (blk := v1.get("blkio")) is not None:
        service = f.get(blk + "/blkio.throttle.io_service_bytes_recursive", parse_blkio_ops)
        if service is None:
            service = f.get(blk + "/blkio.throttle.io_service_bytes", parse_blkio_ops)
        serviced = f.get(blk + "/blkio.throttle.io_serviced_recursive", parse_blkio_ops)
        if service is not None:
            out["io"] = blkio_devices(service, serviced)
    if loc.unified is not None:
        alive = _populated_v2(f, loc.unified)
    else:
        anchor = mem or cpu or v1.get("cpuacct") or pids
        if anchor is None:
            raise ContainerGone("no cgroup directory")
        alive = bool(f.get(anchor + "/cgroup.procs", parse_pid_list))
    return out if alive else None
