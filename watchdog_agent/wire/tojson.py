"""The JSON of the model: the field names users and tests rely on (docs/api.md lists them;
server/openapi.py is their schema, wire/fromjson.py reads them back)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from watchdog_agent.model import (
    CgroupSample,
    ContainerRef,
    ContainerStats,
    Event,
    HistoryRow,
    Pressure,
    PressureAvg,
    ProcessInfo,
    PsiAvg,
    PsiLine,
)


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _psi_line(line: PsiLine | None) -> dict[str, Any] | None:
    if line is None:
        return None
    return {
        "avg10": line.avg10,
        "avg60": line.avg60,
        "avg300": line.avg300,
        "total": line.total_usec,
    }


def _pressure(p: Pressure | None) -> dict[str, Any] | None:
    return None if p is None else {"some": _psi_line(p.some), "full": _psi_line(p.full)}


def memory_stat_json(sample: CgroupSample) -> dict[str, int | None]:
    """The cgroup's memory by kind, in bytes (null: not known, never 0): ``current`` is its
    whole usage with the page cache (cAdvisor's container_memory_usage_bytes); ``anon``
    and ``file`` are v2 anon and file (v1 total_rss and total_cache); ``shmem`` (tmpfs,
    /dev/shm) is part of ``file``; ``kernel`` is v2 kernel (v1 memory.kmem.usage_in_bytes)."""
    return {
        "current": sample.memory_usage_bytes,
        "anon": sample.memory_rss_bytes,
        "file": sample.memory_cache_bytes,
        "active_file": sample.memory_active_file_bytes,
        "inactive_file": sample.memory_inactive_file_bytes,
        "shmem": sample.memory_shmem_bytes,
        "kernel": sample.memory_kernel_bytes,
    }


def stats_json(s: ContainerStats) -> dict[str, Any]:
    sample = s.sample
    return {
        "id": s.id,
        "name": s.name,
        "image": s.image,
        "cpu_percent": s.cpu_percent,
        "cpu_usage_seconds_total": s.cpu_usage_seconds_total,
        "cpu_throttled_seconds_total": s.cpu_throttled_seconds_total,
        "cpu_throttled_percent": s.cpu_throttled_percent,
        "memory_usage_bytes": s.memory_usage_bytes,
        "memory_working_set_bytes": s.memory_working_set_bytes,
        "memory_limit_bytes": s.memory_limit_bytes,
        "memory_percent": s.memory_percent,
        "memory_stat": memory_stat_json(sample),
        "pids": s.pids,
        "pids_limit": s.pids_limit,
        "net_rx_bytes": s.net_rx_bytes,
        "net_tx_bytes": s.net_tx_bytes,
        "net_interfaces": (
            None
            if sample.net is None
            else {
                i.name: {
                    "rx_bytes": i.rx_bytes,
                    "rx_packets": i.rx_packets,
                    "rx_errors": i.rx_errors,
                    "rx_dropped": i.rx_dropped,
                    "tx_bytes": i.tx_bytes,
                    "tx_packets": i.tx_packets,
                    "tx_errors": i.tx_errors,
                    "tx_dropped": i.tx_dropped,
                }
                for i in sample.net
            }
        ),
        "blk_read_bytes": s.blk_read_bytes,
        "blk_write_bytes": s.blk_write_bytes,
        "psi": {
            "cpu": _pressure(sample.psi_cpu),
            "memory": _pressure(sample.psi_memory),
            "io": _pressure(sample.psi_io),
        },
        "sampled_at": rfc3339(s.sampled_at),
    }


def unsampled(ref: ContainerRef, at: float) -> ContainerStats:
    """The row of a container with no sample (not running, or not read yet): every number
    absent, a gap and never 0. ``at`` is the time of the table it stands in."""
    sample = CgroupSample(container_id=ref.id, monotonic=0.0, wall=at)
    return ContainerStats(id=ref.id, sampled_at=at, sample=sample, name=ref.name, image=ref.image)


def stats_doc(
    ref: ContainerRef, stats: ContainerStats | None, at: float | None = None
) -> dict[str, Any]:
    """A container's stats object: its latest sample's, or with none (``unsampled``) every
    number, ``memory_stat`` and ``psi`` entry null, and ``sampled_at`` the time ``at`` of
    the table it stands in (the commands' rows), or null (the API: no time without a
    sample)."""
    if stats is not None:
        return stats_json(stats)
    out = stats_json(unsampled(ref, 0.0 if at is None else at))
    out["memory_stat"] = None
    out["sampled_at"] = rfc3339(at)
    return out


def _avg_line(line: PsiAvg | None) -> dict[str, Any] | None:
    if line is None:
        return None
    return {"avg10": line.avg10, "avg60": line.avg60, "avg300": line.avg300, "total": None}


def _pressure_avg(p: PressureAvg | None) -> dict[str, Any] | None:
    return None if p is None else {"some": _avg_line(p.some), "full": _avg_line(p.full)}


def history_json(r: HistoryRow) -> dict[str, Any]:
    """A kept sample in the stats object's shape; what the history does not keep
    (``net_interfaces``, ``memory_stat``, PSI ``total``) is null."""
    return {
        "id": r.id,
        "name": r.name,
        "image": r.image,
        "cpu_percent": r.cpu_percent,
        "cpu_usage_seconds_total": r.cpu_usage_seconds_total,
        "cpu_throttled_seconds_total": r.cpu_throttled_seconds_total,
        "cpu_throttled_percent": r.cpu_throttled_percent,
        "memory_usage_bytes": r.memory_usage_bytes,
        "memory_working_set_bytes": r.memory_working_set_bytes,
        "memory_limit_bytes": r.memory_limit_bytes,
        "memory_percent": r.memory_percent,
        "memory_stat": None,
        "pids": r.pids,
        "pids_limit": r.pids_limit,
        "net_rx_bytes": r.net_rx_bytes,
        "net_tx_bytes": r.net_tx_bytes,
        "net_interfaces": None,
        "blk_read_bytes": r.blk_read_bytes,
        "blk_write_bytes": r.blk_write_bytes,
        "psi": {
            "cpu": _pressure_avg(r.psi_cpu),
            "memory": _pressure_avg(r.psi_memory),
            "io": _pressure_avg(r.psi_io),
        },
        "sampled_at": rfc3339(r.sampled_at),
    }


def process_json(p: ProcessInfo, nested: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pid": p.pid,
        "ns_pid": p.ns_pid,
        "ppid": p.ppid,
        "ns_ppid": p.ns_ppid,
        "user": p.user,
        "uid": p.uid,
        "state": p.state,
        "threads": p.threads,
        "cpu_seconds": p.cpu_seconds,
        "cpu_percent": p.cpu_percent,
        "rss_bytes": p.rss_bytes,
        "started_at": rfc3339(p.started_at),
        "cmd": p.cmd,
    }
    if nested:
        out["children"] = [process_json(c, nested=True) for c in p.children]
    return out


def event_json(e: Event) -> dict[str, Any]:
    """Docker's own shape and key order (``docker events --format '{{json .}}'``): the
    legacy fields only when the daemon sent them, attributes sorted as Go sorts maps."""
    out: dict[str, Any] = {}
    if e.status is not None:
        out["status"] = e.status
    if e.id is not None:
        out["id"] = e.id
    if e.from_ is not None:
        out["from"] = e.from_
    out["Type"] = e.type
    out["Action"] = e.action
    out["Actor"] = {"ID": e.actor_id, "Attributes": dict(sorted(e.attributes.items()))}
    out["scope"] = e.scope
    out["time"] = e.time
    out["timeNano"] = e.time_nano
    return out
