"""Generate a pure cgroup v2 host as files: ``DEST/cgroup`` (for /sys/fs/cgroup) and ``DEST/proc``.

The tree has the shape the agent reads on a unified host, in the exact kernel formats
(the interface files of the kernel's Documentation/admin-guide/cgroup-v2.rst, the /proc
files of proc(5)): per container a cgroup directory with the cpu, memory, io, pids and
PSI files, two processes (an init and its child)
with ``stat``, ``status``, ``cmdline``, ``comm`` and ``cgroup`` files, and for the init a
``net/dev`` and plain ``ns/net`` / ``ns/pid`` files whose inodes stand for the namespaces
(one network namespace per container). Non-container noise (``init.scope``, ``ssh.service``,
``containerd.service``, a ``.mount`` unit) sits next to the containers.

Usage::

    python bench/gentree.py DEST --containers N [--layout systemd|cgroupfs]

The rendering helpers (``cgroup_files``, ``proc_files`` ...) are also used to build the
hand-made fixture trees under ``tests/fixtures/trees``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LAYOUTS = ("systemd", "cgroupfs")
ROOT_CONTROLLERS = "cpuset cpu io memory hugetlb pids rdma misc\n"
SUBTREE_CONTROL = "cpuset cpu io memory hugetlb pids rdma misc\n"
PAGE_SIZE = 4096
CLK_TCK = 100
USEC_PER_TICK = 1_000_000 // CLK_TCK
BTIME = 1732780800  # host boot time, unix seconds
N_CPUS = 4
MEM_TOTAL_KB = 16_323_460

# memory.stat keys of a recent kernel, in the kernel's order (cgroup-v2.rst).
MEMORY_STAT_SIZE_KEYS = (
    "anon",
    "file",
    "kernel",
    "kernel_stack",
    "pagetables",
    "sec_pagetables",
    "percpu",
    "sock",
    "vmalloc",
    "shmem",
    "zswap",
    "zswapped",
    "file_mapped",
    "file_dirty",
    "file_writeback",
    "swapcached",
    "anon_thp",
    "file_thp",
    "shmem_thp",
    "inactive_anon",
    "active_anon",
    "inactive_file",
    "active_file",
    "unevictable",
    "slab_reclaimable",
    "slab_unreclaimable",
    "slab",
)
MEMORY_STAT_EVENT_KEYS = (
    "workingset_refault_anon",
    "workingset_refault_file",
    "workingset_activate_anon",
    "workingset_activate_file",
    "workingset_restore_anon",
    "workingset_restore_file",
    "workingset_nodereclaim",
    "pswpin",
    "pswpout",
    "pgscan",
    "pgsteal",
    "pgscan_kswapd",
    "pgscan_direct",
    "pgscan_khugepaged",
    "pgscan_proactive",
    "pgsteal_kswapd",
    "pgsteal_direct",
    "pgsteal_khugepaged",
    "pgsteal_proactive",
    "pgfault",
    "pgmajfault",
    "pgrefill",
    "pgactivate",
    "pgdeactivate",
    "pglazyfree",
    "pglazyfreed",
    "swpin_zero",
    "swpout_zero",
    "zswpin",
    "zswpout",
    "zswpwb",
    "zswap_incomp",
    "thp_fault_alloc",
    "thp_collapse_alloc",
    "thp_swpout",
    "thp_swpout_fallback",
    "numa_pages_migrated",
    "numa_pte_updates",
    "numa_hint_faults",
    "pgdemote_kswapd",
    "pgdemote_direct",
    "pgdemote_khugepaged",
    "pgdemote_proactive",
)

NET_DEV_HEADER = (
    "Inter-|   Receive                                                |  Transmit\n"
    " face |bytes    packets errs drop fifo frame compressed multicast|"
    "bytes    packets errs drop fifo colls carrier compressed\n"
)
NET_DEV_LINE = (
    "{:>6}: {:7d} {:7d} {:4d} {:4d} {:4d} {:5d} {:10d} {:9d} "
    "{:8d} {:7d} {:4d} {:4d} {:4d} {:5d} {:7d} {:10d}\n"
)


# ---------------------------------------------------------------------------- value types


@dataclass(frozen=True, slots=True)
class Psi:
    """One PSI line: ``some|full avg10=.. avg60=.. avg300=.. total=..`` (total in usec)."""

    avg10: float
    avg60: float
    avg300: float
    total: int


@dataclass(frozen=True, slots=True)
class Pressure:
    some: Psi
    full: Psi


@dataclass(frozen=True, slots=True)
class IoLine:
    """One ``io.stat`` line; ``extra`` is appended verbatim (e.g. `` cost.usage=12``)."""

    major: int
    minor: int
    rbytes: int
    wbytes: int
    rios: int
    wios: int
    dbytes: int = 0
    dios: int = 0
    extra: str = ""


@dataclass(frozen=True, slots=True)
class Iface:
    """One ``net/dev`` row: 8 receive and 8 transmit counters in the kernel's order."""

    name: str
    rx: tuple[int, int, int, int, int, int, int, int]
    tx: tuple[int, int, int, int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Proc:
    """One process as /proc shows it. ``nspid`` lists the PID from the host namespace
    inwards (one column for a host process); ``nspgid``/``nssid`` likewise."""

    pid: int
    ppid: int
    comm: str
    argv: tuple[str, ...]
    nspid: tuple[int, ...] = ()
    nspgid: tuple[int, ...] = ()
    nssid: tuple[int, ...] = ()
    state: str = "S"
    uid: int = 0
    gid: int = 0
    threads: int = 1
    utime: int = 0  # clock ticks
    stime: int = 0
    starttime: int = 0  # clock ticks since boot
    vsize_kb: int = 10_788
    rss_pages: int = 1_410
    cgroup: str = "/"  # path in /proc/<pid>/cgroup (``0::<path>``)
    processor: int = 0

    @property
    def ns_pid(self) -> int:
        return (self.nspid or (self.pid,))[-1]


@dataclass(slots=True)
class ContainerSpec:
    """Everything one container's cgroup directory and processes hold."""

    id: str
    cgroup_path: str  # relative to the cgroup root, no leading "/"
    procs: list[Proc]  # members of the container's own cgroup; procs[0] is the init
    child_cgroups: dict[str, list[Proc]] = field(default_factory=dict)
    user_usec: int = 0
    system_usec: int = 0
    nr_periods: int = 0
    nr_throttled: int = 0
    throttled_usec: int = 0
    cpu_stat_bursts: bool = True  # nr_bursts / burst_usec keys (recent kernels)
    cpu_stat_extra: dict[str, int] = field(default_factory=dict)
    cpu_quota_us: int | None = None  # cpu.max "max" when None
    cpu_period_us: int = 100_000
    cpu_weight: int = 100
    memory_stat: dict[str, int] = field(default_factory=dict)
    memory_current: int = 0
    memory_max: int | None = None
    memory_high: int | None = None
    memory_low: int = 0
    memory_peak: int = 0
    memory_swap: int = 0
    memory_swap_max: int | None = None
    memory_events: dict[str, int] = field(default_factory=dict)
    io: list[IoLine] = field(default_factory=list)
    pids_max: int | None = None
    pids_peak: int = 0
    psi_cpu: Pressure | None = None
    psi_memory: Pressure | None = None
    psi_io: Pressure | None = None
    net: list[Iface] = field(default_factory=list)
    netns_inode: int = 4026532300  # only shown in the ns/net file's content
    pidns_inode: int = 4026532298
    controllers: str = "cpuset cpu io memory hugetlb pids rdma misc\n"
    cpus_effective: str = "0-3"
    omit: frozenset[str] = frozenset()  # cgroup files this kernel/config does not have

    def all_procs(self) -> list[Proc]:
        out = list(self.procs)
        for members in self.child_cgroups.values():
            out.extend(members)
        return out

    @property
    def pids_current(self) -> int:
        return sum(p.threads for p in self.all_procs())


# ---------------------------------------------------------------------------- renderers


def flat(pairs: Iterable[tuple[str, int]]) -> str:
    """A flat keyed file: ``KEY VAL`` per line."""
    return "".join(f"{k} {v}\n" for k, v in pairs)


def limit(value: int | None) -> str:
    return "max\n" if value is None else f"{value}\n"


def psi_file(p: Pressure) -> str:
    return "".join(
        f"{kind} avg10={line.avg10:.2f} avg60={line.avg60:.2f} avg300={line.avg300:.2f} "
        f"total={line.total}\n"
        for kind, line in (("some", p.some), ("full", p.full))
    )


def io_stat(lines: Sequence[IoLine]) -> str:
    return "".join(
        f"{d.major}:{d.minor} rbytes={d.rbytes} wbytes={d.wbytes} rios={d.rios} "
        f"wios={d.wios} dbytes={d.dbytes} dios={d.dios}{d.extra}\n"
        for d in lines
    )


def net_dev(ifaces: Sequence[Iface]) -> str:
    return NET_DEV_HEADER + "".join(NET_DEV_LINE.format(i.name, *i.rx, *i.tx) for i in ifaces)


def memory_stat_values(
    anon: int, file: int, inactive_file: int, file_mapped: int, threads: int, seed: int
) -> dict[str, int]:
    """A full, self-consistent recent-kernel memory.stat (bytes; counters are counts).

    ``kernel`` = kernel_stack + pagetables + sec_pagetables + percpu + vmalloc + slab,
    ``slab`` = slab_reclaimable + slab_unreclaimable, ``file`` = inactive_file +
    active_file + shmem, ``anon + shmem`` = inactive_anon + active_anon.
    """
    shmem = (seed % 3) * PAGE_SIZE
    kernel_stack = threads * 16_384
    pagetables = (24 + seed % 40) * PAGE_SIZE
    percpu = 1_344 + 96 * (seed % 7)
    slab_reclaimable = (180 + seed % 97) * PAGE_SIZE + 1_512
    slab_unreclaimable = (95 + seed % 53) * PAGE_SIZE + 2_288
    slab = slab_reclaimable + slab_unreclaimable
    vmalloc = (seed % 2) * PAGE_SIZE
    kernel = kernel_stack + pagetables + percpu + vmalloc + slab
    active_file = file - inactive_file - shmem
    inactive_anon = anon + shmem - (seed % 5) * PAGE_SIZE
    sizes = {
        "anon": anon,
        "file": file,
        "kernel": kernel,
        "kernel_stack": kernel_stack,
        "pagetables": pagetables,
        "sec_pagetables": 0,
        "percpu": percpu,
        "sock": (seed % 4) * PAGE_SIZE,
        "vmalloc": vmalloc,
        "shmem": shmem,
        "zswap": 0,
        "zswapped": 0,
        "file_mapped": file_mapped,
        "file_dirty": (seed % 6) * PAGE_SIZE,
        "file_writeback": 0,
        "swapcached": 0,
        "anon_thp": 0,
        "file_thp": 0,
        "shmem_thp": 0,
        "inactive_anon": inactive_anon,
        "active_anon": anon + shmem - inactive_anon,
        "inactive_file": inactive_file,
        "active_file": active_file,
        "unevictable": 0,
        "slab_reclaimable": slab_reclaimable,
        "slab_unreclaimable": slab_unreclaimable,
        "slab": slab,
    }
    counters = dict.fromkeys(MEMORY_STAT_EVENT_KEYS, 0)
    counters.update(
        workingset_refault_file=seed % 11 * 3,
        workingset_activate_file=seed % 11,
        pgscan=seed % 13 * 64,
        pgsteal=seed % 13 * 61,
        pgscan_kswapd=seed % 13 * 64,
        pgsteal_kswapd=seed % 13 * 61,
        pgfault=41_337 + 977 * seed,
        pgmajfault=seed % 29,
        pgrefill=seed % 17 * 8,
        pgactivate=2_203 + 31 * seed,
        pgdeactivate=seed % 17 * 8,
        thp_fault_alloc=seed % 3,
    )
    return {**sizes, **counters}


def current_from_stat(stat: Mapping[str, int]) -> int:
    """memory.current consistent with a memory.stat: anon + file + kernel + sock."""
    if "kernel" in stat:
        kernel = stat["kernel"]
    else:  # older kernels have no "kernel" key
        kernel = stat.get("kernel_stack", 0) + stat.get("pagetables", 0) + stat["slab"]
    return stat["anon"] + stat["file"] + kernel + stat.get("sock", 0)


def memory_events(oom: int = 0, oom_kill: int = 0, max_: int = 0, high: int = 0) -> dict[str, int]:
    return {
        "low": 0,
        "high": high,
        "max": max_,
        "oom": oom,
        "oom_kill": oom_kill,
        "oom_group_kill": 0,
    }


def _procs_list(procs: Sequence[Proc]) -> str:
    return "".join(f"{p.pid}\n" for p in procs)


def _threads_list(procs: Sequence[Proc]) -> str:
    return "".join(f"{p.pid + t}\n" for p in procs for t in range(p.threads))


def _core_files(
    procs: Sequence[Proc], populated: bool, controllers: str, subtree: str
) -> dict[str, str]:
    return {
        "cgroup.controllers": controllers,
        "cgroup.subtree_control": subtree,
        "cgroup.type": "domain\n",
        "cgroup.procs": _procs_list(procs),
        "cgroup.threads": _threads_list(procs),
        "cgroup.events": f"populated {int(populated)}\nfrozen 0\n",
        "cgroup.freeze": "0\n",
        "cgroup.max.depth": "max\n",
        "cgroup.max.descendants": "max\n",
        "cgroup.pressure": "1\n",
        "cgroup.stat": "nr_descendants 0\nnr_dying_descendants 0\n",
    }


def cpu_stat(spec: ContainerSpec) -> str:
    """The container's cpu.stat."""
    cpu_pairs: list[tuple[str, int]] = [
        ("usage_usec", spec.user_usec + spec.system_usec),
        ("user_usec", spec.user_usec),
        ("system_usec", spec.system_usec),
        *spec.cpu_stat_extra.items(),
        ("nr_periods", spec.nr_periods),
        ("nr_throttled", spec.nr_throttled),
        ("throttled_usec", spec.throttled_usec),
    ]
    if spec.cpu_stat_bursts:
        cpu_pairs += [("nr_bursts", 0), ("burst_usec", 0)]
    return flat(cpu_pairs)


def cgroup_files(spec: ContainerSpec) -> dict[str, str]:
    """The files of the container's own cgroup directory, ``spec.omit`` left out."""
    all_procs = spec.all_procs()
    files = _core_files(spec.procs, bool(all_procs), spec.controllers, "\n")
    n_children = len(spec.child_cgroups)
    files["cgroup.stat"] = f"nr_descendants {n_children}\nnr_dying_descendants 0\n"
    files.update(
        {
            "cpu.stat": cpu_stat(spec),
            "cpu.max": f"{limit(spec.cpu_quota_us).strip()} {spec.cpu_period_us}\n",
            "cpu.max.burst": "0\n",
            "cpu.weight": f"{spec.cpu_weight}\n",
            "cpu.weight.nice": "0\n",
            "cpu.idle": "0\n",
            "cpuset.cpus": "\n",
            "cpuset.cpus.effective": f"{spec.cpus_effective}\n",
            "cpuset.mems": "\n",
            "cpuset.mems.effective": "0\n",
            "memory.current": f"{spec.memory_current}\n",
            "memory.min": "0\n",
            "memory.low": f"{spec.memory_low}\n",
            "memory.high": limit(spec.memory_high),
            "memory.max": limit(spec.memory_max),
            "memory.peak": f"{spec.memory_peak}\n",
            "memory.oom.group": "0\n",
            "memory.stat": flat(spec.memory_stat.items()),
            "memory.events": flat(spec.memory_events.items()),
            "memory.events.local": flat(spec.memory_events.items()),
            "memory.swap.current": f"{spec.memory_swap}\n",
            "memory.swap.max": limit(spec.memory_swap_max),
            "memory.swap.high": "max\n",
            "memory.swap.peak": f"{spec.memory_swap}\n",
            "memory.swap.events": "high 0\nmax 0\nfail 0\n",
            "io.stat": io_stat(spec.io),
            "io.max": "",
            "io.weight": "default 100\n",
            "pids.current": f"{spec.pids_current}\n",
            "pids.max": limit(spec.pids_max),
            "pids.peak": f"{spec.pids_peak}\n",
            "pids.events": "max 0\n",
            "hugetlb.2MB.current": "0\n",
            "hugetlb.2MB.max": "max\n",
            "hugetlb.2MB.events": "max 0\n",
        }
    )
    for name, pressure in (
        ("cpu.pressure", spec.psi_cpu),
        ("memory.pressure", spec.psi_memory),
        ("io.pressure", spec.psi_io),
    ):
        if pressure is not None:
            files[name] = psi_file(pressure)
    for name in spec.omit:
        files.pop(name, None)
    return files


def child_cgroup_files(procs: Sequence[Proc], with_psi: bool = True) -> dict[str, str]:
    """A child cgroup inside a container whose ``cgroup.subtree_control`` is empty: core
    files, the always-present ``cpu.stat`` keys and PSI, but no controller files."""
    files = _core_files(procs, bool(procs), "\n", "\n")
    user = sum(p.utime for p in procs) * USEC_PER_TICK
    system = sum(p.stime for p in procs) * USEC_PER_TICK
    files["cpu.stat"] = flat(
        [("usage_usec", user + system), ("user_usec", user), ("system_usec", system)]
    )
    if with_psi:
        zero = Pressure(Psi(0, 0, 0, 0), Psi(0, 0, 0, 0))
        for name in ("cpu.pressure", "memory.pressure", "io.pressure"):
            files[name] = psi_file(zero)
    return files


def slice_files(procs: Sequence[Proc] = (), subtree: str = SUBTREE_CONTROL) -> dict[str, str]:
    """An intermediate slice or a non-container unit (``ssh.service``)."""
    files = _core_files(procs, True, ROOT_CONTROLLERS, subtree)
    user = sum(p.utime for p in procs) * USEC_PER_TICK + 912_044
    system = sum(p.stime for p in procs) * USEC_PER_TICK + 401_377
    files["cpu.stat"] = flat(
        [
            ("usage_usec", user + system),
            ("user_usec", user),
            ("system_usec", system),
            ("nr_periods", 0),
            ("nr_throttled", 0),
            ("throttled_usec", 0),
            ("nr_bursts", 0),
            ("burst_usec", 0),
        ]
    )
    files["memory.current"] = "48627712\n"
    files["memory.max"] = "max\n"
    files["pids.current"] = f"{max(1, sum(p.threads for p in procs))}\n"
    files["pids.max"] = "max\n"
    return files


def root_files(
    procs: Sequence[Proc] = (), controllers: str = ROOT_CONTROLLERS, subtree: str = SUBTREE_CONTROL
) -> dict[str, str]:
    """The cgroup root: no resource-control files, but cpu.stat, PSI and the like."""
    files = _core_files(procs, True, controllers, subtree)
    for name in (
        "cgroup.type",
        "cgroup.freeze",
        "cgroup.events",
        "cgroup.max.depth",
        "cgroup.max.descendants",
    ):
        files.pop(name)
    files["cgroup.stat"] = "nr_descendants 41\nnr_dying_descendants 0\n"
    files["cpu.stat"] = flat(
        [
            ("usage_usec", 982_113_455),
            ("user_usec", 611_950_020),
            ("system_usec", 370_163_435),
            ("nr_periods", 0),
            ("nr_throttled", 0),
            ("throttled_usec", 0),
        ]
    )
    host = Pressure(Psi(0.41, 0.22, 0.09, 19_224_871), Psi(0.0, 0.0, 0.0, 0))
    files["cpu.pressure"] = psi_file(host)
    files["memory.pressure"] = psi_file(Pressure(Psi(0, 0, 0, 77_201), Psi(0, 0, 0, 60_114)))
    files["io.pressure"] = psi_file(
        Pressure(Psi(0.12, 0.08, 0.03, 4_611_240), Psi(0.1, 0.06, 0.02, 3_902_518))
    )
    files["cpuset.cpus.effective"] = f"0-{N_CPUS - 1}\n"
    files["cpuset.mems.effective"] = "0\n"
    files["io.stat"] = (
        "259:0 rbytes=9141637120 wbytes=21467029504 rios=301422 "
        "wios=1011388 dbytes=4294967296 dios=211\n"
    )
    return files


def proc_stat_line(p: Proc) -> str:
    """``/proc/<pid>/stat``: 52 fields, comm in parentheses (may hold spaces and ")")."""
    pgrp = p.nspgid[0] if p.nspgid else p.pid
    sid = p.nssid[0] if p.nssid else p.pid
    start_code = 94_785_073_885_184 + p.pid * 4_096
    fields = [
        p.state,
        p.ppid,
        pgrp,
        sid,
        0,
        -1,
        4_194_560,
        812 + p.pid % 97,
        0,
        p.pid % 5,
        0,
        p.utime,
        p.stime,
        0,
        0,
        20,
        0,
        p.threads,
        0,
        p.starttime,
        p.vsize_kb * 1024,
        p.rss_pages,
        18_446_744_073_709_551_615,
        start_code,
        start_code + 19_881,
        140_734_248_020_016,
        0,
        0,
        0,
        0,
        4_096,
        16_898,
        0,
        0,
        0,
        17,
        p.processor,
        0,
        0,
        0,
        0,
        0,
        start_code + 36_000,
        start_code + 37_616,
        start_code + 212_992,
        140_734_248_028_897,
        140_734_248_028_917,
        140_734_248_028_917,
        140_734_248_030_187,
        0,
    ]
    return f"{p.pid} ({p.comm}) " + " ".join(str(f) for f in fields) + "\n"


_STATE_NAMES = {
    "R": "R (running)",
    "S": "S (sleeping)",
    "D": "D (disk sleep)",
    "T": "T (stopped)",
    "Z": "Z (zombie)",
    "I": "I (idle)",
}


def proc_status(p: Proc) -> str:
    """``/proc/<pid>/status`` as a 6.x kernel prints it."""
    nspid = p.nspid or (p.pid,)
    nspgid = p.nspgid or nspid
    nssid = p.nssid or nspid
    rss_kb = p.rss_pages * PAGE_SIZE // 1024
    anon_kb = rss_kb * 2 // 3
    cols = "\t".join
    return (
        f"Name:\t{p.comm}\nUmask:\t0022\nState:\t{_STATE_NAMES.get(p.state, p.state)}\n"
        f"Tgid:\t{p.pid}\nNgid:\t0\nPid:\t{p.pid}\nPPid:\t{p.ppid}\nTracerPid:\t0\n"
        f"Uid:\t{p.uid}\t{p.uid}\t{p.uid}\t{p.uid}\nGid:\t{p.gid}\t{p.gid}\t{p.gid}\t{p.gid}\n"
        f"FDSize:\t64\nGroups:\t{p.gid if p.gid else ''} \n"
        f"NStgid:\t{cols(map(str, nspid))}\nNSpid:\t{cols(map(str, nspid))}\n"
        f"NSpgid:\t{cols(map(str, nspgid))}\nNSsid:\t{cols(map(str, nssid))}\nKthread:\t0\n"
        f"VmPeak:\t{p.vsize_kb + 2048:8d} kB\nVmSize:\t{p.vsize_kb:8d} kB\nVmLck:\t       0 kB\n"
        f"VmPin:\t       0 kB\nVmHWM:\t{rss_kb + 512:8d} kB\nVmRSS:\t{rss_kb:8d} kB\n"
        f"RssAnon:\t{anon_kb:8d} kB\nRssFile:\t{rss_kb - anon_kb:8d} kB\n"
        f"RssShmem:\t       0 kB\nVmData:\t{p.vsize_kb // 3:8d} kB\nVmStk:\t     132 kB\n"
        f"VmExe:\t    1204 kB\nVmLib:\t    4116 kB\nVmPTE:\t{72 + p.threads * 4:8d} kB\n"
        f"VmSwap:\t       0 kB\nHugetlbPages:\t       0 kB\nCoreDumping:\t0\nTHP_enabled:\t1\n"
        f"untag_mask:\t0xffffffffffffffff\nThreads:\t{p.threads}\nSigQ:\t0/63457\n"
        "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\n"
        "SigIgn:\t0000000000001000\nSigCgt:\t0000000188004a02\nCapInh:\t0000000000000000\n"
        "CapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n"
        "CapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t2\nSeccomp_filters:\t1\n"
        "Speculation_Store_Bypass:\tthread force mitigated\n"
        "SpeculationIndirectBranch:\tconditional force disabled\n"
        f"Cpus_allowed:\tf\nCpus_allowed_list:\t0-{N_CPUS - 1}\n"
        "Mems_allowed:\t00000000,00000001\nMems_allowed_list:\t0\n"
        f"voluntary_ctxt_switches:\t{1_207 + p.pid % 331}\n"
        f"nonvoluntary_ctxt_switches:\t{p.pid % 23}\n"
    )


def proc_files(p: Proc) -> dict[str, str | bytes]:
    """The per-process files every process gets (relative to ``<proc>/<pid>``)."""
    return {
        "stat": proc_stat_line(p),
        "status": proc_status(p),
        "cmdline": "".join(a + "\0" for a in p.argv).encode(),
        "comm": f"{p.comm}\n",
        "cgroup": f"0::{p.cgroup}\n",
    }


def host_stat(n_cpus: int = N_CPUS, seed: int = 0) -> str:
    """``/proc/stat`` of the host: the ``cpu`` line is the sum of the ``cpuN`` lines."""
    rows = [
        [
            183_224 + 911 * i + seed,
            1_021 + i,
            61_907 + 37 * i,
            4_102_877 + 5_003 * i + seed,
            3_311 + i,
            0,
            2_209 + 11 * i,
            0,
            0,
            0,
        ]
        for i in range(n_cpus)
    ]
    total = [sum(col) for col in zip(*rows, strict=True)]
    lines = ["cpu  " + " ".join(map(str, total))]
    lines += [f"cpu{i} " + " ".join(map(str, row)) for i, row in enumerate(rows)]
    lines += [
        "intr 101442107 0 9 0 0 0 0 0 0 0 0 0 0 156 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0",
        "ctxt 211842099",
        f"btime {BTIME}",
        "processes 192377",
        "procs_running 2",
        "procs_blocked 0",
        "softirq 59203376 4 17221003 22 1401176 420881 0 1309 22893312 0 17265669",
    ]
    return "\n".join(lines) + "\n"


def meminfo(total_kb: int = MEM_TOTAL_KB) -> str:
    free = total_kb // 5
    avail = total_kb * 3 // 5
    keys = [
        ("MemTotal", total_kb),
        ("MemFree", free),
        ("MemAvailable", avail),
        ("Buffers", 412_908),
        ("Cached", 6_021_544),
        ("SwapCached", 0),
        ("Active", 5_113_020),
        ("Inactive", 4_402_776),
        ("Shmem", 92_116),
        ("Slab", 711_232),
        ("SReclaimable", 512_440),
        ("SUnreclaim", 198_792),
        ("SwapTotal", 2_097_148),
        ("SwapFree", 2_097_148),
    ]
    return "".join(f"{k + ':':<16}{v:>8} kB\n" for k, v in keys)


# ---------------------------------------------------------------------------- writing


_WRITE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


def write_files(directory: Path, files: Mapping[str, str | bytes]) -> None:
    """Write ``name -> content``; names may contain ``/`` (``net/dev``).

    Plain ``os`` calls on str paths: pathlib costs more than the writes themselves here.
    """
    base = os.fspath(directory)
    os.makedirs(base, exist_ok=True)
    made = {base}
    for name, content in files.items():
        path = f"{base}/{name}"
        if "/" in name:
            parent = path.rsplit("/", 1)[0]
            if parent not in made:
                os.makedirs(parent, exist_ok=True)
                made.add(parent)
        fd = os.open(path, _WRITE_FLAGS, 0o644)
        try:
            os.write(fd, content.encode() if isinstance(content, str) else content)
        finally:
            os.close(fd)


def write_container(
    cgroup_root: Path, proc_root: Path, spec: ContainerSpec, write_netns: bool = True
) -> None:
    """Write one container: its cgroup directory (and child cgroups) and its processes.

    The init (``spec.procs[0]``) also gets ``net/dev``, ``ns/pid`` and, unless
    ``write_netns`` is false (the caller hard-links a shared one), ``ns/net``.
    """
    cg = cgroup_root / spec.cgroup_path
    write_files(cg, cgroup_files(spec))
    for name, members in spec.child_cgroups.items():
        write_files(cg / name, child_cgroup_files(members, "cpu.pressure" not in spec.omit))
    for p in spec.all_procs():
        write_files(proc_root / str(p.pid), proc_files(p))
    init = spec.procs[0]
    extra: dict[str, str | bytes] = {
        "net/dev": net_dev(spec.net),
        "ns/pid": f"pid:[{spec.pidns_inode}]\n",
    }
    if write_netns:
        extra["ns/net"] = f"net:[{spec.netns_inode}]\n"
    write_files(proc_root / str(init.pid), extra)


def write_host(
    root: Path,
    units: Mapping[str, Sequence[Proc]],
    root_procs: Sequence[Proc],
    extra_dirs: Sequence[str] = (),
    root_controllers: str = ROOT_CONTROLLERS,
    subtree: str = SUBTREE_CONTROL,
) -> None:
    """The host side: cgroup root files, slices/units with their processes, /proc/stat,
    /proc/meminfo and /proc/uptime. Every ancestor of a unit gets slice files."""
    cgroup_root, proc_root = root / "cgroup", root / "proc"
    write_files(cgroup_root, root_files(root_procs, root_controllers, subtree))
    for p in root_procs:
        write_files(proc_root / str(p.pid), proc_files(p))
    for unit, procs in units.items():
        write_files(cgroup_root / unit, slice_files(procs, "\n" if procs else subtree))
        for p in procs:
            write_files(proc_root / str(p.pid), proc_files(p))
    for d in extra_dirs:  # e.g. a .mount unit: no processes, nothing below it
        files = slice_files((), "\n")
        files["cgroup.events"] = "populated 0\nfrozen 0\n"
        write_files(cgroup_root / d, files)
    write_files(
        proc_root, {"stat": host_stat(), "meminfo": meminfo(), "uptime": "93122.41 351877.02\n"}
    )


# ---------------------------------------------------------------------------- make_tree


def container_id(seed: str) -> str:
    """A deterministic 64-hex container id."""
    return hashlib.sha256(seed.encode()).hexdigest()


def container_dir(layout: str, cid: str) -> str:
    if layout == "systemd":
        return f"system.slice/docker-{cid}.scope"
    if layout == "cgroupfs":
        return f"docker/{cid}"
    raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")


def host_procs(shim_pids: Sequence[int] = ()) -> tuple[list[Proc], dict[str, list[Proc]]]:
    """kthreadd in the root cgroup; systemd, sshd, containerd/shims and dockerd in units."""
    kthreadd = Proc(2, 0, "kthreadd", (), rss_pages=0, vsize_kb=0)
    systemd = Proc(
        1,
        0,
        "systemd",
        ("/sbin/init",),
        cgroup="/init.scope",
        threads=1,
        utime=412,
        stime=391,
        starttime=2,
        rss_pages=3_211,
    )
    sshd = Proc(
        811,
        1,
        "sshd",
        ("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups",),
        cgroup="/system.slice/ssh.service",
        utime=3,
        stime=2,
        starttime=812,
    )
    containerd = Proc(
        731,
        1,
        "containerd",
        ("/usr/bin/containerd",),
        threads=14,
        cgroup="/system.slice/containerd.service",
        utime=9_120,
        stime=4_231,
        starttime=790,
        rss_pages=12_332,
    )
    dockerd = Proc(
        902,
        1,
        "dockerd",
        ("/usr/bin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock"),
        threads=19,
        cgroup="/system.slice/docker.service",
        utime=7_331,
        stime=3_020,
        starttime=845,
        rss_pages=21_907,
    )
    shims = [
        Proc(
            pid,
            1,
            "containerd-shim",
            (
                "/usr/bin/containerd-shim-runc-v2",
                "-namespace",
                "moby",
                "-id",
                f"{pid:064x}",
                "-address",
                "/run/containerd/containerd.sock",
            ),
            threads=11,
            cgroup="/system.slice/containerd.service",
            utime=14,
            stime=9,
            starttime=5_000 + pid % 1_000,
            rss_pages=3_012,
        )
        for pid in shim_pids
    ]
    units: dict[str, list[Proc]] = {
        "init.scope": [systemd],
        "system.slice": [],
        "system.slice/ssh.service": [sshd],
        "system.slice/containerd.service": [containerd, *shims],
        "system.slice/docker.service": [dockerd],
    }
    return [kthreadd], units


# Container files the agent never reads; ``make_tree(..., lean=True)`` leaves them out.
LEAN_OMIT = frozenset(
    {
        "cgroup.freeze", "cgroup.max.depth", "cgroup.max.descendants", "cgroup.pressure",
        "cgroup.stat", "cgroup.threads", "cgroup.type", "cpu.idle", "cpu.max.burst",
        "cpu.weight.nice", "cpuset.cpus", "cpuset.mems", "cpuset.mems.effective",
        "hugetlb.2MB.current", "hugetlb.2MB.events", "hugetlb.2MB.max", "io.max", "io.weight",
        "memory.events.local", "memory.min", "memory.low", "memory.oom.group",
        "memory.swap.events", "memory.swap.high", "memory.swap.max", "memory.swap.peak",
        "pids.events",
    }
)  # fmt: skip


def _bench_container(layout: str, i: int, shim: int, lean: bool) -> ContainerSpec:
    cid = container_id(f"gentree-{layout}-{i}")
    path = container_dir(layout, cid)
    init, child = shim + 11, shim + 16
    procs = [
        Proc(
            init,
            shim,
            "python3",
            ("python3", "-m", "http.server", "8080"),
            nspid=(init, 1),
            nspgid=(init, 1),
            nssid=(init, 1),
            threads=4,
            utime=120 + i % 50,
            stime=30 + i % 7,
            starttime=9_000 + i,
            vsize_kb=41_876,
            rss_pages=5_120 + i % 300,
            cgroup=f"/{path}",
        ),
        Proc(
            child,
            init,
            "sleep",
            ("sleep", "infinity"),
            nspid=(child, 7),
            nspgid=(init, 1),
            nssid=(init, 1),
            uid=1000,
            gid=1000,
            starttime=9_050 + i,
            rss_pages=140,
            vsize_kb=2_412,
            cgroup=f"/{path}",
        ),
    ]
    anon = (6_000 + 37 * (i % 500)) * PAGE_SIZE
    file = (2_500 + 13 * (i % 400)) * PAGE_SIZE
    file_pages = file // PAGE_SIZE
    stat = memory_stat_values(
        anon, file, file_pages // 2 * PAGE_SIZE, file_pages // 5 * PAGE_SIZE, 5, i
    )
    limited = i % 3 != 0
    current = current_from_stat(stat)
    user = sum(p.utime for p in procs) * USEC_PER_TICK + 7_311 * i
    system = sum(p.stime for p in procs) * USEC_PER_TICK + 1_913 * i
    z = Psi(0.0, 0.0, 0.0, 0)
    return ContainerSpec(
        id=cid,
        cgroup_path=path,
        procs=procs,
        user_usec=user,
        system_usec=system,
        nr_periods=(4_000 + i) if limited else 0,
        nr_throttled=(i % 9) if limited else 0,
        throttled_usec=(i % 9) * 21_007 if limited else 0,
        cpu_quota_us=50_000 * (1 + i % 4) if limited else None,
        memory_stat=stat,
        memory_current=current,
        memory_max=(256 << 20) * (1 + i % 4) if limited else None,
        memory_peak=current + 7 * PAGE_SIZE * (i % 13),
        memory_swap=0,
        memory_events=memory_events(max_=i % 5, oom=i % 2, oom_kill=i % 2),
        io=[IoLine(259, 0, 1_228_800 + 4_096 * i, 409_600 + 8_192 * i, 300 + i, 100 + i)],
        pids_max=(1_000 if limited else None),
        pids_peak=5 + i % 7,
        psi_cpu=Pressure(Psi(0.12, 0.05, 0.01, 18_432 + i), Psi(0.0, 0.0, 0.0, 9_021 + i)),
        psi_memory=Pressure(z, z),
        psi_io=Pressure(Psi(0.0, 0.01, 0.0, 3_318 + i), Psi(0.0, 0.0, 0.0, 2_904 + i)),
        net=[
            Iface("lo", (3_193, 29, 0, 0, 0, 0, 0, 0), (3_193, 29, 0, 0, 0, 0, 0, 0)),
            Iface(
                "eth0",
                (1_843_221 + 977 * i, 2_114 + i, 0, 0, 0, 0, 0, 0),
                (402_113 + 311 * i, 1_880 + i, 0, 0, 0, 0, 0, 0),
            ),
        ],
        netns_inode=4_026_532_300 + 3 * i,
        pidns_inode=4_026_532_298 + 3 * i,
        omit=LEAN_OMIT if lean else frozenset(),
    )


def make_tree(
    dest: Path, containers: int, layout: str = "systemd", *, lean: bool = False
) -> list[str]:
    """Write a pure-v2 host with ``containers`` containers under ``dest``; return their ids.

    ``dest`` must not exist or be empty. Ids are deterministic for a (layout, index) pair.
    Every third container (index 0, 3, ...) has no limits (``max``), the others have cpu,
    memory and pids limits. ``lean`` leaves out the ~27 container files the agent never
    reads (about 40% fewer files; real directories hold them all).
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}")
    if containers < 0:
        raise ValueError("containers must be >= 0")
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"{dest} is not empty")
    cgroup_root, proc_root = dest / "cgroup", dest / "proc"
    shims = [10_000 + 20 * i for i in range(containers)]
    root_procs, units = host_procs(shims)
    if layout == "cgroupfs":
        units["docker"] = []
    write_host(dest, units, root_procs, extra_dirs=("something.mount",))
    ids: list[str] = []
    for i, shim in enumerate(shims):
        spec = _bench_container(layout, i, shim, lean)
        write_container(cgroup_root, proc_root, spec)
        ids.append(spec.id)
    return ids


# What ``TreeCounters.bump`` can move.
MOVES = ("cpu", "memory", "io", "net", "psi")


def _moved_files(spec: ContainerSpec, kinds: tuple[str, ...]) -> dict[str, str]:
    """The container's files (relative to its cgroup directory) that ``kinds`` changed."""
    files: dict[str, str] = {}
    if "cpu" in kinds:
        files["cpu.stat"] = cpu_stat(spec)
    if "memory" in kinds:
        files["memory.current"] = f"{spec.memory_current}\n"
        files["memory.stat"] = flat(spec.memory_stat.items())
        files["memory.peak"] = f"{spec.memory_peak}\n"
    if "io" in kinds:
        files["io.stat"] = io_stat(spec.io)
    if "psi" in kinds:
        for name, p in (("cpu.pressure", spec.psi_cpu), ("io.pressure", spec.psi_io)):
            if p is not None:
                files[name] = psi_file(p)
    return {name: text for name, text in files.items() if name not in spec.omit}


def _rewrite(path: str, text: str) -> None:
    """In place: same inode, so a descriptor kept open reads the new bytes."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


class TreeCounters:
    """Moves the counters of a tree that ``make_tree`` wrote (same arguments), between
    the sampler's passes: files are rewritten in place (same inode, O_TRUNC), so a
    reader's kept descriptor sees the new bytes as it would on cgroupfs. Every move only
    adds: counters grow, memory grows a page at a time."""

    def __init__(
        self, dest: Path, containers: int, layout: str = "systemd", *, lean: bool = False
    ) -> None:
        self.cgroup_root, self.proc_root = dest / "cgroup", dest / "proc"
        self.specs = [_bench_container(layout, i, 10_000 + 20 * i, lean) for i in range(containers)]

    def bump(self, indices: Iterable[int], moves: Iterable[str] = MOVES, step: int = 1) -> None:
        """Move the ``moves`` counters of the containers at ``indices`` by ``step`` units."""
        kinds = tuple(moves)
        unknown = set(kinds) - set(MOVES)
        if unknown:
            raise ValueError(f"unknown moves {sorted(unknown)}; expected some of {MOVES}")
        cgroup_root, proc_root = os.fspath(self.cgroup_root), os.fspath(self.proc_root)
        for i in indices:
            spec = self.specs[i]
            _move(spec, kinds, step)
            for name, text in _moved_files(spec, kinds).items():
                _rewrite(f"{cgroup_root}/{spec.cgroup_path}/{name}", text)
            if "net" in kinds:
                _rewrite(f"{proc_root}/{spec.procs[0].pid}/net/dev", net_dev(spec.net))


def _move(spec: ContainerSpec, kinds: tuple[str, ...], step: int) -> None:
    if "cpu" in kinds:
        spec.user_usec += 731 * step
        spec.system_usec += 211 * step
        if spec.cpu_quota_us is not None:
            spec.nr_periods += 10 * step
            spec.nr_throttled += step
            spec.throttled_usec += 1_009 * step
    if "memory" in kinds:
        stat = dict(spec.memory_stat)
        stat["anon"] += PAGE_SIZE * step
        stat["inactive_anon"] += PAGE_SIZE * step
        stat["pgfault"] += 17 * step
        spec.memory_stat = stat
        spec.memory_current += PAGE_SIZE * step
        spec.memory_peak = max(spec.memory_peak, spec.memory_current)
    if "io" in kinds:
        spec.io = [
            IoLine(d.major, d.minor, d.rbytes + 4_096 * step, d.wbytes + 8_192 * step,
                   d.rios + step, d.wios + 2 * step, d.dbytes, d.dios, d.extra)
            for d in spec.io
        ]  # fmt: skip
    if "net" in kinds:
        spec.net = [
            i if i.name == "lo" else Iface(
                i.name, (i.rx[0] + 1_500 * step, i.rx[1] + step, *i.rx[2:]),
                (i.tx[0] + 600 * step, i.tx[1] + step, *i.tx[2:]),
            )
            for i in spec.net
        ]  # fmt: skip
    if "psi" in kinds:
        for name in ("psi_cpu", "psi_io"):
            p = getattr(spec, name)
            if p is not None:
                some = Psi(p.some.avg10, p.some.avg60, p.some.avg300, p.some.total + 97 * step)
                setattr(spec, name, Pressure(some, p.full))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("dest", type=Path, help="directory to create (must be empty)")
    parser.add_argument("--containers", "-n", type=int, default=100)
    parser.add_argument("--layout", choices=LAYOUTS, default="systemd")
    parser.add_argument("--print-ids", action="store_true", help="print one id per line")
    parser.add_argument(
        "--lean", action="store_true", help="leave out the container files the agent never reads"
    )
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    ids = make_tree(args.dest, args.containers, args.layout, lean=args.lean)
    elapsed = time.perf_counter() - t0
    if args.print_ids:
        sys.stdout.write("".join(f"{cid}\n" for cid in ids))
    n_files = sum(len(files) for _, _, files in os.walk(args.dest))
    print(
        f"wrote {len(ids)} containers ({n_files} files, layout {args.layout}) to "
        f"{args.dest} in {elapsed:.2f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
