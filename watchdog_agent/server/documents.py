"""JSON documents the API serves, from model values (pure: no I/O, no agent state).

Stats, processes and events keep the field names of ``watchdog_agent.wire.tojson`` (the
names docs/api.md lists); this module adds the API's own envelopes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from watchdog_agent.events.render import go_json, json_line
from watchdog_agent.model import (
    ContainerRef,
    ContainerStats,
    DaemonState,
    Event,
    FsUsage,
    Gap,
    HostSample,
    Lost,
    ProcessInfo,
)
from watchdog_agent.wire.tojson import process_json, rfc3339, stats_json

StreamItem = Event | Gap | Lost


def container_json(ref: ContainerRef, stats: ContainerStats | None) -> dict[str, Any]:
    """What the agent knows of one container, with its latest stats (null: no sample)."""
    return {
        "id": ref.id,
        "name": ref.name,
        "image": ref.image,
        "image_id": ref.image_id,
        "state": ref.state,
        "labels": dict(sorted(ref.labels.items())),
        "pid": ref.pid,
        "created": rfc3339(ref.created),
        "started_at": rfc3339(ref.started_at),
        "tty": ref.tty,
        "restart_count": ref.restart_count,
        "exit_code": ref.exit_code,
        "oom_killed": ref.oom_killed,
        "limits": {
            "memory_bytes": ref.memory_limit_bytes,
            "cpus": ref.cpu_limit,
            "pids": ref.pids_limit,
        },
        "stats": None if stats is None else stats_json(stats),
    }


def containers_json(
    refs: Iterable[ContainerRef], latest: Mapping[str, ContainerStats]
) -> list[dict[str, Any]]:
    """Running containers first, then by name (or id), as ``docker ps`` reads."""
    ordered = sorted(refs, key=lambda r: (r.state != "running", r.name or "", r.id))
    return [container_json(r, latest.get(r.id)) for r in ordered]


def top_json(
    ref: ContainerRef, flat: Sequence[ProcessInfo], tree: Sequence[ProcessInfo], unreadable: int
) -> dict[str, Any]:
    """``unreadable``: processes of the container that exist but could not be read (0
    when every one was read); they are in neither list."""
    return {
        "id": ref.id,
        "name": ref.name,
        "processes": [process_json(p) for p in flat],
        "tree": [process_json(p, nested=True) for p in tree],
        "unreadable": unreadable,
    }


def gap_json(gap: Gap) -> dict[str, Any]:
    return {
        "start_nano": gap.start_nano,
        "end_nano": gap.end_nano,
        "start": rfc3339(gap.start_nano / 1e9),
        "end": rfc3339(gap.end_nano / 1e9),
        "reason": gap.reason,
    }


def stream_item(item: StreamItem) -> tuple[str, str]:
    """(SSE event name, one line of JSON) for an event, a gap or a loss.

    Events keep Docker's own JSON (what ``docker events --format '{{json .}}'`` prints);
    gaps and losses are ``{"gap": {...}}`` and ``{"lost": n}``, which no event can be.
    """
    if isinstance(item, Event):
        return "event", json_line(item)
    if isinstance(item, Gap):
        return "gap", go_json({"gap": gap_json(item)})
    return "lost", go_json({"lost": item.count})


def info_json(
    *,
    version: str,
    cgroup_mode: str | None,
    docker: Mapping[str, str | None] | None,
    started_at: float,
    uptime: float,
    interval: float,
    journal: bool,
    last_sample_at: float | None,
    containers_sampled: int,
    daemon: DaemonState | None = None,
) -> dict[str, Any]:
    return {
        "version": version,
        "cgroup_mode": cgroup_mode,
        "docker": None if docker is None else dict(docker),
        "started_at": rfc3339(started_at),
        "uptime_seconds": round(uptime, 3),
        "interval_seconds": interval,
        "journal": journal,
        "last_sample_at": rfc3339(last_sample_at),
        "containers_sampled": containers_sampled,
        "daemon": None if daemon is None else daemon_json(daemon),
    }


def fs_json(fs: FsUsage) -> dict[str, Any]:
    """A filesystem as df shows it (``free_bytes``: df's Available)."""
    return {
        "path": fs.path,
        "size_bytes": fs.size_bytes,
        "used_bytes": fs.used_bytes,
        "free_bytes": fs.free_bytes,
        "inodes_total": fs.inodes_total,
        "inodes_free": fs.inodes_free,
    }


def daemon_json(state: DaemonState) -> dict[str, Any]:
    """The daemon as ``docker info`` shows it: ``up`` (it answered the last ping), the
    last ``/info`` (null fields: the daemon did not say) and its data root's filesystem."""
    info = state.info
    fields: dict[str, Any] = {
        "version": None, "api_version": None, "id": None, "name": None, "os": None,
        "kernel_version": None, "storage_driver": None, "logging_driver": None,
        "cgroup_driver": None, "cgroup_version": None, "data_root_dir": None,
        "registry_mirrors": None, "insecure_registries": None, "live_restore": None,
        "default_runtime": None, "security_options": None, "containers": None,
        "containers_running": None, "containers_paused": None, "containers_stopped": None,
        "images": None, "warnings": None,
    }  # fmt: skip
    if info is not None:
        for key in fields:
            value = getattr(info, "data_root" if key == "data_root_dir" else key)
            fields[key] = list(value) if isinstance(value, tuple) else value
    fs = state.data_root_fs
    return {
        "up": state.up,
        "checked_at": rfc3339(state.checked_at),
        "sampled_at": rfc3339(state.sampled_at),
        **fields,
        "data_root": None if fs is None else fs_json(fs),
    }


def host_json(host: HostSample, proc_root: str, data_root: FsUsage | None) -> dict[str, Any]:
    """The host's totals (null: a gap); ``data_root`` is the filesystem holding Docker's
    data root, as the daemon-info sampler last measured it (null without Docker)."""
    return {
        "hostname": host.hostname,
        "kernel": host.kernel,
        "os": host.os,
        "boot_time": rfc3339(host.boot_time),
        "cpus": host.cpus,
        "cpu_percent": host.cpu_percent,
        "cpu_fraction": host.cpu_fraction,
        "load1": host.load1,
        "load5": host.load5,
        "load15": host.load15,
        "memory_total_bytes": host.memory_total_bytes,
        "memory_available_bytes": host.memory_available_bytes,
        "memory_used_bytes": host.memory_used_bytes,
        "swap_total_bytes": host.swap_total_bytes,
        "swap_used_bytes": host.swap_used_bytes,
        "swap_free_bytes": host.swap_free_bytes,
        "data_root": None if data_root is None else fs_json(data_root),
        "proc_root": proc_root,
        "sampled_at": rfc3339(host.taken_at),
    }
