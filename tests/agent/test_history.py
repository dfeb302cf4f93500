"""The compact per-container history: rows read back as served, gaps stay None, rings
wrap, and a gone container's ring is released after the grace period."""

from __future__ import annotations

import math
import random

import pytest

from watchdog_agent.agent.history import History, Ring
from watchdog_agent.agent.widerows import ROW
from watchdog_agent.collectors.rates import derive
from watchdog_agent.model import (
    CgroupSample,
    ContainerRef,
    ContainerStats,
    IoDevice,
    NetInterface,
    Pressure,
    PsiLine,
)
from watchdog_agent.wire.tojson import history_json, rfc3339, stats_json

CID = "c" * 64
REF = ContainerRef(id=CID, name="web", image="busybox:latest")


def sample(n: int, **extra: object) -> CgroupSample:
    fields: dict[str, object] = dict(
        cpu_usage_ns=1_234_567_891 * n,
        cpu_periods=100 * n,
        cpu_throttled_periods=7 * n,
        cpu_throttled_ns=55_555_555 * n,
        memory_usage_bytes=50_331_648 + 4096 * n,
        memory_inactive_file_bytes=1_048_576,
        memory_limit_bytes=268_435_456,
        pids_current=3 + n,
        pids_limit=512,
        io=(IoDevice(8, 0, 4096 * n, 8192 * n), IoDevice(8, 16, 1, 2)),
        net=(
            NetInterface("lo", 5, 1, 0, 0, 5, 1, 0, 0),
            NetInterface("eth0", 1000 * n, 10, 0, 0, 2000 * n, 20, 0, 0),
        ),
        psi_cpu=Pressure(PsiLine(12.34, 5.67, 0.89, 123456), PsiLine(0.01, 0.0, 0.0, 99)),
        psi_memory=Pressure(PsiLine(100.0, 99.99, 0.0, 1), None),
        psi_io=None,
        system_cpu_ns=10_000_000_000 * n,
        online_cpus=4,
    )
    fields.update(extra)
    return CgroupSample(CID, float(n), 1_700_000_000.0 + n, **fields)  # type: ignore[arg-type]


def stats(n: int, **extra: object) -> ContainerStats:
    return derive(sample(n - 1) if n > 1 else None, sample(n, **extra), REF)


def test_a_row_reads_back_as_the_served_numbers() -> None:
    ring = Ring(10)
    for n in (1, 2, 3):
        ring.append(stats(n), 0.0)
    (row,) = ring.rows(CID, 1)
    want = stats_json(stats(3))
    got = history_json(row)
    # what the history does not keep is null; everything else is the served value
    want["net_interfaces"] = None
    want["memory_stat"] = None
    for pressure in want["psi"].values():
        for line in (pressure or {}).values():
            if line is not None:
                line["total"] = None
    assert got["cpu_percent"] == pytest.approx(want.pop("cpu_percent"), rel=1e-6)
    assert got["cpu_throttled_percent"] == pytest.approx(want.pop("cpu_throttled_percent"))
    got.pop("cpu_percent"), got.pop("cpu_throttled_percent")
    assert got == want
    assert got["psi"]["io"] is None and got["psi"]["memory"]["full"] is None
    assert got["memory_percent"] == stats(3).memory_percent


def test_missing_values_stay_gaps_never_zero() -> None:
    bare = CgroupSample(CID, 1.0, 1_700_000_001.0)  # every reading absent
    ring = Ring(4)
    ring.append(derive(None, bare, REF), 0.0)
    doc = history_json(ring.rows(CID, 1)[0])
    numbers = {k: v for k, v in doc.items() if k not in ("id", "name", "image", "sampled_at")}
    assert numbers.pop("psi") == {"cpu": None, "memory": None, "io": None}
    assert set(numbers.values()) == {None}, numbers
    # zero is a value, not a gap
    zero = stats(1, pids_current=0, memory_usage_bytes=0, memory_inactive_file_bytes=0)
    ring.append(zero, 0.0)
    doc = history_json(ring.rows(CID, 1)[0])
    assert doc["pids"] == 0 and doc["memory_usage_bytes"] == 0


