"""The sampler's schedule (collectors/sampler.py): CPU, memory usage, block I/O and network
read every pass; the rest only when CPU or memory usage moved, or at most ``full_every``
passes / ``full_seconds`` seconds old. On generated pure-v2 trees whose counters
bench/gentree.TreeCounters moves in place between passes (kept descriptors see it, as on
cgroupfs); what is served is compared with a sampler that reads everything every pass."""

from __future__ import annotations

import random
import time
from dataclasses import replace
from pathlib import Path

import pytest
from helpers.gentree import load_gentree

from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.rates import derive
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.collectors.targets import discovered_targets
from watchdog_agent.model import CgroupSample, ContainerRef

N = 6


gentree = load_gentree()
NEVER = 10**9  # full_every / full_seconds that never come due in a test


class Tree:
    def __init__(self, root: Path) -> None:
        self.ids: list[str] = gentree.make_tree(root, N, lean=True)
        self.root = root
        self.layout = Layout(str(root / "cgroup"))
        self.targets: dict[str, Target] = discovered_targets(self.layout)
        self.counters = gentree.TreeCounters(root, N, lean=True)

    def sampler(self, **schedule: float) -> Sampler:
        return Sampler(str(self.root / "proc"), self.layout.mode, **schedule)  # type: ignore[arg-type]

    def truth(self) -> dict[str, CgroupSample]:
        """Every field read now, by a sampler of its own that reads everything."""
        fresh = self.sampler(full_every=1, full_seconds=0)
        try:
            return {cid: s.sample for cid, s in fresh.sample(self.targets).containers.items()}
        finally:
            fresh.close()

    def cgroup(self, i: int) -> Path:
        return self.root / "cgroup" / str(self.counters.specs[i].cgroup_path)


def counters_of(sample: CgroupSample) -> tuple[object, ...]:
    """Every field but the container's id, the times and the per-pass error count."""
    return tuple(sample[3:-3])


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(tmp_path / "tree")


def test_idle_container_is_not_reread_then_catches_up_exactly_when_it_moves(tree: Tree) -> None:
    sampler = tree.sampler(full_every=NEVER, full_seconds=NEVER)
    first = sampler.sample(tree.targets)
    reads = sampler.slow_reads
    assert reads == N
    cid = tree.ids[2]
    (tree.cgroup(2) / "pids.peak").write_bytes(b"41\n")  # moved without CPU or memory
    for _ in range(3):
        snap = sampler.sample(tree.targets)
    assert sampler.slow_reads == reads  # nothing moved: only the every-pass files read
    assert snap.containers[cid].sample.pids_peak == first.containers[cid].sample.pids_peak
    tree.counters.bump([2], ("cpu",))
    after = sampler.sample(tree.targets).containers[cid].sample
    assert sampler.slow_reads == reads + 1
    assert after.pids_peak == 41
    assert counters_of(after) == counters_of(tree.truth()[cid])


def test_block_io_and_network_moves_are_seen_on_the_next_pass(tree: Tree) -> None:
    sampler = tree.sampler(full_every=NEVER, full_seconds=NEVER)
    sampler.sample(tree.targets)
    for moves in (("io",), ("net",), ("io", "net")):
        tree.counters.bump([0, 4], moves)
        snap = sampler.sample(tree.targets)
        truth = tree.truth()
        for cid in tree.ids:
            got = snap.containers[cid]
            assert got.sample.io == truth[cid].io and got.sample.net == truth[cid].net, moves
    assert sampler.slow_reads == N  # neither is a move of CPU or memory


def test_the_rest_is_at_most_full_every_passes_old(tree: Tree) -> None:
    sampler = tree.sampler(full_every=3, full_seconds=NEVER)
    sampler.sample(tree.targets)
    for i in range(N):
        (tree.cgroup(i) / "memory.swap.current").write_bytes(b"8192\n")
    first_seen: dict[str, int] = {}
    for p in range(1, 4):
        for cid, s in sampler.sample(tree.targets).containers.items():
            if s.sample.memory_swap_bytes == 8192:
                first_seen.setdefault(cid, p)
            else:
                assert cid not in first_seen  # never back to an older value
    assert len(first_seen) == N  # every container within 3 passes; staggered between them
    assert len(set(first_seen.values())) > 1


def test_the_rest_is_at_most_full_seconds_old(tree: Tree) -> None:
    sampler = tree.sampler(full_every=NEVER, full_seconds=0.3)
    sampler.sample(tree.targets)
    for i in range(N):
        (tree.cgroup(i) / "pids.peak").write_bytes(b"77\n")
    start = time.monotonic()
    while True:
        snap = sampler.sample(tree.targets)
        if all(s.sample.pids_peak == 77 for s in snap.containers.values()):
            break
        assert time.monotonic() - start < 5.0, "not re-read in full_seconds"
        time.sleep(0.05)


