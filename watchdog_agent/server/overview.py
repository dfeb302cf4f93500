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
