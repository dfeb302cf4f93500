"""The host's totals, read with psutil under --proc-root (I/O; the parsing and the CPU %
arithmetic are in hostparse.py).

``--proc-root`` is how a containerised agent reads the host: with the host's /proc
mounted (``-v /proc:/host/proc:ro --proc-root /host/proc``) psutil reads the host's
/proc/stat and /proc/meminfo, which the kernel keeps for the whole machine. What each
value is inside a container:

- CPUs, CPU %, boot time: /proc/stat under the root (psutil's ``cpu_times``,
  ``boot_time``; not ``cpu_count``, which asks sysconf, i.e. the agent's own view).
- memory and swap: /proc/meminfo (psutil's ``virtual_memory``, ``swap_memory``; used
  memory is total - available). A meminfo without SwapTotal (no kernel writes one) would
  make psutil ask sysinfo(2), i.e. the agent's own kernel view.
- load averages: /proc/loadavg under the root (psutil's ``getloadavg`` is
  ``os.getloadavg``, which ignores the procfs path).
- kernel: /proc/sys/kernel/osrelease; one kernel serves every container, so this is the
  host's.
- hostname: /proc/sys/kernel/hostname, which the kernel answers for the *reader's* UTS
  namespace: the host's name when the agent runs on the host or with ``--uts=host``, the
  container's otherwise. It is reported as read, never guessed.
- OS: the os-release of the root PID 1 of that /proc sees (``<root>/1/root/etc/os-release``,
  the host's with the host's /proc and ``--pid=host``); with the default /proc and that
  not readable, the agent's own ``/etc/os-release``; else a gap.

A value that cannot be read is a gap (None), never 0.
"""

from __future__ import annotations

import os
import time
import warnings

import psutil

from watchdog_agent.logsetup import get_logger
from watchdog_agent.model import HostSample

from .hostparse import (
    CpuTimes,
    Load,
    cpu_percent,
    cpu_times,
    one_line,
    parse_loadavg,
    parse_os_release,
)

log = get_logger("watchdog_agent.collectors.host")

DEFAULT_PROC = "/proc"
# psutil's own failures on a partial or odd /proc: a missing file, a missing field
# (KeyError: MemTotal), no btime line (RuntimeError), a malformed number
_READ_ERRORS = (OSError, KeyError, RuntimeError, ValueError, IndexError)

# psutil warns when /proc/vmstat (swap-in/out) or meminfo's Active/Inactive/Buffers/...
# are missing and reports 0 for them; the agent uses none of those fields, so the
# warnings say nothing about what it serves (set once, at import, for psutil only)
warnings.filterwarnings("ignore", r"'sin' and 'sout' swap memory stats", RuntimeWarning, "psutil")
warnings.filterwarnings("ignore", r".* memory stats couldn't be determined", RuntimeWarning,
                        "psutil")  # fmt: skip


def use_proc_root(proc_root: str) -> None:
    """Point psutil at ``proc_root``, once, when host sampling starts.

    psutil has no per-call procfs argument: every call reads the module global
    ``psutil.PROCFS_PATH`` (``psutil._common.get_procfs_path``). It is therefore set for
    the whole process, once, before the first read; a ``serve`` process reads one /proc.
    Several agents in one process (only tests make them) share it: each sets it as it
    starts, and a change of an already set root is logged."""
    current = psutil.PROCFS_PATH
    if current not in (DEFAULT_PROC, proc_root):
        log.warning("psutil's procfs path changes", previous=current, proc_root=proc_root)
    psutil.PROCFS_PATH = proc_root


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read(65536)
    except OSError:
        return None


class HostReader:
    """Reads HostSamples; keeps the previous CPU reading for the CPU %. One owner (not
    thread-safe): the host sampling task, one read at a time."""

    def __init__(self, proc_root: str) -> None:
        self.proc_root = proc_root
        use_proc_root(proc_root)
        self._cpu: CpuTimes | None = None
        self._kernel: str | None = None
        self._os: str | None = None
        self.errors_total = 0  # values that could not be read, over every sample

    def read(self) -> HostSample:
        """One sample; the CPU % is over the time since the previous ``read`` (None on
        the first)."""
        now = time.time()
        cpus, cpu = self._cpu_reading()
        percent = None
        if cpus is not None and cpu is not None and self._cpu is not None:
            percent = cpu_percent(self._cpu, cpu, cpus)
        if cpu is not None:
            self._cpu = cpu
        load = self._load()
        total = available = used = None
        try:
            mem = psutil.virtual_memory()
            # used as total - available whatever psutil's version (its own ``used`` was
            # total - free - buffers - cache before 6.0)
            total, available = int(mem.total), int(mem.available)
            used = total - available
        except _READ_ERRORS:
            self.errors_total += 1
        swap_total = swap_used = swap_free = None
        try:
            swap = psutil.swap_memory()
            swap_total, swap_used, swap_free = int(swap.total), int(swap.used), int(swap.free)
        except _READ_ERRORS:
            self.errors_total += 1
        return HostSample(
            taken_at=now,
            hostname=self._one("sys/kernel/hostname"),
            kernel=self._kernel_release(),
            os=self._os_name(),
            boot_time=self._boot_time(),
            cpus=cpus,
            cpu_percent=percent,
            load1=None if load is None else load.load1,
            load5=None if load is None else load.load5,
            load15=None if load is None else load.load15,
            memory_total_bytes=total,
            memory_available_bytes=available,
            memory_used_bytes=used,
            swap_total_bytes=swap_total,
            swap_used_bytes=swap_used,
            swap_free_bytes=swap_free,
        )

    def _cpu_reading(self) -> tuple[int | None, CpuTimes | None]:
        try:
            per_cpu = psutil.cpu_times(percpu=True)
            total = psutil.cpu_times()
        except _READ_ERRORS:
            self.errors_total += 1
            return None, None
        cpus = len(per_cpu) or None
        return cpus, cpu_times(total._asdict())

    def _boot_time(self) -> float | None:
        try:
            return float(psutil.boot_time())
        except _READ_ERRORS:
            self.errors_total += 1
            return None

    def _load(self) -> Load | None:
        text = _read_text(os.path.join(self.proc_root, "loadavg"))
        load = None if text is None else parse_loadavg(text)
        if load is None:
            self.errors_total += 1
        return load

    def _one(self, name: str) -> str | None:
        text = _read_text(os.path.join(self.proc_root, name))
        return None if text is None else one_line(text)

    def _kernel_release(self) -> str | None:
        if self._kernel is None:  # one kernel per boot: read until known
            self._kernel = self._one("sys/kernel/osrelease")
        return self._kernel

    def _os_name(self) -> str | None:
        if self._os is None:
            for path in self._os_release_paths():
                text = _read_text(path)
                name = None if text is None else parse_os_release(text)
                if name is not None:
                    self._os = name
                    break
        return self._os

    def _os_release_paths(self) -> list[str]:
        root = os.path.join(self.proc_root, "1", "root")
        paths = [os.path.join(root, "etc/os-release"), os.path.join(root, "usr/lib/os-release")]
        if os.path.realpath(self.proc_root) == DEFAULT_PROC:
            paths += ["/etc/os-release", "/usr/lib/os-release"]
        return paths
