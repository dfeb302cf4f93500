"""Read one container's cgroup files into CgroupSample fields, for either cgroup mode.

On a hybrid host the unified hierarchy carries cpu.stat (usage/user/system) and PSI for
every container, so those come from there and the rest from the v1 controllers.

The task count is read last and doubles as the liveness check: a cgroup with no task
left (the container stopped while it was being read) gives None, a gap, instead of a
sample of near-zero numbers. The fields come in two groups, ``read_fast`` (every pass)
and ``read_slow`` (when the container moved, or its turn came): see below.

The readers fill a ``SampleFields``: the fields of ``model.CgroupSample`` as a TypedDict,
so a misspelt field name is a ``mypy --strict`` error rather than a value that silently
reads as absent (tests/collectors/test_sampler.py pins the two declarations together).
"""

from __future__ import annotations

import os
from typing import TypedDict, TypeVar

from watchdog_agent.errors import ContainerGone
from watchdog_agent.model import CgroupLocation, CgroupMode, IoDevice, NetInterface, Pressure

from .fileio import FileReader
from .parse_cgroup import (
    blkio_devices,
    parse_blkio_ops,
    parse_cpu_max,
    parse_flat_keyed,
    parse_int,
    parse_io_stat,
    parse_key,
    parse_limit,
    parse_pid_list,
    parse_pressure,
    parse_v1_limit,
    parse_v1_quota,
)

T = TypeVar("T")
CLK_TCK = os.sysconf("SC_CLK_TCK")


class SampleFields(TypedDict, total=False):
    """``model.CgroupSample``'s fields, each optional: what the readers and the sampler
    know of one container so far. Same names and types as CgroupSample."""

    container_id: str
    monotonic: float
    wall: float
    cpu_usage_ns: int | None
    cpu_user_ns: int | None
    cpu_system_ns: int | None
    cpu_periods: int | None
    cpu_throttled_periods: int | None
    cpu_throttled_ns: int | None
    cpu_quota_us: int | None
    cpu_period_us: int | None
    cpu_weight: int | None
    memory_usage_bytes: int | None
    memory_limit_bytes: int | None
    memory_high_bytes: int | None
    memory_peak_bytes: int | None
    memory_swap_bytes: int | None
    memory_failcnt: int | None
    memory_rss_bytes: int | None
    memory_cache_bytes: int | None
    memory_mapped_file_bytes: int | None
    memory_inactive_file_bytes: int | None
    memory_active_file_bytes: int | None
    memory_shmem_bytes: int | None
    memory_kernel_bytes: int | None
    memory_pgfault: int | None
    memory_pgmajfault: int | None
    oom_kills: int | None
    pids_current: int | None
    pids_limit: int | None
    pids_peak: int | None
    io: tuple[IoDevice, ...] | None
    psi_cpu: Pressure | None
    psi_memory: Pressure | None
    psi_io: Pressure | None
    net: tuple[NetInterface, ...] | None
    netns: int | None
    system_cpu_ns: int | None
    online_cpus: int | None
    errors: int


def _mul(value: int | None, factor: int) -> int | None:
    return None if value is None else value * factor


# memory.stat keys whose sum is the kernel memory of a cgroup on kernels before 5.18,
# which lack the ``kernel`` key: the parts cgroup-v2.rst says ``kernel`` includes. Not
# ``sock``: network buffers are charged apart (the kernel's own ``kernel`` excludes them).
KERNEL_PARTS = (b"kernel_stack", b"pagetables", b"percpu", b"vmalloc", b"slab")


def kernel_memory_v2(data: bytes) -> int | None:
    """v2 memory.stat ``kernel`` (5.18+), else the sum of its parts that the kernel has
    (``percpu`` and ``vmalloc`` are newer than ``kernel_stack`` and ``slab``); None when
    neither is there."""
    kernel = parse_key(data, b"kernel", "memory.stat")
    if kernel is not None:
        return kernel
    parts = [parse_key(data, key, "memory.stat") for key in KERNEL_PARTS]
    if parts[0] is None and parts[-1] is None:
        return None
    return sum(p for p in parts if p is not None)


def _memory_stat_v2(data: bytes) -> SampleFields:
    """The memory fields used, found key by key; neither the file (~70 lines) nor a
    dict of it is kept: at 1,000 containers that was 11 MB per Snapshot. Swap is not
    here on v2 (memory.swap.current has it)."""
    return {
        "memory_shmem_bytes": parse_key(data, b"shmem", "memory.stat"),
        "memory_kernel_bytes": kernel_memory_v2(data),
        "memory_rss_bytes": parse_key(data, b"anon", "memory.stat"),
        "memory_cache_bytes": parse_key(data, b"file", "memory.stat"),
        "memory_mapped_file_bytes": parse_key(data, b"file_mapped", "memory.stat"),
        "memory_inactive_file_bytes": parse_key(data, b"inactive_file", "memory.stat"),
        "memory_active_file_bytes": parse_key(data, b"active_file", "memory.stat"),
        "memory_pgfault": parse_key(data, b"pgfault", "memory.stat"),  # its own, as cAdvisor
        "memory_pgmajfault": parse_key(data, b"pgmajfault", "memory.stat"),
    }


