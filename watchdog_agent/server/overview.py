"""What the page at ``/`` shows, built from the API's own JSON documents (pure).

The page reads the same documents the routes serve, so it can never say something the
API does not: a value missing there (null) is a gap here ("-"), never 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .page import GAP, Pairs, Table

UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(n: object) -> str:
    """Bytes in binary units with three significant digits: ``512 B``, ``1.50 GiB``."""
    if not isinstance(n, int | float) or isinstance(n, bool):
        return GAP
    value, unit = float(n), 0
    while abs(value) >= 1024 and unit < len(UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{int(value)} B"
    return f"{value:.3g} {UNITS[unit]}" if value < 100 else f"{value:.0f} {UNITS[unit]}"


def percent(p: object) -> str:
    if not isinstance(p, int | float) or isinstance(p, bool):
        return GAP
    return f"{p:.1f} %"


def text(v: object) -> str:
    if v is None:
        return GAP
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


def agent_pairs(info: Mapping[str, Any]) -> Pairs:
    docker = info.get("docker") or {}
    return Pairs(
        "Agent",
        [
            ("version", text(info.get("version"))),
            ("up since", text(info.get("started_at"))),
            ("cgroup mode", text(info.get("cgroup_mode"))),
            ("sampling interval", f"{info.get('interval_seconds')} s"),
            ("last sample", text(info.get("last_sample_at"))),
            ("containers sampled", text(info.get("containers_sampled"))),
            ("Docker", text(docker.get("version") if isinstance(docker, Mapping) else None)),
            ("event journal", text(info.get("journal"))),
        ],
    )


CONTAINER_HEADERS = ("NAME", "ID", "IMAGE", "STATE", "CPU %", "MEM USAGE", "MEM LIMIT",
                     "MEM %", "PIDS", "NET RX", "NET TX", "BLOCK R", "BLOCK W")  # fmt: skip


def container_table(containers: Sequence[Mapping[str, Any]]) -> Table:
    """One row a container, as ``docker stats`` reads, from ``GET /api/v1/containers``."""
    rows = []
    for c in containers:
        s = c.get("stats") or {}
        rows.append(
            [
                text(c.get("name")),
                str(c.get("id", ""))[:12],
                text(c.get("image")),
                text(c.get("state")),
                percent(s.get("cpu_percent")),
                size(s.get("memory_usage_bytes")),
                size(s.get("memory_limit_bytes")),
                percent(s.get("memory_percent")),
                text(s.get("pids")),
                size(s.get("net_rx_bytes")),
                size(s.get("net_tx_bytes")),
                size(s.get("blk_read_bytes")),
                size(s.get("blk_write_bytes")),
            ]
        )
    return Table(
        f"Containers ({len(rows)})",
        CONTAINER_HEADERS,
        rows,
        numeric=frozenset(range(4, len(CONTAINER_HEADERS))),
        note=None if rows else "No container is running.",
    )


def _of(used: object, total: object) -> str:
    if not isinstance(used, int | float) or not isinstance(total, int | float) or not total:
        return f"{size(used)} of {size(total)}"
    return f"{size(used)} of {size(total)} ({100 * used / total:.0f} %)"


def data_root_line(fs: Mapping[str, Any] | None) -> str:
    """``/var/lib/docker: 12.3 GiB used of 50 GiB (25 %), 37.7 GiB free``."""
    if not fs:
        return GAP
    return (
        f"{fs.get('path')}: {size(fs.get('used_bytes'))} used of {size(fs.get('size_bytes'))}, "
        f"{size(fs.get('free_bytes'))} free"
    )


def host_pairs(host: Mapping[str, Any] | None) -> Pairs:
    """From ``GET /api/v1/host`` (None: no host sample yet)."""
    if host is None:
        return Pairs("Host", [], note="No host sample yet.")
    load = [host.get(k) for k in ("load1", "load5", "load15")]
    return Pairs(
        "Host",
        [
            ("hostname", text(host.get("hostname"))),
            ("system", f"{text(host.get('os'))}, kernel {text(host.get('kernel'))}"),
            ("up since", text(host.get("boot_time"))),
            ("CPUs", text(host.get("cpus"))),
            ("CPU", f"{percent(host.get('cpu_percent'))} (100 % = one core)"),
            ("load", " ".join(GAP if v is None else f"{v:.2f}" for v in load)),
            ("memory used", _of(host.get("memory_used_bytes"), host.get("memory_total_bytes"))),
            ("memory available", size(host.get("memory_available_bytes"))),
            ("swap used", _of(host.get("swap_used_bytes"), host.get("swap_total_bytes"))),
            ("data root", data_root_line(host.get("data_root"))),
        ],
    )


def _items(v: object) -> str:
    if v is None:
        return GAP
    if isinstance(v, list):
        return ", ".join(str(x) for x in v) if v else "none"
    return str(v)


def daemon_pairs(daemon: Mapping[str, Any] | None) -> Pairs:
    """From the ``daemon`` object of ``GET /api/v1/info`` (None: no Docker)."""
    if daemon is None:
        return Pairs("Docker daemon", [], note="No Docker engine (the agent runs without it).")
    return Pairs(
        "Docker daemon",
        [
            ("answers", "yes" if daemon.get("up") else "no"),
            ("version", f"{text(daemon.get('version'))} (API {text(daemon.get('api_version'))})"),
            ("storage driver", text(daemon.get("storage_driver"))),
            ("logging driver", text(daemon.get("logging_driver"))),
            ("cgroup driver", text(daemon.get("cgroup_driver"))),
            ("cgroup version", text(daemon.get("cgroup_version"))),
            ("data root", text(daemon.get("data_root_dir"))),
            ("registry mirrors", _items(daemon.get("registry_mirrors"))),
            ("insecure registries", _items(daemon.get("insecure_registries"))),
            ("live restore", text(daemon.get("live_restore"))),
            ("containers", "{} running, {} paused, {} stopped".format(
                *(text(daemon.get(k)) for k in
                  ("containers_running", "containers_paused", "containers_stopped")))),
            ("images", text(daemon.get("images"))),
            ("warnings", _items(daemon.get("warnings"))),
        ],
    )  # fmt: skip


DISK_HEADERS = ("TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE")
AREA_NAMES = {"images": "Images", "containers": "Containers", "volumes": "Local volumes",
              "build_cache": "Build cache"}  # fmt: skip


def disk_table(disk: Mapping[str, Any] | None, docker: bool) -> Table:
    """From ``GET /api/v1/disk`` (None: not sampled yet, or no Docker)."""
    if disk is None:
        note = "Not sampled yet." if docker else "No Docker engine (the agent runs without it)."
        return Table("Disk use by area", DISK_HEADERS, [], note=note)
    rows = []
    for a in disk.get("areas", []):
        share = a.get("reclaimable_percent")
        reclaim = size(a.get("reclaimable_bytes"))
        rows.append([
            AREA_NAMES.get(a.get("type"), text(a.get("type"))),
            text(a.get("total")), text(a.get("active")), size(a.get("size_bytes")),
            reclaim if share is None else f"{reclaim} ({share:.0f} %)",
        ])  # fmt: skip
    return Table(
        f"Disk use by area (sampled {text(disk.get('sampled_at'))})",
        DISK_HEADERS,
        rows,
        numeric=frozenset({1, 2, 3, 4}),
    )
