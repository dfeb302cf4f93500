"""The fixture trees under tests/fixtures/trees and bench/gentree.py are self-consistent.

No agent code here: these tests check the fixtures against the file formats and the
path-discovery rules they are meant to encode, so a failure in test_fixture_trees.py
points at the agent, not at a broken fixture.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from helpers.gentree import load_gentree

TREES = Path(__file__).parent.parent / "fixtures" / "trees"
LAYOUTS = sorted(p.name for p in TREES.iterdir() if (p / "expected.json").exists())

_ID = r"[0-9a-f]{64}"
_CONTAINER_NAMES = (
    re.compile(rf"^docker-({_ID})\.scope$"),
    re.compile(rf"^libpod-({_ID})\.scope$"),
    re.compile(rf"^cri-containerd-({_ID})\.scope$"),
    re.compile(rf"^crio-({_ID})\.scope$"),
    re.compile(rf"^({_ID})$"),  # under docker/ (cgroupfs) or a custom --cgroup-parent
)

KEYS = {
    "cgroup_path", "init_pid", "cpu_usage_ns", "cpu_user_ns", "cpu_system_ns", "cpu_periods",
    "cpu_throttled_periods", "cpu_throttled_ns", "cpu_quota_us", "cpu_period_us",
    "cpu_weight", "memory_usage_bytes", "memory_limit_bytes", "memory_high_bytes",
    "memory_peak_bytes", "memory_swap_bytes", "memory_failcnt", "oom_kills",
    "memory_rss_bytes", "memory_cache_bytes", "memory_mapped_file_bytes",
    "memory_inactive_file_bytes", "memory_active_file_bytes", "pids_current", "pids_limit",
    "pids_peak", "blk_read_bytes", "blk_write_bytes", "psi_cpu_some_total_usec",
    "psi_memory_full_avg10", "net_rx_bytes", "net_tx_bytes", "net_interfaces",
    "docker_memory_usage_bytes", "pids_in_tree", "ns_pids", "ppids",
}  # fmt: skip


def discover(cgroup_root: Path) -> dict[str, Path]:
    """Container cgroups by path, as the brief's rules say (no agent code)."""
    found: dict[str, Path] = {}
    stack = [cgroup_root]
    while stack:
        directory = stack.pop()
        for entry in os.scandir(directory):
            if not entry.is_dir(follow_symlinks=False) or entry.name.endswith(".mount"):
                continue
            for pattern in _CONTAINER_NAMES:
                m = pattern.match(entry.name)
                if m:
                    assert m.group(1) not in found, f"container {m.group(1)} found twice"
                    found[m.group(1)] = Path(entry.path)
                    break
            else:
                stack.append(Path(entry.path))
    return found


def member_pids(cgroup_dir: Path) -> list[int]:
    """cgroup.procs of a cgroup and its descendants, this cgroup first."""
    pids = [int(x) for x in (cgroup_dir / "cgroup.procs").read_text().split() if x != "0"]
    for sub in sorted(p for p in cgroup_dir.iterdir() if p.is_dir()):
        pids += member_pids(sub)
    return pids


