"""Derive served numbers from consecutive raw samples, with docker stats semantics.

A counter that went down (the container restarted, its cgroup was recreated) gives no
rate for that interval, never a negative one.
"""

from __future__ import annotations

from collections.abc import Iterable

from watchdog_agent.model import CgroupSample, ContainerRef, ContainerStats

NS = 1_000_000_000


def cpu_percent(prev: CgroupSample | None, cur: CgroupSample) -> float | None:
    """Δcontainer CPU / Δhost CPU (first 7 /proc/stat fields) x online CPUs x 100, as
    docker stats computes it: 100 means one core."""
    if prev is None:
        return None
    if None in (cur.cpu_usage_ns, prev.cpu_usage_ns, cur.system_cpu_ns, prev.system_cpu_ns):
        return None
    cpus = cur.online_cpus
    if not cpus:
        return None
    assert cur.cpu_usage_ns is not None and prev.cpu_usage_ns is not None
    assert cur.system_cpu_ns is not None and prev.system_cpu_ns is not None
    used = cur.cpu_usage_ns - prev.cpu_usage_ns
    host = cur.system_cpu_ns - prev.system_cpu_ns
    if used < 0 or host <= 0:
        return None
    return used / host * cpus * 100.0


def throttled_percent(prev: CgroupSample | None, cur: CgroupSample) -> float | None:
    """Share of the CFS periods in the interval in which the container was throttled."""
    if prev is None:
        return None
    periods = _delta(prev.cpu_periods, cur.cpu_periods)
    throttled = _delta(prev.cpu_throttled_periods, cur.cpu_throttled_periods)
    if periods is None or throttled is None:
        return None
    return throttled / periods * 100.0 if periods else 0.0


def _delta(before: int | None, after: int | None) -> int | None:
    if before is None or after is None or after < before:
        return None
    return after - before


def docker_memory_usage(sample: CgroupSample) -> int | None:
    """usage minus inactive_file (total_inactive_file on v1) when that is smaller."""
    usage = sample.memory_usage_bytes
    if usage is None:
        return None
    inactive = sample.memory_inactive_file_bytes
    if inactive is not None and inactive < usage:
        return usage - inactive
    return usage


def _total(counts: Iterable[int | None]) -> int | None:
    """The sum of every device's count; None when one device did not say."""
    total = 0
    for n in counts:
        if n is None:
            return None
        total += n
    return total


def derive(
    prev: CgroupSample | None, cur: CgroupSample, ref: ContainerRef | None = None
) -> ContainerStats:
    usage = docker_memory_usage(cur)
    limit = cur.memory_limit_bytes
    net = cur.net
    io = cur.io
    outside = [i for i in net if i.name != "lo"] if net is not None else None
    return ContainerStats(
        id=cur.container_id,
        sampled_at=cur.wall,
        sample=cur,
        name=None if ref is None else ref.name,
        image=None if ref is None else ref.image,
        cpu_percent=cpu_percent(prev, cur),
        cpu_usage_seconds_total=None if cur.cpu_usage_ns is None else cur.cpu_usage_ns / NS,
        cpu_throttled_seconds_total=(
            None if cur.cpu_throttled_ns is None else cur.cpu_throttled_ns / NS
        ),
        cpu_throttled_percent=throttled_percent(prev, cur),
        memory_usage_bytes=usage,
        memory_working_set_bytes=usage,
        memory_limit_bytes=limit,
        memory_percent=None if usage is None or not limit else usage / limit * 100.0,
        pids=cur.pids_current,
        pids_limit=cur.pids_limit,
        net_rx_bytes=None if outside is None else sum(i.rx_bytes for i in outside),
        net_tx_bytes=None if outside is None else sum(i.tx_bytes for i in outside),
        blk_read_bytes=None if io is None else _total(d.read_bytes for d in io),
        blk_write_bytes=None if io is None else _total(d.write_bytes for d in io),
    )
