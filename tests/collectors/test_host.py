"""The host reader against this host's /proc and against a --proc-root tree, and the
agent's own cost against prometheus_client's ProcessCollector."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers import hosttree
from prometheus_client.process_collector import ProcessCollector

from watchdog_agent.collectors.agentcost import AgentCost
from watchdog_agent.collectors.host import HostReader
from watchdog_agent.exporter.table import PROCESS_TABLE
from watchdog_agent.model import HostSample


@pytest.fixture(autouse=True)
def restore_procfs_path() -> Iterator[None]:
    """psutil's procfs path is a module global the reader sets: put it back."""
    before = psutil.PROCFS_PATH
    yield
    psutil.PROCFS_PATH = before


def meminfo_kb(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name == key:
            return int(rest.split()[0])
    raise AssertionError(f"{key} not in /proc/meminfo")


def loadavg() -> tuple[float, float, float]:
    a, b, c = Path("/proc/loadavg").read_text().split()[:3]
    return float(a), float(b), float(c)


def test_live_host_totals() -> None:
    reader = HostReader("/proc")
    assert psutil.PROCFS_PATH == "/proc"
    for _ in range(20):  # bounded: the load average changes every 5 s
        before = loadavg()
        first = reader.read()
        after = loadavg()
        if before == after:
            break
    assert (first.load1, first.load5, first.load15) == before == after
    assert first.cpu_percent is None  # one reading: no CPU % yet
    assert first.cpus == os.cpu_count()
    assert first.memory_total_bytes == meminfo_kb("MemTotal") * 1024
    assert first.swap_total_bytes == meminfo_kb("SwapTotal") * 1024
    assert first.boot_time is not None and 0 < first.boot_time < time.time()
    assert first.kernel == os.uname().release
    assert first.hostname == Path("/proc/sys/kernel/hostname").read_text().strip()
    assert first.os is not None
    available = first.memory_available_bytes
    assert available is not None and 0 < available <= first.memory_total_bytes
    used = first.memory_used_bytes
    assert used is not None and 0 < used <= first.memory_total_bytes
    time.sleep(0.2)
    second = reader.read()
    assert second.cpu_percent is not None and second.cpus is not None
    assert 0.0 <= second.cpu_percent <= 100.0 * second.cpus
    assert reader.errors_total == 0


def test_values_come_from_the_proc_root(tmp_path: Path) -> None:
    proc = hosttree.host_tree(tmp_path)
    reader = HostReader(str(proc))
    assert str(proc) == psutil.PROCFS_PATH
    first = reader.read()
    hosttree.write_stat(proc, hosttree.CPU_AFTER)
    second = reader.read()
    assert second == HostSample(
        taken_at=second.taken_at,
        hostname=hosttree.HOSTNAME,
        kernel=hosttree.KERNEL,
        os=hosttree.OS_NAME,
        boot_time=float(hosttree.BOOT_TIME),
        cpus=hosttree.CPUS,
        cpu_percent=hosttree.CPU_PERCENT_BETWEEN,
        load1=hosttree.LOAD[0],
        load5=hosttree.LOAD[1],
        load15=hosttree.LOAD[2],
        memory_total_bytes=hosttree.MEM_TOTAL_KB * 1024,
        memory_available_bytes=hosttree.MEM_AVAILABLE_KB * 1024,
        memory_used_bytes=(hosttree.MEM_TOTAL_KB - hosttree.MEM_AVAILABLE_KB) * 1024,
        swap_total_bytes=hosttree.SWAP_TOTAL_KB * 1024,
        swap_used_bytes=(hosttree.SWAP_TOTAL_KB - hosttree.SWAP_FREE_KB) * 1024,
        swap_free_bytes=hosttree.SWAP_FREE_KB * 1024,
    )
    assert first.cpu_percent is None
    assert second.cpu_fraction == 0.5
    assert reader.read().cpu_percent is None  # no CPU time passed in the tree: a gap


def test_missing_files_are_gaps_not_zeros(tmp_path: Path) -> None:
    proc = hosttree.host_tree(tmp_path)
    for name in ("loadavg", "meminfo", "stat", "sys/kernel/hostname", "sys/kernel/osrelease",
                 "1/root/etc/os-release"):  # fmt: skip
        (proc / name).unlink()
    sample = HostReader(str(proc)).read()
    values = {k: getattr(sample, k) for k in HostSample.__slots__ if k != "taken_at"}
    assert values == dict.fromkeys(values), values


def test_process_table_is_prometheus_clients() -> None:
    theirs = [
        (m.samples[0].name, m.type, m.documentation)
        for m in ProcessCollector(registry=None).collect()
    ]
    assert [(s.name, s.type, s.help) for s in PROCESS_TABLE] == theirs


def test_agent_cost_reads_this_process() -> None:
    cost = AgentCost().read()
    theirs = {
        m.samples[0].name: m.samples[0].value for m in ProcessCollector(registry=None).collect()
    }
    ours = {s.name: s.get(cost) for s in PROCESS_TABLE}
    assert set(ours) == set(theirs)
    for name in ("process_start_time_seconds", "process_max_fds", "process_virtual_memory_bytes"):
        assert ours[name] == pytest.approx(theirs[name], rel=0.05), name
    assert ours["process_cpu_seconds_total"] == pytest.approx(
        theirs["process_cpu_seconds_total"], abs=0.5
    )
    open_fds = ours["process_open_fds"]
    assert open_fds is not None and open_fds >= 3
