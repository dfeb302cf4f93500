"""A container's processes as a tree: host PID and in-container PID side by side.

Members come from ``cgroup.procs`` of the container's cgroup and every cgroup below it;
each process is read from /proc/<pid>/{stat,status,cmdline}. No ``ps``, no Docker /top
(which shells out to ps and emits a ``top`` event). A process that exits between the
listing and the read is simply left out.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache

from watchdog_agent.errors import AccessDenied, ContainerGone, ParseError
from watchdog_agent.model import CgroupLocation, ProcessInfo

from . import cpuwindow
from .parse_cgroup import parse_pid_list
from .parse_proc import PidStat, PidStatus, parse_cmdline, parse_pid_stat, parse_pid_status
from .readers import CLK_TCK

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class CpuMark:
    """A process's CPU time at a moment, to compute a percentage from the next read."""

    ticks: int
    starttime: int  # tells a reused PID apart
    monotonic: float


def member_pids(location: CgroupLocation) -> list[int]:
    """Every PID in the container's cgroup and its descendants, sorted."""
    top = location.unified or location.v1.get("pids") or location.v1.get("memory")
    if top is None:
        top = next(iter(location.v1.values()), None)
    if top is None or not os.path.isdir(top):
        raise ContainerGone(str(location))
    pids: set[int] = set()
    for dirpath, _dirs, _files in os.walk(top):
        try:
            with open(os.path.join(dirpath, "cgroup.procs"), "rb") as fh:
                pids.update(parse_pid_list(fh.read()))
        except (OSError, ParseError):
            continue  # a child cgroup removed while walking, or a threaded one
    return sorted(pids)


@lru_cache(maxsize=1024)
def user_name(uid: int) -> str:
    """The host's name for a uid (as ``docker top`` shows it), or the number."""
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def btime(proc_root: str) -> int | None:
    """``btime`` of that procfs's /proc/stat: the boot time in whole unix seconds."""
    try:
        with open(f"{proc_root}/stat", "rb") as fh:
            for line in fh:
                if line.startswith(b"btime "):
                    return int(line[6:])
    except (OSError, ValueError):
        return None
    return None


def clock_boot_time() -> float:
    """This kernel's boot time from its clocks: realtime minus CLOCK_BOOTTIME (the clock
    a process's ``starttime`` counts on), the realtime read on both sides and averaged."""
    before = time.clock_gettime(time.CLOCK_REALTIME)
    boot = time.clock_gettime(time.CLOCK_BOOTTIME)
    after = time.clock_gettime(time.CLOCK_REALTIME)
    return (before + after) / 2 - boot


def boot_time(proc_root: str) -> float | None:
    """The boot time that process start times count from, to well under a millisecond.

    ``btime`` holds whole seconds (a start time read with it is up to a second early), so
    the clocks give the fraction. They describe the kernel this process runs on; with
    ``--proc-root`` the procfs may belong to another (a copied tree, a fixture): the
    clocks are used when they agree with that procfs's ``btime`` (within its truncation
    to the second), and ``btime`` alone otherwise.
    """
    whole = btime(proc_root)
    if whole is None:
        return None
    precise = clock_boot_time()
    return precise if 0 <= precise - whole < 1.001 else float(whole)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except (FileNotFoundError, ProcessLookupError) as exc:
        raise ContainerGone(path) from exc
    except PermissionError as exc:
        raise AccessDenied(path) from exc


def read_process(proc_root: str, pid: int) -> tuple[PidStat, PidStatus, tuple[str, ...]]:
    base = f"{proc_root}/{pid}"
    stat = parse_pid_stat(_read(base + "/stat"))
    status = parse_pid_status(_read(base + "/status"))
    cmdline = parse_cmdline(_read(base + "/cmdline"))
    return stat, status, cmdline


