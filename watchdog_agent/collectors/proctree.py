"""A container's processes as a tree: host PID and in-container PID side by side.

Members come from ``cgroup.procs`` of the container's cgroup and every cgroup below it;
the kernel lists there only the PIDs of the reader's own PID namespace, so an agent
without the host's (a Swarm service cannot have ``pid: host``) reads every list empty and
falls back to the processes whose /proc/<pid>/cgroup names the container's cgroup. Each
process is read from /proc/<pid>/{stat,status,cmdline} (through fileio). No ``ps``,
no Docker /top (which shells out to ps and emits a ``top`` event).

A process whose files cannot be read is either gone (it exited between the listing and
the read: normal flow, left out) or there but unreadable (permission, as under a
``hidepid=noaccess`` procfs for an agent that is not root, or another read error):
those are counted in ``ProcessList.unreadable``, never dropped without a word. Like
psutil's ``wrap_exceptions``, a missing file alone does not prove the process gone:
``process_gone`` looks at /proc/<pid>/stat itself.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import time
from dataclasses import dataclass, replace
from functools import lru_cache

from watchdog_agent.errors import AccessDenied, ContainerGone, ParseError
from watchdog_agent.model import CgroupLocation, ProcessInfo

from . import cpuwindow
from .fileio import FileReader
from .parse_cgroup import parse_pid_list
from .parse_proc import (
    PidStat,
    PidStatus,
    parse_cmdline,
    parse_pid_cgroup,
    parse_pid_stat,
    parse_pid_status,
)
from .readers import CLK_TCK

PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True, slots=True)
class ProcessList:
    """A container's processes as read: those that could be read, and how many more were
    there but could not be read (0 when every process was read)."""

    processes: list[ProcessInfo]
    unreadable: int


def _once() -> FileReader:
    """A reader that keeps no descriptor: a process's files are read once per call."""
    return FileReader(keep=0)


def member_pids(location: CgroupLocation, proc_root: str | None = None) -> list[int]:
    """Every PID in the container's cgroup and its descendants, sorted. When every
    ``cgroup.procs`` reads empty and ``proc_root`` is given, the members found there."""
    top = location.unified or location.v1.get("pids") or location.v1.get("memory")
    if top is None:
        top = next(iter(location.v1.values()), None)
    if top is None or not os.path.isdir(top):
        raise ContainerGone(str(location))
    f = _once()
    pids: set[int] = set()
    for dirpath, _dirs, _files in os.walk(top):
        try:
            listed = f.get(os.path.join(dirpath, "cgroup.procs"), parse_pid_list, keep=False)
        except ContainerGone:
            continue  # a child cgroup removed while walking
        if listed is not None:  # None: removed meanwhile, or a threaded cgroup
            pids.update(listed)
    if not pids and proc_root is not None:  # a running container has at least its init
        return scan_members(proc_root, os.path.basename(top))
    return sorted(pids)


def scan_members(proc_root: str, leaf: str) -> list[int]:
    """PIDs whose /proc/<pid>/cgroup has ``leaf`` (the container's cgroup directory name)
    as a path component: its members and its child cgroups' members, seen through a
    procfs of the host's PID namespace from outside it."""
    f = _once()
    out: list[int] = []
    try:
        names = os.listdir(proc_root)
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        try:
            lines = f.get(f"{proc_root}/{name}/cgroup", parse_pid_cgroup, keep=False)
        except (ContainerGone, AccessDenied):
            continue  # exited meanwhile, or not ours to read
        if lines and any(leaf in line.path.split("/") for line in lines):
            out.append(int(name))
    return sorted(out)


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
        data = _once().read(f"{proc_root}/stat", keep=False)
    except (ContainerGone, AccessDenied):
        return None
    for line in (data or b"").splitlines():
        if line.startswith(b"btime "):
            try:
                return int(line[6:])
            except ValueError:
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


def process_gone(proc_root: str, pid: int) -> bool:
    """Whether a process whose /proc files could not be read has really exited.

    As psutil decides (``_pslinux.wrap_exceptions``): only when /proc/<pid>/stat itself
    no longer exists (which also covers a /proc/<pid> directory outliving its files,
    psutil issue 2418). A stat that fails for another reason (EPERM under
    ``hidepid=noaccess``) means the process is there but may not be looked at.
    """
    try:
        os.stat(f"{proc_root}/{pid}/stat")
    except (FileNotFoundError, ProcessLookupError):
        return True
    except OSError:
        return False
    return False