def test_counters_and_rates_are_exact_every_pass_whatever_moves(tree: Tree) -> None:
    """30 passes, random containers moving random counters: every pass serves exactly
    what the files hold for every counter a rate is made of, so a rate over any two
    passes is the truth: never a zero then a spike, never negative."""
    rng = random.Random(12)
    sampler = tree.sampler()  # the defaults: 10 passes / 10 s
    prev = sampler.sample(tree.targets)
    kinds = ("cpu", "memory", "io", "net", "psi")
    for _ in range(30):
        moved = [i for i in range(N) if rng.random() < 0.3]
        tree.counters.bump(moved, rng.sample(kinds, rng.randint(1, len(kinds))))
        snap = sampler.sample(tree.targets)
        truth = tree.truth()
        for cid, stats in snap.containers.items():
            s, t, before = stats.sample, truth[cid], prev.containers[cid]
            assert (s.cpu_usage_ns, s.cpu_user_ns, s.cpu_system_ns) == (
                t.cpu_usage_ns, t.cpu_user_ns, t.cpu_system_ns,
            )  # fmt: skip
            assert (s.cpu_periods, s.cpu_throttled_periods, s.cpu_throttled_ns) == (
                t.cpu_periods, t.cpu_throttled_periods, t.cpu_throttled_ns,
            )  # fmt: skip
            assert (s.memory_usage_bytes, s.io, s.net) == (t.memory_usage_bytes, t.io, t.net)
            assert stats.sampled_at > before.sampled_at
            for now, then in (
                (stats.net_rx_bytes, before.net_rx_bytes),
                (stats.blk_write_bytes, before.blk_write_bytes),
                (stats.cpu_usage_seconds_total, before.cpu_usage_seconds_total),
            ):
                assert now is not None and then is not None and now >= then
            if stats.cpu_percent is not None:
                assert stats.cpu_percent >= 0
        prev = snap
    assert sampler.slow_reads < 31 * N  # some passes did skip the rest


def test_unchanged_pass_serves_what_derive_gives(tree: Tree) -> None:
    """The shortcut for a container that did not move (the previous stats with new
    times) gives field for field what derive gives."""
    sampler = tree.sampler(full_every=NEVER, full_seconds=NEVER)
    sampler.sample(tree.targets)
    prev = sampler.sample(tree.targets)
    snap = sampler.sample(tree.targets)
    for cid, stats in snap.containers.items():
        expected = derive(prev.containers[cid].sample, stats.sample, tree.targets[cid].ref)
        assert stats == expected


def test_a_failing_file_of_the_rest_is_read_and_counted_every_pass(tree: Tree) -> None:
    sampler = tree.sampler(full_every=NEVER, full_seconds=NEVER)
    sampler.sample(tree.targets)
    cid = tree.ids[1]
    (tree.cgroup(1) / "memory.peak").write_bytes(b"garbage\n")
    tree.counters.bump([1], ("cpu",))  # read at once: it moved (else at its turn)
    for _ in range(3):
        snap = sampler.sample(tree.targets)
        assert snap.containers[cid].sample.memory_peak_bytes is None  # absent, not stale
        assert snap.containers[cid].sample.errors == 1 and snap.errors == 1
    (tree.cgroup(1) / "memory.peak").write_bytes(b"123\n")
    assert sampler.sample(tree.targets).containers[cid].sample.memory_peak_bytes == 123


def test_tree_counters_move_only_what_they_are_told(tree: Tree) -> None:
    before = tree.truth()
    tree.counters.bump([3], ("net",), step=2)
    after = tree.truth()
    cid = tree.ids[3]
    assert [c for c in tree.ids if counters_of(after[c]) != counters_of(before[c])] == [cid]
    rx = {s.name: s.rx_bytes for s in after[cid].net or ()}
    rx_before = {s.name: s.rx_bytes for s in before[cid].net or ()}
    assert rx["eth0"] - rx_before["eth0"] == 3_000 and rx["lo"] == rx_before["lo"]
    assert after[cid].cpu_usage_ns == before[cid].cpu_usage_ns
    with pytest.raises(ValueError, match="unknown moves"):
        tree.counters.bump([0], ("disk",))


def test_limits_are_reread_when_dockers_word_on_them_changes(tree: Tree) -> None:
    """The limits' backstop never comes due here: a target whose ref (Docker's inspect
    document) names other limits makes the next pass read the limit files, as the
    inventory does after `docker update` (the `stats` command too)."""
    sampler = tree.sampler(limits_every=NEVER, limits_seconds=NEVER)
    cid = tree.ids[1]
    first = sampler.sample(tree.targets).containers[cid].memory_limit_bytes
    (tree.cgroup(1) / "memory.max").write_bytes(b"1048576\n")
    same_word = {**tree.targets, cid: replace(tree.targets[cid], ref=ContainerRef(id=cid))}
    assert sampler.sample(same_word).containers[cid].memory_limit_bytes == first
    updated = ContainerRef(id=cid, memory_limit_bytes=1048576)
    new_word = {**tree.targets, cid: replace(tree.targets[cid], ref=updated)}
    assert sampler.sample(new_word).containers[cid].memory_limit_bytes == 1048576