def test_ring_keeps_the_last_samples_oldest_first_without_slack() -> None:
    ring = Ring(5)
    for n in range(1, 13):
        ring.append(stats(n), float(n))
    assert [r.sampled_at - 1_700_000_000 for r in ring.rows(CID, 99)] == [8, 9, 10, 11, 12]
    assert [r.pids for r in ring.rows(CID, 2)] == [3 + 11, 3 + 12]
    assert not ring.wide and ring.nbytes == 5 * ring.row_size  # grown to exactly its capacity
    small = Ring(300)
    small.append(stats(1), 0.0)
    assert small.nbytes < 300 * small.row_size  # a short-lived container holds few rows


def served(s: ContainerStats) -> dict[str, object]:
    """What a history row of ``s`` must read back as (stats_json without what is not kept;
    the float32 percentages compared apart)."""
    want = stats_json(s)
    want["net_interfaces"] = None
    want["memory_stat"] = None
    for pressure in want["psi"].values():
        for line in (pressure or {}).values():
            if line is not None:
                line["total"] = None
    return want


def same(row: dict[str, object], want: dict[str, object]) -> None:
    got, want = dict(row), dict(want)
    for key in ("cpu_percent", "cpu_throttled_percent"):  # float32 columns
        value = want.pop(key)
        assert got.pop(key) == (None if value is None else pytest.approx(value, rel=1e-6))
    assert got == want


@pytest.mark.parametrize(
    "big",
    [
        {"memory_usage_bytes": 2**32 + 4096, "memory_inactive_file_bytes": 0},
        {"memory_limit_bytes": 2**40},
        {"memory_usage_bytes": 2**32 - 1, "memory_inactive_file_bytes": 0},  # the old gap mark
        {"memory_usage_bytes": 2**32, "memory_inactive_file_bytes": 0},
        {"memory_usage_bytes": 0, "memory_inactive_file_bytes": 0},
        {"memory_usage_bytes": 3 * 2**20 + 1, "memory_inactive_file_bytes": 0},  # off the page
        {"io": (IoDevice(8, 0, 2**33, 1),)},
        {"net": (NetInterface("eth0", 2**53 - 1, 1, 0, 0, 0, 0, 0, 0),)},
        {"net": (NetInterface("eth0", 2**53 + 1, 1, 0, 0, 2**63 - 1, 0, 0, 0),)},
        {"pids_current": 2**32, "pids_limit": 0},
        {"cpu_usage_ns": 0},  # a counter reset (the cgroup was recreated)
        {"cpu_usage_ns": 2**62 + 1, "cpu_throttled_ns": 2**53 + 1},
        {"net": None, "io": None, "psi_cpu": None, "memory_limit_bytes": None},  # gaps
    ],
)
def test_any_value_reads_back_exactly_through_every_width(big: dict[str, object]) -> None:
    """Columns are deltas against the ring's base, in steps of their common divisor, at
    the narrowest width that holds them: a value that does not fit (or is off the step)
    re-packs the ring, and the earlier
    rows, the gaps and the odd row all read back as served, past 2**53 too."""
    ring = Ring(6)
    bare = derive(None, CgroupSample(CID, 1.0, 1_700_000_001.0), REF)  # every value a gap
    kept = [bare, stats(2), stats(3)]
    for s in kept:
        ring.append(s, 0.0)
    assert not ring.wide and ring.nbytes == 6 * ring.row_size
    kept += [stats(4, **big), stats(5), stats(6, **big), stats(7)]  # the last two wrap
    for s in kept[3:]:
        ring.append(s, 0.0)
    assert not ring.wide and ring.nbytes == 6 * ring.row_size
    rows = [history_json(r) for r in ring.rows(CID, 99)]
    assert len(rows) == 6
    for row, s in zip(rows, kept[-6:], strict=True):
        same(row, served(s))


