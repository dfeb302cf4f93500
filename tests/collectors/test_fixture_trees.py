"""Pure cgroup v2 layouts this hybrid host cannot produce, read from fixture trees
(tests/fixtures/trees/<layout>/{cgroup,proc,expected.json})."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.proctree import member_pids, read_processes
from watchdog_agent.collectors.sampler import Sampler
from watchdog_agent.collectors.targets import discovered_targets
from watchdog_agent.model import CgroupMode, ContainerStats

TREES = Path(__file__).parent.parent / "fixtures" / "trees"
LAYOUTS = sorted(p.name for p in TREES.iterdir() if (p / "expected.json").exists())

SAMPLE_FIELDS = (
    "cpu_usage_ns", "cpu_user_ns", "cpu_system_ns", "cpu_periods", "cpu_throttled_periods",
    "cpu_throttled_ns", "cpu_quota_us", "cpu_period_us", "cpu_weight", "memory_usage_bytes",
    "memory_limit_bytes", "memory_high_bytes", "memory_peak_bytes", "memory_swap_bytes",
    "memory_failcnt", "oom_kills", "memory_rss_bytes", "memory_cache_bytes",
    "memory_mapped_file_bytes", "memory_inactive_file_bytes", "memory_active_file_bytes",
    "pids_current", "pids_limit", "pids_peak",
)  # fmt: skip


def _read(layout: str) -> tuple[dict[str, Any], dict[str, ContainerStats]]:
    root = TREES / layout
    expected = json.loads((root / "expected.json").read_text())
    lay = Layout(str(root / "cgroup"))
    sampler = Sampler(proc_root=str(root / "proc"), mode=lay.mode)
    try:
        snap = sampler.sample(discovered_targets(lay))
    finally:
        sampler.close()
    return expected, dict(snap.containers)


def test_there_are_layouts() -> None:
    assert {"systemd", "cgroupfs", "kubepods", "podman", "unlimited", "missing"} <= set(LAYOUTS)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_mode_and_discovery(layout: str) -> None:
    lay = Layout(str(TREES / layout / "cgroup"))
    expected = json.loads((TREES / layout / "expected.json").read_text())
    assert lay.mode is CgroupMode.V2
    assert set(lay.discover()) == set(expected["containers"])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_values(layout: str) -> None:
    expected, got = _read(layout)
    assert set(got) == set(expected["containers"])
    for cid, want in expected["containers"].items():
        stats = got[cid]
        sample = stats.sample
        for name in SAMPLE_FIELDS:
            assert getattr(sample, name) == want[name], (layout, cid[:12], name)
        assert stats.blk_read_bytes == want["blk_read_bytes"]
        assert stats.blk_write_bytes == want["blk_write_bytes"]
        assert stats.net_rx_bytes == want["net_rx_bytes"]
        assert stats.net_tx_bytes == want["net_tx_bytes"]
        assert stats.memory_usage_bytes == want["docker_memory_usage_bytes"]
        assert stats.memory_limit_bytes == want["memory_limit_bytes"]
        assert stats.pids_limit == want["pids_limit"]
        names = None if sample.net is None else sorted(i.name for i in sample.net)
        wanted = want["net_interfaces"]
        assert names == (None if wanted is None else sorted(wanted))
        some = sample.psi_cpu.some if sample.psi_cpu is not None else None
        assert (None if some is None else some.total_usec) == want["psi_cpu_some_total_usec"]
        full = sample.psi_memory.full if sample.psi_memory is not None else None
        assert (None if full is None else full.avg10) == want["psi_memory_full_avg10"]
        assert sample.errors == 0


@pytest.mark.parametrize("layout", LAYOUTS)
def test_process_tree(layout: str) -> None:
    root = TREES / layout
    expected = json.loads((root / "expected.json").read_text())
    lay = Layout(str(root / "cgroup"))
    for cid, loc in lay.discover().items():
        want = expected["containers"][cid]
        pids = member_pids(loc)
        assert pids == want["pids_in_tree"]
        listed = read_processes(str(root / "proc"), pids)
        assert listed.unreadable == 0
        flat = listed.processes
        assert {str(p.pid): p.ns_pid for p in flat} == {k: v for k, v in want["ns_pids"].items()}
        assert {str(p.pid): p.ppid for p in flat} == want["ppids"]
