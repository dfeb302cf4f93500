"""The memory breakdown's shmem and kernel fields, from memory.stat as kernels write it:
v2 with the ``kernel`` key (5.18+), v2 before it (the sum of its parts), v1's
``total_shmem``. Pure v2 text comes from the fixture trees (this host is hybrid); the
real v1 files are read in tests/server/test_snapshot_route.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.parse_cgroup import parse_key
from watchdog_agent.collectors.readers import (
    KERNEL_PARTS,
    _memory_stat_v1,
    _memory_stat_v2,
    kernel_memory_v2,
)
from watchdog_agent.collectors.sampler import Sampler
from watchdog_agent.collectors.targets import discovered_targets
from watchdog_agent.wire.tojson import memory_stat_json

TREES = Path(__file__).parent.parent / "fixtures" / "trees"
SYSTEMD_STAT = next((TREES / "systemd" / "cgroup" / "system.slice").glob("docker-*/memory.stat"))


def keyed(data: bytes) -> dict[bytes, int]:
    return {k: int(v) for k, v in (line.split() for line in data.splitlines())}


def without(data: bytes, *keys: bytes) -> bytes:
    return b"".join(line + b"\n" for line in data.splitlines() if line.split()[0] not in keys)


def test_v2_kernel_and_shmem_are_read_by_key() -> None:
    data = SYSTEMD_STAT.read_bytes()
    fields = _memory_stat_v2(data)
    want = keyed(data)
    assert fields["memory_shmem_bytes"] == want[b"shmem"] == 4096
    assert fields["memory_kernel_bytes"] == want[b"kernel"]
    assert fields["memory_rss_bytes"] == want[b"anon"]
    assert fields["memory_cache_bytes"] == want[b"file"]


@pytest.mark.parametrize("layout", ["systemd", "cgroupfs", "podman", "unlimited"])
def test_before_5_18_kernel_is_the_sum_of_its_parts(layout: str) -> None:
    """Kernels that write ``kernel`` write it as exactly these parts' sum (sock apart), so
    the sum stands in for it where the key is missing."""
    checked = 0
    for path in sorted((TREES / layout / "cgroup").rglob("memory.stat")):
        data = path.read_bytes()
        want = keyed(data).get(b"kernel")
        if want is None:
            continue
        assert kernel_memory_v2(without(data, b"kernel")) == want, path
        assert kernel_memory_v2(data) == want
        checked += 1
    assert checked


def test_older_kernels_sum_the_parts_they_have() -> None:
    """5.4-era memory.stat: no kernel, percpu or vmalloc line."""
    data = b"anon 8192\nfile 4096\nkernel_stack 16384\nslab 3000\nsock 999\nshmem 0\n"
    assert kernel_memory_v2(data) == 16384 + 3000
    fields = _memory_stat_v2(data)
    assert fields["memory_shmem_bytes"] == 0  # zero is a value
    assert fields["memory_kernel_bytes"] == 19384


def test_absent_keys_stay_gaps_never_zero() -> None:
    data = b"anon 8192\nfile 4096\npgfault 3\n"  # no shmem, no kernel, no parts
    fields = _memory_stat_v2(data)
    assert fields["memory_shmem_bytes"] is None and fields["memory_kernel_bytes"] is None
    assert kernel_memory_v2(b"") is None
    for key in KERNEL_PARTS:  # a key's name inside another's is not the key
        assert kernel_memory_v2(key + b"_x 5\n") is None


def test_v1_shmem_is_the_hierarchical_total() -> None:
    data = b"cache 100\nrss 200\nshmem 7\ntotal_cache 4096\ntotal_rss 8192\ntotal_shmem 8388608\n"
    fields = _memory_stat_v1(data)
    assert fields["memory_shmem_bytes"] == 8388608
    assert "memory_kernel_bytes" not in fields  # v1 reads it from memory.kmem.usage_in_bytes
    assert _memory_stat_v1(b"total_rss 1\n")["memory_shmem_bytes"] is None


def test_sampler_fills_the_breakdown_from_a_v2_tree() -> None:
    root = TREES / "systemd"
    layout = Layout(str(root / "cgroup"))
    sampler = Sampler(proc_root=str(root / "proc"), mode=layout.mode)
    try:
        snap = sampler.sample(discovered_targets(layout))
    finally:
        sampler.close()
    cid = SYSTEMD_STAT.parent.name.removeprefix("docker-").removesuffix(".scope")
    sample = snap.containers[cid].sample
    want = keyed(SYSTEMD_STAT.read_bytes())
    current = int((SYSTEMD_STAT.parent / "memory.current").read_text())
    assert memory_stat_json(sample) == {
        "current": current,
        "anon": want[b"anon"],
        "file": want[b"file"],
        "active_file": want[b"active_file"],
        "inactive_file": want[b"inactive_file"],
        "shmem": want[b"shmem"],
        "kernel": want[b"kernel"],
    }


def test_every_key_found_alone_is_the_whole_files_value() -> None:
    """parse_key (the sampler's key-by-key lookup) agrees with a full parse for every
    key of every fixture memory.stat, the first line's and those another key ends with
    (file, active_file, shmem_thp...) included."""
    checked = 0
    for path in sorted(TREES.rglob("memory.stat")):
        data = path.read_bytes()
        for key, value in keyed(data).items():
            assert parse_key(data, key) == value, (path, key)
            checked += 1
    assert checked > 100