def _memory_stat_v1(data: bytes) -> SampleFields:
    """v1 memory.stat: the hierarchical ``total_*`` keys, the container's own faults."""
    return {
        "memory_rss_bytes": parse_key(data, b"total_rss", "memory.stat"),
        "memory_cache_bytes": parse_key(data, b"total_cache", "memory.stat"),
        "memory_mapped_file_bytes": parse_key(data, b"total_mapped_file", "memory.stat"),
        "memory_inactive_file_bytes": parse_key(data, b"total_inactive_file", "memory.stat"),
        "memory_active_file_bytes": parse_key(data, b"total_active_file", "memory.stat"),
        "memory_shmem_bytes": parse_key(data, b"total_shmem", "memory.stat"),
        "memory_swap_bytes": parse_key(data, b"total_swap", "memory.stat"),
        "memory_pgfault": parse_key(data, b"pgfault", "memory.stat"),
        "memory_pgmajfault": parse_key(data, b"pgmajfault", "memory.stat"),
    }


def cpu_stat_v2(data: bytes) -> SampleFields:
    """v2 cpu.stat: usage always; throttling only where the cpu controller is enabled."""
    stat = parse_flat_keyed(data, "cpu.stat")
    return {
        "cpu_usage_ns": _mul(stat.get("usage_usec"), 1000),
        "cpu_user_ns": _mul(stat.get("user_usec"), 1000),
        "cpu_system_ns": _mul(stat.get("system_usec"), 1000),
        "cpu_periods": stat.get("nr_periods"),
        "cpu_throttled_periods": stat.get("nr_throttled"),
        "cpu_throttled_ns": _mul(stat.get("throttled_usec"), 1000),
    }


def _blkio_io(data: bytes) -> tuple[IoDevice, ...]:
    return blkio_devices(parse_blkio_ops(data))


def read_psi(f: FileReader, d: str) -> SampleFields:
    return {
        "psi_cpu": f.memo(d + "/cpu.pressure", parse_pressure)[0],
        "psi_memory": f.memo(d + "/memory.pressure", parse_pressure)[0],
        "psi_io": f.memo(d + "/io.pressure", parse_pressure)[0],
    }


def _alive_v2(f: FileReader, d: str, tasks: int | None) -> bool:
    if tasks is not None:
        return tasks > 0
    events = f.get(d + "/cgroup.events", parse_flat_keyed)
    if events is not None and "populated" in events:
        return events["populated"] == 1
    return bool(f.get(d + "/cgroup.procs", parse_pid_list))


# The sampler reads a container in two groups (collectors/sampler.py says when):
# - read_fast, every pass: CPU (usage, user/system, throttling), memory usage, block I/O
#   (the sampler adds the network counters). Block I/O and network move without the
#   container running (the kernel's writeback, packets answered in softirq); CPU and
#   memory usage are the probe: when neither moved, nothing the rest shows moved either,
#   but for PSI (averages decay; a task blocked on I/O stalls without running) and the
#   LRU split of memory.stat (reclaim by others).
# - read_slow: memory details, OOM events, pids, PSI; also the liveness check.


def read_fast(f: FileReader, loc: CgroupLocation) -> tuple[SampleFields, bool]:
    """The fields read on every pass, and whether CPU or memory usage moved since the
    previous ``read_fast`` of this container (bytes compared; unchanged files are not
    parsed again)."""
    out: SampleFields = {}
    if loc.mode is CgroupMode.V2:
        d = loc.unified
        assert d is not None
        cpu_fields, cpu_same = f.memo(d + "/cpu.stat", cpu_stat_v2)
        if cpu_fields is not None:
            out.update(cpu_fields)
        out["memory_usage_bytes"], mem_same = f.memo(d + "/memory.current", parse_int)
        out["io"] = f.memo(d + "/io.stat", parse_io_stat)[0]
        return out, not (cpu_same and mem_same)
    v1 = loc.v1
    cpu_same = mem_same = True
    if loc.unified is not None:  # hybrid: the unified cpu.stat has usage/user/system
        ucpu, cpu_same = f.memo(loc.unified + "/cpu.stat", cpu_stat_v2)
        if ucpu is not None:
            out.update(ucpu)
    elif (acct := v1.get("cpuacct")) is not None:
        out["cpu_usage_ns"], cpu_same = f.memo(acct + "/cpuacct.usage", parse_int)
        times = f.memo(acct + "/cpuacct.stat", parse_flat_keyed)[0] or {}
        tick_ns = 1_000_000_000 // CLK_TCK
        out["cpu_user_ns"] = _mul(times.get("user"), tick_ns)
        out["cpu_system_ns"] = _mul(times.get("system"), tick_ns)
    if (cpu := v1.get("cpu")) is not None:
        stat = f.memo(cpu + "/cpu.stat", parse_flat_keyed)[0] or {}
        out["cpu_periods"] = stat.get("nr_periods")
        out["cpu_throttled_periods"] = stat.get("nr_throttled")
        out["cpu_throttled_ns"] = stat.get("throttled_time")  # already ns on v1
    if (mem := v1.get("memory")) is not None:
        out["memory_usage_bytes"], mem_same = f.memo(mem + "/memory.usage_in_bytes", parse_int)
    if (blk := v1.get("blkio")) is not None:
        io = f.memo(blk + "/blkio.throttle.io_service_bytes_recursive", _blkio_io)[0]
        if io is None:
            io = f.memo(blk + "/blkio.throttle.io_service_bytes", _blkio_io)[0]
        out["io"] = io
    return out, not (cpu_same and mem_same)