def read_process(
    f: FileReader, proc_root: str, pid: int
) -> tuple[PidStat, PidStatus, tuple[str, ...]] | None:
    """The process's stat, status and argv; None when any of them cannot be read or
    parsed (``process_gone`` tells why)."""
    base = f"{proc_root}/{pid}"
    try:
        stat = f.read(base + "/stat", keep=False)
        status = f.read(base + "/status", keep=False)
        cmdline = f.read(base + "/cmdline", keep=False)
        if stat is None or status is None or cmdline is None:
            return None
        return parse_pid_stat(stat), parse_pid_status(status), parse_cmdline(cmdline)
    except (ContainerGone, AccessDenied, ParseError):
        return None


def read_processes(proc_root: str, pids: list[int]) -> ProcessList:
    """The processes that could be read, and the count of those there but unreadable;
    ``cpu_percent`` is None here (``read_top`` measures it)."""
    boot = boot_time(proc_root)
    f = _once()
    flat: list[ProcessInfo] = []
    unreadable = 0
    for pid in pids:
        read = read_process(f, proc_root, pid)
        if read is None:
            if not process_gone(proc_root, pid):
                unreadable += 1
            continue
        stat, status, cmdline = read
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
                cpu_seconds=(stat.utime_ticks + stat.stime_ticks) / CLK_TCK,
                cpu_percent=None,
                rss_bytes=rss,
                started_at=None if boot is None else boot + stat.starttime_ticks / CLK_TCK,
                cmd=" ".join(cmdline) if cmdline else f"[{stat.comm}]",
            )
        )
    return ProcessList(_with_ns_ppids(flat, set(pids)), unreadable)


def container_processes(proc_root: str, location: CgroupLocation) -> ProcessList:
    """``read_processes`` over every PID of the container's cgroup tree."""
    return read_processes(proc_root, member_pids(location, proc_root))


def process_cpu_ns(proc_root: str, pids: list[int]) -> dict[int, int]:
    """Each process's CPU time in ns, summed over its threads (first field of
    /proc/<pid>/task/<tid>/schedstat, exact where /proc/<pid>/stat counts 10 ms ticks);
    a process that exits meanwhile is left out."""
    f = _once()
    out: dict[int, int] = {}
    for pid in pids:
        base = f"{proc_root}/{pid}/task"
        try:
            reads = [f.read(f"{base}/{tid}/schedstat", keep=False) for tid in os.listdir(base)]
            if None in reads:
                continue  # a thread exited meanwhile: no percent rather than a low one
            out[pid] = sum(int(data.split(None, 1)[0]) for data in reads if data is not None)
        except (OSError, ContainerGone, AccessDenied, ValueError, IndexError):
            continue  # exited, or a kernel without schedstat: no percent for it
    return out


async def read_top(proc_root: str, location: CgroupLocation) -> ProcessList:
    """The container's processes, each with its CPU % over the container's one-shot CPU
    window (cpuwindow.py: whole CFS periods under a quota, else its default window): its
    CPU time is read with the container's usage at the window's two ends."""

    def cpu_times(_cid: str) -> dict[int, int]:
        return process_cpu_ns(proc_root, member_pids(location, proc_root))

    readings = await cpuwindow.measure({"": location}, extra=cpu_times)
    listed = await asyncio.to_thread(container_processes, proc_root, location)
    reading = readings.get("")
    if reading is None or reading.start is None or reading.end is None:
        return listed
    before, after = reading.start.extra, reading.end.extra
    out = []
    for p in listed.processes:
        percent = None
        if p.pid in before and p.pid in after and reading.seconds > 0:
            used = max(0, after[p.pid] - before[p.pid])
            percent = used / 1e9 / reading.seconds * 100.0
        out.append(replace(p, cpu_percent=percent))
    return ProcessList(out, listed.unreadable)


def _with_ns_ppids(flat: list[ProcessInfo], members: set[int]) -> list[ProcessInfo]:
    """Parent's in-container PID; 0 when the parent is outside the container, which is
    what the kernel shows inside the namespace (the init and ``docker exec`` processes);
    None when the parent is a member that could not be read."""
    by_pid = {p.pid: p for p in flat}
    out = []
    for p in flat:
        parent = by_pid.get(p.ppid)
        if parent is not None:
            ns_ppid = parent.ns_pid
        else:
            ns_ppid = 0 if p.ns_pid is not None and p.ppid not in members else None
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
