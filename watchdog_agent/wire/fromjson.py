"""The agent's JSON documents back into model values, for the commands' tables (pure).

The inverse of ``wire.tojson.stats_json`` / ``process_json`` and of the API's container
object (``server/documents.container_json``) for what the tables show: a one-shot command
that reads a running agent prints the same table as when it samples on its own. JSON
output does not come through here: it prints the API's documents unchanged. A field
that is absent or null stays a gap (None), never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from watchdog_agent.model import (
    CgroupSample,
    ContainerRef,
    ContainerStats,
    NetInterface,
    Pressure,
    ProcessInfo,
    PsiLine,
)


def parse_time(text: Any) -> float | None:
    """An RFC 3339 time as the API writes it (``...Z``) into unix seconds."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def as_int(value: Any) -> int | None:
    """A JSON integer (a bool is not one); anything else is a gap."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def as_float(value: Any) -> float | None:
    """A JSON number as a float (a bool is not one); anything else is a gap."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def as_str(value: Any) -> str | None:
    """A JSON string; anything else is a gap."""
    return value if isinstance(value, str) else None


def as_obj(value: Any) -> Mapping[str, Any]:
    """A JSON object; anything else reads as an empty one."""
    return value if isinstance(value, dict) else {}


def ref_from_json(doc: Mapping[str, Any]) -> ContainerRef:
    """A container object of ``GET /api/v1/containers`` (its stats aside)."""
    labels = as_obj(doc.get("labels"))
    limits = as_obj(doc.get("limits"))
    return ContainerRef(
        id=str(doc["id"]),
        name=as_str(doc.get("name")),
        image=as_str(doc.get("image")),
        image_id=as_str(doc.get("image_id")),
        labels={str(k): str(v) for k, v in labels.items()},
        state=as_str(doc.get("state")),
        pid=as_int(doc.get("pid")),
        started_at=parse_time(doc.get("started_at")),
        created=parse_time(doc.get("created")),
        tty=doc.get("tty") if isinstance(doc.get("tty"), bool) else None,
        restart_count=as_int(doc.get("restart_count")),
        exit_code=as_int(doc.get("exit_code")),
        oom_killed=doc.get("oom_killed") if isinstance(doc.get("oom_killed"), bool) else None,
        memory_limit_bytes=as_int(limits.get("memory_bytes")),
        cpu_limit=as_float(limits.get("cpus")),
        pids_limit=as_int(limits.get("pids")),
    )


def _psi_line(doc: Any) -> PsiLine | None:
    if not isinstance(doc, dict):
        return None
    avg10, avg60, avg300 = (as_float(doc.get(k)) for k in ("avg10", "avg60", "avg300"))
    total = as_int(doc.get("total"))
    if avg10 is None or avg60 is None or avg300 is None or total is None:
        return None
    return PsiLine(avg10, avg60, avg300, total)


def _pressure(doc: Any) -> Pressure | None:
    if not isinstance(doc, dict):
        return None
    return Pressure(_psi_line(doc.get("some")), _psi_line(doc.get("full")))


def _net(doc: Any) -> tuple[NetInterface, ...] | None:
    if not isinstance(doc, dict):
        return None
    keys = ("rx_bytes", "rx_packets", "rx_errors", "rx_dropped",
            "tx_bytes", "tx_packets", "tx_errors", "tx_dropped")  # fmt: skip
    out = []
    for name, counters in doc.items():
        values = [v for k in keys if (v := as_int(as_obj(counters).get(k))) is not None]
        if len(values) == len(keys):
            out.append(NetInterface(str(name), *values))
    return tuple(out)


def stats_from_json(doc: Mapping[str, Any]) -> ContainerStats:
    """A stats object (``tojson.stats_json``'s shape) as ContainerStats; its raw sample
    holds what the object carries of it (PSI, interfaces, ``memory_stat``, the time)."""
    cid = str(doc["id"])
    at = parse_time(doc.get("sampled_at"))
    psi = as_obj(doc.get("psi"))
    memory = as_obj(doc.get("memory_stat"))
    sample = CgroupSample(
        container_id=cid,
        monotonic=0.0,
        wall=at or 0.0,
        memory_usage_bytes=as_int(memory.get("current")),
        memory_rss_bytes=as_int(memory.get("anon")),
        memory_cache_bytes=as_int(memory.get("file")),
        memory_inactive_file_bytes=as_int(memory.get("inactive_file")),
        memory_active_file_bytes=as_int(memory.get("active_file")),
        memory_shmem_bytes=as_int(memory.get("shmem")),
        memory_kernel_bytes=as_int(memory.get("kernel")),
        psi_cpu=_pressure(psi.get("cpu")),
        psi_memory=_pressure(psi.get("memory")),
        psi_io=_pressure(psi.get("io")),
        net=_net(doc.get("net_interfaces")),
    )
    return ContainerStats(
        id=cid,
        sampled_at=at or 0.0,
        sample=sample,
        name=as_str(doc.get("name")),
        image=as_str(doc.get("image")),
        cpu_percent=as_float(doc.get("cpu_percent")),
        cpu_usage_seconds_total=as_float(doc.get("cpu_usage_seconds_total")),
        cpu_throttled_seconds_total=as_float(doc.get("cpu_throttled_seconds_total")),
        cpu_throttled_percent=as_float(doc.get("cpu_throttled_percent")),
        memory_usage_bytes=as_int(doc.get("memory_usage_bytes")),
        memory_working_set_bytes=as_int(doc.get("memory_working_set_bytes")),
        memory_limit_bytes=as_int(doc.get("memory_limit_bytes")),
        memory_percent=as_float(doc.get("memory_percent")),
        pids=as_int(doc.get("pids")),
        pids_limit=as_int(doc.get("pids_limit")),
        net_rx_bytes=as_int(doc.get("net_rx_bytes")),
        net_tx_bytes=as_int(doc.get("net_tx_bytes")),
        blk_read_bytes=as_int(doc.get("blk_read_bytes")),
        blk_write_bytes=as_int(doc.get("blk_write_bytes")),
    )


def unreadable_from_json(doc: Mapping[str, Any]) -> int | None:
    """A top document's count of processes it could not read; None from an agent that
    does not report it (absent stays a gap, not 0)."""
    count = as_int(doc.get("unreadable"))
    return None if count is None or count < 0 else count


def process_from_json(doc: Mapping[str, Any]) -> ProcessInfo:
    """A process object (``tojson.process_json``), with its ``children`` when nested."""
    children = doc.get("children")
    return ProcessInfo(
        pid=int(doc["pid"]),
        ppid=int(doc["ppid"]),
        ns_pid=as_int(doc.get("ns_pid")),
        ns_ppid=as_int(doc.get("ns_ppid")),
        user=str(doc.get("user", "")),
        uid=as_int(doc.get("uid")),
        state=str(doc.get("state", "")),
        threads=as_int(doc.get("threads")),
        cpu_seconds=as_float(doc.get("cpu_seconds")),
        cpu_percent=as_float(doc.get("cpu_percent")),
        rss_bytes=as_int(doc.get("rss_bytes")),
        started_at=parse_time(doc.get("started_at")),
        cmd=str(doc.get("cmd", "")),
        children=tuple(process_from_json(c) for c in children)
        if isinstance(children, list)
        else (),
    )