def test_a_row_is_smaller_than_the_wide_one_and_constant_columns_cost_nothing() -> None:
    ring = Ring(300)
    for n in range(1, 301):
        ring.append(stats(n), 0.0)
    moving = ring.row_size
    idle = Ring(300)
    for n in range(1, 301):
        idle.append(stats(1)._replace(sampled_at=1_700_000_000.0 + n), 0.0)
    assert idle.row_size < moving < ROW.size
    assert idle.rows(CID, 1)[0].sampled_at == 1_700_000_300.0


def test_sample_times_read_back_as_the_served_microseconds() -> None:
    ring = Ring(300)
    rng = random.Random(7)
    times = [1_764_530_000 + rng.random() * 10**6 for _ in range(295)]
    times += [1_700_000_000.0000005, 1_700_000_000.0000015, 1_700_000_000.9999996, 2**31 - 0.5]
    times.append(math.nextafter(1_700_000_001.0, 0))
    for t in times:
        ring.append(stats(3)._replace(sampled_at=t), 0.0)
    for row, t in zip(ring.rows(CID, 300), times, strict=True):
        assert rfc3339(row.sampled_at) == rfc3339(t)


def test_a_sample_the_compact_rows_cannot_hold_turns_the_ring_wide() -> None:
    """A CPU total that is not its counter / 1e9 (not the sampler's) keeps its float:
    the ring re-packs as ROW once, and every row reads back as served."""
    ring = Ring(4)
    kept = [stats(1), stats(2), stats(3)._replace(cpu_usage_seconds_total=0.1), stats(4)]
    for s in kept:
        ring.append(s, 0.0)
    assert ring.wide and ring.nbytes == 4 * ROW.size
    for row, s in zip(ring.rows(CID, 9), kept, strict=True):
        same(history_json(row), served(s))
    assert ring.rows(CID, 9)[2].cpu_usage_seconds_total == 0.1


def test_gone_containers_are_released_after_the_grace() -> None:
    history = History(capacity=10, grace=30.0)
    other = "d" * 64
    history.record({CID: stats(1), other: stats(1)._replace(id=other)}, now=100.0)
    history.record({CID: stats(2)}, now=129.0)  # `other` unseen for 29 s: still kept
    assert other in history and len(history.rows(other, 5)) == 1
    history.record({CID: stats(3)}, now=131.0)  # 31 s: released
    assert other not in history and history.rows(other, 5) == []
    assert len(history) == 1 and history.dropped == 1
    assert [math.floor(r.sampled_at) % 10 for r in history.since(CID, 1_700_000_002.0)] == [2, 3]


def test_churned_containers_leave_nothing_behind() -> None:
    """Containers that come and go (one new each pass, each sampled for 10 passes) leave
    no ring, no row and no byte once the grace is over: the long-lived containers'
    rings hold what they hold without the churn, and read back the same."""
    steady = [f"{n:064x}" for n in range(5)]
    made = [stats(n) for n in range(1, 115)]

    def run(churn: bool) -> History:
        history = History(capacity=50, grace=30.0)
        born: dict[str, int] = {}
        for p in range(1, 95):
            if churn and p <= 50:
                born[f"{p:064x}"[::-1]] = p
            live = [c for c, b in born.items() if p - b < 10] + steady
            passes = {c: made[p + int(c[-2:], 16) % 20]._replace(id=c) for c in live}
            history.record(passes, now=float(p))
        if churn:
            assert history.dropped == len(born) == 50
        return history

    churned, plain = run(True), run(False)
    assert set(churned._rings) == set(plain._rings) == set(steady)
    assert churned.nbytes == plain.nbytes
    for cid in steady:
        assert churned.rows(cid, 50) == plain.rows(cid, 50)
