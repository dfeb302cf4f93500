"""Sampler behaviour on copies of the fixture trees: gaps, absent fields, limits, fds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import get_type_hints

import pytest

from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.readers import SampleFields
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.collectors.targets import discovered_targets
from watchdog_agent.model import CgroupSample

TREES = Path(__file__).parent.parent / "fixtures" / "trees"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    dest = tmp_path / "systemd"
    shutil.copytree(TREES / "systemd", dest, symlinks=True)
    return dest


def _setup(tree: Path) -> tuple[Sampler, dict[str, Target], dict[str, dict[str, object]]]:
    layout = Layout(str(tree / "cgroup"))
    expected = json.loads((tree / "expected.json").read_text())["containers"]
    return Sampler(str(tree / "proc"), layout.mode), discovered_targets(layout), expected


def _dir(target: Target) -> Path:
    assert target.location.unified is not None
    return Path(target.location.unified)


def test_sample_fields_declare_what_cgroup_sample_declares() -> None:
    """SampleFields (what mypy checks the readers against) and CgroupSample (what the
    sampler builds from it, positionally) have the same fields, in order, of the same
    types; so mypy's check of a field name is a check against CgroupSample, and the
    sampler's build drops nothing. Its one non-None default the sampler always sets."""
    assert list(SampleFields.__annotations__) == list(CgroupSample._fields)
    assert get_type_hints(SampleFields) == get_type_hints(CgroupSample)
    assert SampleFields.__required_keys__ == frozenset()
    defaults = {n: d for n, d in CgroupSample._field_defaults.items() if d is not None}
    assert defaults == {"errors": 0}


def test_unparsable_file_is_an_absent_field_and_a_counted_error(tree: Path) -> None:
    sampler, targets, expected = _setup(tree)
    cid = sorted(targets)[0]
    (_dir(targets[cid]) / "memory.current").write_bytes(b"garbage\n")
    (_dir(targets[cid]) / "cpu.pressure").write_bytes(b"some avg10=x\n")
    snap = sampler.sample(targets)
    sample = snap.containers[cid].sample
    assert sample.memory_usage_bytes is None  # absent, not 0
    assert sample.psi_cpu is None
    assert sample.errors == 2 and snap.errors == 2
    assert sample.cpu_usage_ns == expected[cid]["cpu_usage_ns"]  # the rest is intact
    other = next(c for c in targets if c != cid)
    assert snap.containers[other].sample.errors == 0


def test_missing_file_is_absent_without_error(tree: Path) -> None:
    sampler, targets, _ = _setup(tree)
    cid = sorted(targets)[0]
    (_dir(targets[cid]) / "memory.peak").unlink()
    snap = sampler.sample(targets)
    assert snap.containers[cid].sample.memory_peak_bytes is None
    assert snap.errors == 0


def test_vanished_container_is_a_gap(tree: Path) -> None:
    sampler, targets, _ = _setup(tree)
    cid = sorted(targets)[0]
    shutil.rmtree(_dir(targets[cid]))
    snap = sampler.sample(targets)
    assert cid not in snap.containers
    assert cid in snap.gone
    assert len(snap.containers) == len(targets) - 1


def test_emptied_cgroup_is_a_gap_not_a_zero_sample(tree: Path) -> None:
    sampler, targets, _ = _setup(tree)
    cid = sorted(targets)[0]
    sampler.sample(targets)
    sampler.files.forget(str(_dir(targets[cid])) + "/")  # regular files: reopen to see edits
    (_dir(targets[cid]) / "pids.current").write_bytes(b"0\n")
    (_dir(targets[cid]) / "memory.current").write_bytes(b"0\n")
    snap = sampler.sample(targets)
    assert cid not in snap.containers and cid in snap.gone


def test_counter_reset_gives_no_cpu_percent(tree: Path) -> None:
    sampler, targets, _ = _setup(tree)
    cid = sorted(targets)[0]
    sampler.sample(targets)
    sampler.files.forget(str(_dir(targets[cid])) + "/")
    stat = _dir(targets[cid]) / "cpu.stat"
    stat.write_bytes(b"usage_usec 5\nuser_usec 3\nsystem_usec 2\n")
    snap = sampler.sample(targets)
    assert snap.containers[cid].cpu_percent is None
    assert snap.containers[cid].cpu_usage_seconds_total == 5e-6


def test_limits_are_reread_on_schedule_and_on_invalidate(tree: Path) -> None:
    layout = Layout(str(tree / "cgroup"))
    sampler = Sampler(str(tree / "proc"), layout.mode, limits_every=3)
    targets = discovered_targets(layout)
    cid = sorted(targets)[0]
    first = sampler.sample(targets).containers[cid].memory_limit_bytes
    mem_max = _dir(targets[cid]) / "memory.max"
    sampler.files.forget(str(mem_max))
    mem_max.write_bytes(b"1048576\n")
    assert sampler.sample(targets).containers[cid].memory_limit_bytes == first  # cached
    sampler.invalidate_limits(cid)
    assert sampler.sample(targets).containers[cid].memory_limit_bytes == 1048576
    mem_max.write_bytes(b"max\n")
    sampler.files.forget(str(mem_max))
    results = [sampler.sample(targets).containers[cid].memory_limit_bytes for _ in range(3)]
    assert results[-1] is None  # re-read within limits_every passes


def test_descriptors_are_kept_and_closed_with_their_container(tree: Path) -> None:
    sampler, targets, _ = _setup(tree)
    sampler.sample(targets)
    opened = sampler.files.open_files
    assert opened > 10 * len(targets)
    cid = sorted(targets)[0]
    rest = {k: v for k, v in targets.items() if k != cid}
    sampler.sample(rest)
    assert 0 < sampler.files.open_files < opened
    sampler.close()
    assert sampler.files.open_files == 0


def test_shared_network_namespace_is_read_once_and_shared() -> None:
    root = TREES / "sharednet"
    layout = Layout(str(root / "cgroup"))
    sampler = Sampler(str(root / "proc"), layout.mode)
    snap = sampler.sample(discovered_targets(layout))
    a, b = snap.containers.values()
    assert a.sample.netns == b.sample.netns is not None
    assert a.sample.net == b.sample.net is not None
    sampler.close()
