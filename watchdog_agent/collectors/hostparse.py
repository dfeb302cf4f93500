"""Pure parsers and arithmetic of the host's totals (no I/O): /proc/loadavg, one-line
/proc/sys files, os-release, and the host CPU % from two readings of /proc/stat's
aggregate ``cpu`` line (as psutil's ``cpu_times()`` gives it)."""

from __future__ import annotations

import math
import shlex
from collections.abc import Mapping
from typing import NamedTuple


class Load(NamedTuple):
    """Load averages over 1, 5 and 15 minutes."""

    load1: float
    load5: float
    load15: float


def parse_loadavg(text: str) -> Load | None:
    """``/proc/loadavg`` (``0.52 0.58 0.59 2/1234 5678``): its three averages, or None."""
    fields = text.split()
    if len(fields) < 3:
        return None
    try:
        values = [float(f) for f in fields[:3]]
    except ValueError:
        return None
    if not all(math.isfinite(v) and v >= 0 for v in values):  # float() reads nan, inf
        return None
    return Load(*values)


def one_line(text: str) -> str | None:
    """A one-value file such as ``/proc/sys/kernel/hostname``: its stripped first line, or
    None when empty."""
    line = text.split("\n", 1)[0].strip()
    return line or None


def parse_os_release(text: str) -> str | None:
    """os-release(5): ``PRETTY_NAME``, else ``NAME VERSION_ID``, else ``NAME``; None when
    the file names no OS. Values may be quoted shell-style."""
    values: dict[str, str] = {}
    for line in text.split("\n"):  # newline only: splitlines() also cuts at U+0085, U+2028
        key, sep, raw = line.strip().partition("=")
        if not sep or not key or key.startswith("#"):
            continue
        try:
            words = shlex.split(raw, comments=False, posix=True)
        except ValueError:
            continue
        values[key] = " ".join(words)
    return _os_name(values)


def _os_name(values: Mapping[str, str]) -> str | None:
    pretty = values.get("PRETTY_NAME", "").strip()
    if pretty:
        return pretty
    name = values.get("NAME", "").strip()
    version = values.get("VERSION_ID", "").strip()
    if name and version:
        return f"{name} {version}"
    return name or None


class CpuTimes(NamedTuple):
    """Busy and total CPU seconds over all CPUs since boot."""

    busy: float
    total: float


def cpu_times(fields: Mapping[str, float]) -> CpuTimes:
    """Busy and total seconds from /proc/stat's aggregate line by field name (user, nice,
    system, idle, iowait, irq, softirq, steal, guest, guest_nice; missing ones count 0).

    As psutil and the kernel count them: guest time is already inside user (and
    guest_nice inside nice), so it is not added twice; idle and iowait are not busy."""
    total = sum(fields.values()) - fields.get("guest", 0.0) - fields.get("guest_nice", 0.0)
    idle = fields.get("idle", 0.0) + fields.get("iowait", 0.0)
    return CpuTimes(busy=total - idle, total=total)


def cpu_percent(before: CpuTimes, after: CpuTimes, cpus: int) -> float | None:
    """Host CPU use between two readings, docker stats' scale (100 = one core, up to
    ``100 * cpus``); None when no time passed or the total went back (a new boot).

    Busy time that did not move comes out a hair below 0 (busy is a difference of float
    sums): that, like any busy time going back, is 0 %, as psutil counts it."""
    total = after.total - before.total
    if total <= 0 or cpus <= 0:
        return None
    busy = after.busy - before.busy
    return min(max(busy / total, 0.0), 1.0) * 100.0 * cpus
