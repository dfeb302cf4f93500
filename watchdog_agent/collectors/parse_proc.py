"""Pure parsers for /proc files: <pid>/{stat,status,cmdline,cgroup,net/dev} and /proc/stat.

Each takes bytes and returns a value or raises ParseError (proc(5) formats).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from watchdog_agent.errors import ParseError
from watchdog_agent.model import NetInterface


@dataclass(frozen=True, slots=True)
class PidStat:
    """The /proc/<pid>/stat fields the agent uses (proc(5) numbering in comments)."""

    pid: int  # 1
    comm: str  # 2
    state: str  # 3
    ppid: int  # 4
    utime_ticks: int  # 14
    stime_ticks: int  # 15
    num_threads: int  # 20
    starttime_ticks: int  # 22, since boot
    rss_pages: int  # 24


@dataclass(frozen=True, slots=True)
class PidStatus:
    """The /proc/<pid>/status fields the agent uses."""

    name: str
    state: str
    ppid: int | None
    uid: int | None  # real uid
    threads: int | None
    vm_rss_bytes: int | None  # absent for kernel threads and zombies
    ns_pids: tuple[int, ...]  # NStgid (falling back to NSpid): outermost first


@dataclass(frozen=True, slots=True)
class SystemCpu:
    """/proc/stat: host CPU time as docker stats counts it."""

    total_ticks: int  # user+nice+system+idle+iowait+irq+softirq (first 7 fields)
    online_cpus: int  # number of cpuN lines
    btime: int | None  # boot time, unix seconds


@dataclass(frozen=True, slots=True)
class CgroupLine:
    """One line of /proc/<pid>/cgroup."""

    hierarchy_id: int
    controllers: tuple[str, ...]  # empty for the v2 line "0::/path"
    path: str


def parse_pid_stat(data: bytes, what: str = "/proc/<pid>/stat") -> PidStat:
    head, sep, tail = data.rpartition(b")")  # comm may hold spaces and ")"
    pid_text, sep2, comm = head.partition(b"(")
    fields = tail.split()
    if not sep or not sep2 or len(fields) < 22:
        raise ParseError(what, repr(data[:60]))
    try:
        return PidStat(
            pid=int(pid_text),
            comm=comm.decode("utf-8", "replace"),
            state=fields[0].decode("ascii"),
            ppid=int(fields[1]),
            utime_ticks=int(fields[11]),
            stime_ticks=int(fields[12]),
            num_threads=int(fields[17]),
            starttime_ticks=int(fields[19]),
            rss_pages=int(fields[21]),
        )
    except ValueError as exc:  # includes UnicodeDecodeError
        raise ParseError(what, repr(data[:60])) from exc


def _ints(value: bytes) -> tuple[int, ...]:
    return tuple(int(tok) for tok in value.split())


def parse_pid_status(data: bytes, what: str = "/proc/<pid>/status") -> PidStatus:
    fields: dict[bytes, bytes] = {}
    for line in data.splitlines():
        key, sep, value = line.partition(b":")
        if sep:
            fields[key] = value.strip()
    try:
        name = fields[b"Name"].decode("utf-8", "replace")
        state = fields[b"State"][:1].decode("ascii")
        uids = _ints(fields.get(b"Uid", b""))
        rss = fields.get(b"VmRSS")
        ns = fields.get(b"NStgid") or fields.get(b"NSpid") or b""
        ppid = fields.get(b"PPid")
        threads = fields.get(b"Threads")
        return PidStatus(
            name=name,
            state=state,
            ppid=int(ppid) if ppid is not None else None,
            uid=uids[0] if uids else None,
            threads=int(threads) if threads is not None else None,
            vm_rss_bytes=_kib(rss) if rss is not None else None,
            ns_pids=_ints(ns),
        )
    except (KeyError, ValueError) as exc:
        raise ParseError(what, repr(data[:60])) from exc


def _kib(value: bytes) -> int:
    number, _, unit = value.partition(b" ")
    if unit.strip() not in (b"kB", b""):
        raise ValueError(value)
    return int(number) * 1024


def parse_cmdline(data: bytes) -> tuple[str, ...]:
    """NUL-separated argv; empty for kernel threads and zombies. Never fails."""
    if not data:
        return ()
    return tuple(arg.decode("utf-8", "replace") for arg in data.rstrip(b"\0").split(b"\0"))


_NET_LINE = re.compile(rb"^ *([^\s:]+): *" + rb" +".join([rb"(\d+)"] * 16) + rb" *$", re.M)


def parse_net_dev(data: bytes, what: str = "/proc/<pid>/net/dev") -> tuple[NetInterface, ...]:
    """Two header lines, then ``iface: 8 receive and 8 transmit counters``."""
    lines = data.splitlines()[2:]
    found = _NET_LINE.findall(data)
    if len(found) == len(lines):  # every line in the kernel's shape (hot path)
        try:
            return tuple(
                NetInterface(m[0].decode("ascii"), *map(int, m[1:5] + m[9:13])) for m in found
            )
        except ValueError as exc:  # a non-ASCII name
            raise ParseError(what, repr(data[:60])) from exc
    for line in lines:  # say which line is wrong
        _name, sep, rest = line.partition(b":")
        if not sep or len(rest.split()) != 16:
            raise ParseError(what, repr(line[:60]))
    raise ParseError(what, repr(data[:60]))


def parse_proc_stat(data: bytes, what: str = "/proc/stat") -> SystemCpu:
    total: int | None = None
    cpus = 0
    btime: int | None = None
    try:
        for line in data.splitlines():
            if line.startswith(b"cpu"):
                label, _, rest = line.partition(b" ")
                if label == b"cpu":
                    values = _ints(rest)
                    if len(values) < 7:
                        raise ParseError(what, "short cpu line")
                    total = sum(values[:7])
                elif label[3:].isdigit():
                    cpus += 1
            elif line.startswith(b"btime "):
                btime = int(line[6:])
    except ValueError as exc:
        raise ParseError(what, repr(data[:60])) from exc
    if total is None:
        raise ParseError(what, "no cpu line")
    return SystemCpu(total_ticks=total, online_cpus=cpus, btime=btime)


def parse_pid_cgroup(data: bytes, what: str = "/proc/<pid>/cgroup") -> tuple[CgroupLine, ...]:
    """``hierarchy-ID:controller-list:path`` lines; v2 is ``0::/path``."""
    out: list[CgroupLine] = []
    for line in data.splitlines():
        if not line:
            continue
        parts = line.split(b":", 2)
        if len(parts) != 3 or not parts[2].startswith(b"/"):
            raise ParseError(what, repr(line[:60]))
        try:
            hid = int(parts[0])
            controllers = tuple(c for c in parts[1].decode("ascii").split(",") if c)
            path = parts[2].decode("utf-8", "surrogateescape")
        except ValueError as exc:
            raise ParseError(what, repr(line[:60])) from exc
        out.append(CgroupLine(hid, controllers, path.removesuffix(" (deleted)")))
    return tuple(out)
