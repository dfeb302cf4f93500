"""Read one container's cgroup files into CgroupSample fields, for either cgroup mode.

On a hybrid host the unified hierarchy carries cpu.stat (usage/user/system) and PSI for
every container, so those come from there and the rest from the v1 controllers.

The task count is read last and doubles as the liveness check: a cgroup with no task
left (the container stopped while it was being read) gives None, a gap, instead of a
sample of near-zero numbers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from watchdog_agent.errors import AccessDenied, ContainerGone, ParseError
from watchdog_agent.model import CgroupLocation, CgroupMode

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

# memory.stat keys behind the normalised fields: field -> (v2 key, v1 key)
_MEMORY_FIELDS = {
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
            return None if data is None else parser(data)
        except (AccessDenied, ParseError):
            self.errors += 1
            return None


def _mul(value: int | None, factor: int) -> int | None:
    return None if value is None else value * factor


def _memory_stat_fields(stat: Mapping[str, int] | None, v1: bool) -> dict[str, Any]:
    if stat is None:
        return {}
    index = 1 if v1 else 0
    fields: dict[str, Any] = {name: stat.get(keys[index]) for name, keys in _MEMORY_FIELDS.items()}
    fields["memory_stat"] = stat
    return fields


def read_cpu_stat_v2(f: FieldReader, d: str) -> dict[str, Any]:
    """v2 cpu.stat: usage always; throttling only where the cpu controller is enabled."""
    stat = f.get(d + "/cpu.stat", parse_flat_keyed)
    if stat is None:
        return {}
    return {
        "cpu_usage_ns": _mul(stat.get("usage_usec"), 1000),
        "cpu_user_ns": _mul(stat.get("user_usec"), 1000),
        "cpu_system_ns": _mul(stat.get("system_usec"), 1000),
        "cpu_periods": stat.get("nr_periods"),
        "cpu_throttled_periods": stat.get("nr_throttled"),
        "cpu_throttled_ns": _mul(stat.get("throttled_usec"), 1000),
    }


def read_psi(f: FieldReader, d: str) -> dict[str, Any]:
    return {
        "psi_cpu": f.get(d + "/cpu.pressure", parse_pressure),
        "psi_memory": f.get(d + "/memory.pressure", parse_pressure),
        "psi_io": f.get(d + "/io.pressure", parse_pressure),
    }


def _alive_v2(f: FieldReader, d: str, tasks: int | None) -> bool:
    if tasks is not None:
        return tasks > 0
    events = f.get(d + "/cgroup.events", parse_flat_keyed)
    if events is not None and "populated" in events:
        return events["populated"] == 1
    return bool(f.get(d + "/cgroup.procs", parse_pid_list))


def read_v2(f: FieldReader, loc: CgroupLocation) -> dict[str, Any] | None:
    """Fields of a pure-v2 container; None when its cgroup holds no task any more."""
    d = loc.unified
    assert d is not None
    out = read_cpu_stat_v2(f, d)
    events = f.get(d + "/memory.events", parse_flat_keyed)
    if events is not None:
        out.update(
            memory_events=events,
            memory_failcnt=events.get("oom"),  # what Docker reports as failcnt on v2
            oom_kills=events.get("oom_kill"),
        )
    out.update(
        memory_usage_bytes=f.get(d + "/memory.current", parse_int),
        memory_peak_bytes=f.get(d + "/memory.peak", parse_int),
        memory_swap_bytes=f.get(d + "/memory.swap.current", parse_int),
        pids_peak=f.get(d + "/pids.peak", parse_int),
        io=f.get(d + "/io.stat", parse_io_stat),
    )
    out.update(_memory_stat_fields(f.get(d + "/memory.stat", parse_flat_keyed), v1=False))
    out.update(read_psi(f, d))
    tasks = out["pids_current"] = f.get(d + "/pids.current", parse_int)
    return out if _alive_v2(f, d, tasks) else None


def read_v1(f: FieldReader, loc: CgroupLocation) -> dict[str, Any] | None:
    """Fields of a v1 or hybrid container; None when its cgroup holds no task any more."""
    v1 = loc.v1
    out: dict[str, Any] = {}
    cpu = v1.get("cpu")
    if loc.unified is not None:
        out.update(read_cpu_stat_v2(f, loc.unified))  # the v1 cpu controller has the rest
        out.update(read_psi(f, loc.unified))
    elif (acct := v1.get("cpuacct")) is not None:
        times = f.get(acct + "/cpuacct.stat", parse_flat_keyed) or {}
        tick_ns = 1_000_000_000 // CLK_TCK
        out.update(
            cpu_usage_ns=f.get(acct + "/cpuacct.usage", parse_int),
            cpu_user_ns=_mul(times.get("user"), tick_ns),
            cpu_system_ns=_mul(times.get("system"), tick_ns),
        )
    if cpu is not None:
        stat = f.get(cpu + "/cpu.stat", parse_flat_keyed) or {}
        out.update(
            cpu_periods=stat.get("nr_periods"),
            cpu_throttled_periods=stat.get("nr_throttled"),
            cpu_throttled_ns=stat.get("throttled_time"),  # already ns on v1
        )
    if (mem := v1.get("memory")) is not None:
        oom = f.get(mem + "/memory.oom_control", parse_flat_keyed) or {}
        out.update(
            memory_usage_bytes=f.get(mem + "/memory.usage_in_bytes", parse_int),
            memory_peak_bytes=f.get(mem + "/memory.max_usage_in_bytes", parse_int),
            memory_failcnt=f.get(mem + "/memory.failcnt", parse_int),
            oom_kills=oom.get("oom_kill"),
        )
        mstat = f.get(mem + "/memory.stat", parse_flat_keyed)
        out.update(_memory_stat_fields(mstat, v1=True))
        if mstat is not None:
            out["memory_swap_bytes"] = mstat.get("total_swap")
    if (blk := v1.get("blkio")) is not None:
        service = f.get(blk + "/blkio.throttle.io_service_bytes_recursive", parse_blkio_ops)
        if service is None:
            service = f.get(blk + "/blkio.throttle.io_service_bytes", parse_blkio_ops)
        if service is not None:
            out["io"] = blkio_devices(service)
    pids = v1.get("pids")
    tasks = None if pids is None else f.get(pids + "/pids.current", parse_int)
    out["pids_current"] = tasks
    if tasks is not None:
        alive = tasks > 0
    elif loc.unified is not None:
        alive = _alive_v2(f, loc.unified, None)
    else:
        anchor = mem or cpu or v1.get("cpuacct")
        if anchor is None:
            raise ContainerGone("no cgroup directory")
        alive = bool(f.get(anchor + "/cgroup.procs", parse_pid_list))
    return out if alive else None


def read_limits(f: FieldReader, loc: CgroupLocation) -> dict[str, Any]:
    """The limit fields. They change only on ``docker update``, so the sampler reads them
    on a slower schedule than the counters (and when told they changed)."""
    if loc.mode is CgroupMode.V2:
        d = loc.unified
        assert d is not None
        quota = f.get(d + "/cpu.max", parse_cpu_max)
        return {
            "cpu_quota_us": None if quota is None else quota[0],
            "cpu_period_us": None if quota is None else quota[1],
            "cpu_weight": f.get(d + "/cpu.weight", parse_int),
            "memory_limit_bytes": f.get(d + "/memory.max", parse_limit),
            "memory_high_bytes": f.get(d + "/memory.high", parse_limit),
            "pids_limit": f.get(d + "/pids.max", parse_limit),
        }
    out: dict[str, Any] = {}
    if (cpu := loc.v1.get("cpu")) is not None:
        out.update(
            cpu_quota_us=f.get(cpu + "/cpu.cfs_quota_us", parse_v1_quota),
            cpu_period_us=f.get(cpu + "/cpu.cfs_period_us", parse_int),
            cpu_weight=f.get(cpu + "/cpu.shares", parse_int),
        )
    if (mem := loc.v1.get("memory")) is not None:
        out["memory_limit_bytes"] = f.get(mem + "/memory.limit_in_bytes", parse_v1_limit)
    if (pids := loc.v1.get("pids")) is not None:
        out["pids_limit"] = f.get(pids + "/pids.max", parse_v1_limit)
    return out