def status_fields(proc: Path, pid: int) -> dict[str, str]:
    lines = (proc / str(pid) / "status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (line.partition(":") for line in lines)}


def net_dev_names(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    assert lines[0].startswith("Inter-|") and lines[1].startswith(" face |")
    names = []
    for line in lines[2:]:
        name, _, numbers = line.partition(":")
        assert len(numbers.split()) == 16, line
        names.append(name.strip())
    return names


def load(layout: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((TREES / layout / "expected.json").read_text())
    return data


def test_all_layouts_are_there() -> None:
    assert set(LAYOUTS) >= {
        "systemd", "cgroupfs", "kubepods", "podman", "unlimited", "missing", "sharednet",
    }  # fmt: skip


@pytest.mark.parametrize("layout", LAYOUTS)
def test_expected_json_and_mode(layout: str) -> None:
    tree = TREES / layout
    expected = load(layout)
    assert expected["mode"] == "v2"
    assert (tree / "cgroup" / "cgroup.controllers").is_file()
    assert (tree / "proc" / "stat").read_text().startswith("cpu  ")
    assert 1 <= len(expected["containers"]) <= 3
    for cid, want in expected["containers"].items():
        assert re.fullmatch(_ID, cid)
        assert set(want) == KEYS, (cid[:12], set(want) ^ KEYS)
        assert want["pids_in_tree"] == sorted(want["pids_in_tree"])


@pytest.mark.parametrize("layout", LAYOUTS)
def test_container_dirs_exist_and_are_the_only_ones(layout: str) -> None:
    tree = TREES / layout
    expected = load(layout)
    for cid, want in expected["containers"].items():
        directory = tree / "cgroup" / want["cgroup_path"]
        assert directory.is_dir(), want["cgroup_path"]
        assert cid in directory.name
        for name in ("cgroup.procs", "cgroup.events", "cpu.stat", "cpu.max", "memory.current"):
            assert (directory / name).is_file(), (cid[:12], name)
    found = discover(tree / "cgroup")
    assert {c: str(p.relative_to(tree / "cgroup")) for c, p in found.items()} == {
        c: w["cgroup_path"] for c, w in expected["containers"].items()
    }


@pytest.mark.parametrize("layout", LAYOUTS)
def test_processes_have_proc_files(layout: str) -> None:
    tree = TREES / layout
    proc = tree / "proc"
    for cid, want in load(layout)["containers"].items():
        pids = member_pids(tree / "cgroup" / want["cgroup_path"])
        assert pids[0] == want["init_pid"], cid[:12]
        assert sorted(pids) == want["pids_in_tree"]
        assert set(want["ns_pids"]) == set(want["ppids"]) == {str(p) for p in pids}
        for pid in pids:
            for name in ("stat", "status", "cmdline", "cgroup"):
                assert (proc / str(pid) / name).is_file(), (cid[:12], pid, name)
            status = status_fields(proc, pid)
            stat = (proc / str(pid) / "stat").read_text()
            after_comm = stat[stat.rindex(")") + 2 :].split()
            assert len(after_comm) == 50  # 52 fields in all
            assert int(status["PPid"]) == int(after_comm[1]) == want["ppids"][str(pid)]
            assert int(status["NSpid"].split()[0]) == pid
            assert int(status["NSpid"].split()[-1]) == want["ns_pids"][str(pid)]
        init = proc / str(want["init_pid"])
        assert (init / "ns" / "net").is_file()
        assert net_dev_names(init / "net" / "dev") == want["net_interfaces"]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_network_namespaces(layout: str) -> None:
    tree = TREES / layout
    expected = load(layout)
    inode = {
        cid: (tree / "proc" / str(w["init_pid"]) / "ns" / "net").stat().st_ino
        for cid, w in expected["containers"].items()
    }
    shared = expected.get("shared_netns", [])
    for group in shared:
        assert len({inode[c] for c in group}) == 1, (
            "containers meant to share a network namespace have different ns/net inodes: "
            "the hard link was lost (git does not keep hard links; rebuild it with os.link)"
        )
    alone = [i for c, i in inode.items() if not any(c in g for g in shared)]
    assert len(set(alone)) == len(alone)


def test_sharednet_is_shared() -> None:
    assert load("sharednet").get("shared_netns")


@pytest.mark.parametrize("layout", ["systemd", "cgroupfs"])
def test_make_tree(tmp_path: Path, layout: str) -> None:
    gentree = load_gentree()
    ids = gentree.make_tree(tmp_path / "t", 5, layout)
    assert len(ids) == len(set(ids)) == 5
    cgroup, proc = tmp_path / "t" / "cgroup", tmp_path / "t" / "proc"
    assert (cgroup / "cgroup.controllers").is_file()
    found = discover(cgroup)
    assert set(found) == set(ids)
    inodes = set()
    for cid in ids:
        pids = member_pids(found[cid])
        assert len(pids) == 2
        for pid in pids:
            assert (proc / str(pid) / "stat").is_file()
            assert (proc / str(pid) / "status").is_file()
        inodes.add((proc / str(pids[0]) / "ns" / "net").stat().st_ino)
        assert net_dev_names(proc / str(pids[0]) / "net" / "dev") == ["lo", "eth0"]
    assert len(inodes) == 5


def test_make_tree_refuses_a_non_empty_dest(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("")
    with pytest.raises(FileExistsError):
        load_gentree().make_tree(tmp_path, 1)