def read_processes(
    proc_root: str,
    pids: list[int],
    marks: Mapping[int, CpuMark] | None = None,
) -> tuple[list[ProcessInfo], dict[int, CpuMark]]:
    """Flat list of the processes that could be read, and CPU marks for the next call."""
    boot = boot_time(proc_root)
    now = time.monotonic()
    flat: list[ProcessInfo] = []
    new_marks: dict[int, CpuMark] = {}
    for pid in pids:
        try:
            stat, status, cmdline = read_process(proc_root, pid)
        except (ContainerGone, AccessDenied, ParseError, OSError):
            continue  # exited (or unreadable) between listing and reading
        ticks = stat.utime_ticks + stat.stime_ticks
        mark = CpuMark(ticks, stat.starttime_ticks, now)
        new_marks[pid] = mark
        before = (marks or {}).get(pid)
        percent: float | None = None
        if before is not None and before.starttime == mark.starttime and now > before.monotonic:
            delta = max(0, ticks - before.ticks) / CLK_TCK
            percent = delta / (now - before.monotonic) * 100.0
        rss = status.vm_rss_bytes
        if rss is None and stat.rss_pages > 0:
            rss = stat.rss_pages * PAGE_SIZE
        flat.append(
            ProcessInfo(
                pid=pid,
                ppid=stat.ppid,
                ns_pid=status.ns_pids[-1] if status.ns_pids else None,
                ns_ppid=None,
                user=user_name(status.uid) if status.uid is not None else "?",
                uid=status.uid,
                state=stat.state,
                threads=stat.num_threads,
                cpu_seconds=ticks / CLK_TCK,
                cpu_percent=percent,
                rss_bytes=rss,
                started_at=None if boot is None else boot + stat.starttime_ticks / CLK_TCK,
                cmd=" ".join(cmdline) if cmdline else f"[{stat.comm}]",
            )
        )
    return _with_ns_ppids(flat), new_marks


def container_processes(
    proc_root: str, location: CgroupLocation, marks: Mapping[int, CpuMark] | None = None
) -> tuple[list[ProcessInfo], dict[int, CpuMark]]:
    """``read_processes`` over every PID of the container's cgroup tree."""
    return read_processes(proc_root, member_pids(location), marks)


def process_cpu_ns(proc_root: str, pids: list[int]) -> dict[int, int]:
    """Each process's CPU time in ns, summed over its threads (first field of
    /proc/<pid>/task/<tid>/schedstat, exact where /proc/<pid>/stat counts 10 ms ticks);
    a process that exits meanwhile is left out."""
    out: dict[int, int] = {}
    for pid in pids:
        base = f"{proc_root}/{pid}/task"
        try:
            total = 0
            for tid in os.listdir(base):
                with open(f"{base}/{tid}/schedstat", "rb") as fh:
                    total += int(fh.read().split(None, 1)[0])
        except (OSError, ValueError, IndexError):
            continue  # exited, or a kernel without schedstat: no percent for it
        out[pid] = total
    return out


async def read_top(proc_root: str, location: CgroupLocation) -> list[ProcessInfo]:
    """The container's processes, each with its CPU % over the container's one-shot CPU
    window (cpuwindow.py: whole CFS periods under a quota, else 0.2 s): its CPU time is
    read with the container's usage at the window's two ends."""

    def cpu_times(_cid: str) -> dict[int, int]:
        return process_cpu_ns(proc_root, member_pids(location))

    readings = await cpuwindow.measure({"": location}, extra=cpu_times)
    flat, _ = await asyncio.to_thread(container_processes, proc_root, location)
    reading = readings.get("")
    if reading is None or reading.start is None or reading.end is None:
        return [replace(p, cpu_percent=None) for p in flat]
    before, after = reading.start.extra, reading.end.extra
    out = []
    for p in flat:
        percent = None
        if p.pid in before and p.pid in after and reading.seconds > 0:
            used = max(0, after[p.pid] - before[p.pid])
            percent = used / 1e9 / reading.seconds * 100.0
        out.append(replace(p, cpu_percent=percent))
    return out


def _with_ns_ppids(flat: list[ProcessInfo]) -> list[ProcessInfo]:
    """Parent's in-container PID; 0 when the parent is outside the container, which is
    what the kernel shows inside the namespace (the init and ``docker exec`` processes)."""
    by_pid = {p.pid: p for p in flat}
    out = []
    for p in flat:
        parent = by_pid.get(p.ppid)
        ns_ppid = parent.ns_pid if parent is not None else (0 if p.ns_pid is not None else None)
        out.append(replace(p, ns_ppid=ns_ppid))
    return out


def build_tree(flat: list[ProcessInfo]) -> tuple[ProcessInfo, ...]:
    """Nest processes under their parents; those whose parent is not in the list are roots."""
    children: dict[int, list[ProcessInfo]] = {}
    pids = {p.pid for p in flat}
    for p in flat:
        children.setdefault(p.ppid if p.ppid in pids else -1, []).append(p)

    def attach(p: ProcessInfo, seen: frozenset[int]) -> ProcessInfo:
        kids = [c for c in children.get(p.pid, []) if c.pid not in seen]
        inner = seen | {p.pid}
        return replace(p, children=tuple(attach(c, inner) for c in kids))

    return tuple(attach(p, frozenset()) for p in children.get(-1, []))