def read_slow(f: FileReader, loc: CgroupLocation) -> SampleFields | None:
    """The other fields; None when the cgroup holds no task any more (a gap)."""
    if loc.mode is CgroupMode.V2:
        return _slow_v2(f, loc)
    return _slow_v1(f, loc)


def _slow_v2(f: FileReader, loc: CgroupLocation) -> SampleFields | None:
    d = loc.unified
    assert d is not None
    out: SampleFields = {}
    events = f.memo(d + "/memory.events", parse_flat_keyed)[0]
    if events is not None:
        out["memory_failcnt"] = events.get("oom")  # what Docker reports as failcnt on v2
        out["oom_kills"] = events.get("oom_kill")
    out["memory_peak_bytes"] = f.get(d + "/memory.peak", parse_int)
    out["memory_swap_bytes"] = f.get(d + "/memory.swap.current", parse_int)
    out["pids_peak"] = f.get(d + "/pids.peak", parse_int)
    out.update(f.get(d + "/memory.stat", _memory_stat_v2) or {})
    out.update(read_psi(f, d))
    tasks = out["pids_current"] = f.get(d + "/pids.current", parse_int)
    return out if _alive_v2(f, d, tasks) else None


def _slow_v1(f: FileReader, loc: CgroupLocation) -> SampleFields | None:
    v1 = loc.v1
    out: SampleFields = {}
    if loc.unified is not None:
        out.update(read_psi(f, loc.unified))
    if (mem := v1.get("memory")) is not None:
        oom = f.memo(mem + "/memory.oom_control", parse_flat_keyed)[0] or {}
        out["memory_peak_bytes"] = f.get(mem + "/memory.max_usage_in_bytes", parse_int)
        out["memory_failcnt"] = f.get(mem + "/memory.failcnt", parse_int)
        out["oom_kills"] = oom.get("oom_kill")
        out.update(f.get(mem + "/memory.stat", _memory_stat_v1) or {})
        # kernel memory (stacks, slab, page tables...), counted in usage_in_bytes too
        out["memory_kernel_bytes"] = f.get(mem + "/memory.kmem.usage_in_bytes", parse_int)
    pids = v1.get("pids")
    tasks = None if pids is None else f.get(pids + "/pids.current", parse_int)
    out["pids_current"] = tasks
    if tasks is not None:
        alive = tasks > 0
    elif loc.unified is not None:
        alive = _alive_v2(f, loc.unified, None)
    else:
        anchor = mem or v1.get("cpu") or v1.get("cpuacct")
        if anchor is None:
            raise ContainerGone("no cgroup directory")
        alive = bool(f.get(anchor + "/cgroup.procs", parse_pid_list))
    return out if alive else None


def read_limits(f: FileReader, loc: CgroupLocation) -> SampleFields:
    """The limit fields. They change only on ``docker update``, so the sampler reads them
    on a slower schedule than the counters (and when told they changed)."""
    if loc.mode is CgroupMode.V2:
        d = loc.unified
        assert d is not None
        quota = f.get(d + "/cpu.max", parse_cpu_max, keep=False)
        return {
            "cpu_quota_us": None if quota is None else quota[0],
            "cpu_period_us": None if quota is None else quota[1],
            "cpu_weight": f.get(d + "/cpu.weight", parse_int, keep=False),
            "memory_limit_bytes": f.get(d + "/memory.max", parse_limit, keep=False),
            "memory_high_bytes": f.get(d + "/memory.high", parse_limit, keep=False),
            "pids_limit": f.get(d + "/pids.max", parse_limit, keep=False),
        }
    out: SampleFields = {}
    if (cpu := loc.v1.get("cpu")) is not None:
        out["cpu_quota_us"] = f.get(cpu + "/cpu.cfs_quota_us", parse_v1_quota, keep=False)
        out["cpu_period_us"] = f.get(cpu + "/cpu.cfs_period_us", parse_int, keep=False)
        out["cpu_weight"] = f.get(cpu + "/cpu.shares", parse_int, keep=False)
    if (mem := loc.v1.get("memory")) is not None:
        limit = f.get(mem + "/memory.limit_in_bytes", parse_v1_limit, keep=False)
        out["memory_limit_bytes"] = limit
    if (pids := loc.v1.get("pids")) is not None:
        out["pids_limit"] = f.get(pids + "/pids.max", parse_v1_limit, keep=False)
    return out
