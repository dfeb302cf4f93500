"""A CPU window begun before the containers are known (cpuwindow.begin_discovered, as
`stats --no-stream` starts): which first reads ``measure`` keeps, and what it reads.

On a pure cgroup v2 fixture tree (a layout this host cannot produce): the counters are
written by the test, so the usage between the two reads is known exactly.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from watchdog_agent.cli import _early_window
from watchdog_agent.collectors import cpuwindow
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.cgroupwalk import first_reads

IDS = ("a" * 64, "b" * 64)
QUOTA = "c" * 64


def _cpu_stat(cg: Path, usage_usec: int) -> None:
    # in place (same inode): the window's reader keeps the descriptor and preads it
    (cg / "cpu.stat").write_text(
        f"usage_usec {usage_usec}\nuser_usec {usage_usec}\nsystem_usec 0\n"
        "nr_periods 0\nnr_throttled 0\nthrottled_usec 0\n"
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """/docker/<id> cgroups: two without a quota, one with (50 ms of every 100 ms)."""
    (tmp_path / "cgroup.controllers").write_text("cpu memory io pids\n")
    for cid in (*IDS, QUOTA):
        cg = tmp_path / "docker" / cid
        cg.mkdir(parents=True)
        _cpu_stat(cg, 1_000_000)
        (cg / "cpu.max").write_text("50000 100000\n" if cid == QUOTA else "max 100000\n")
    return tmp_path


def test_a_window_begun_early_keeps_its_first_reads(tree: Path) -> None:
    window = cpuwindow.begin_discovered(str(tree))
    assert window is not None and window.root == str(tree)
    assert set(window.early) == {*IDS, QUOTA}
    begun = time.monotonic()
    for cid in IDS:  # 0.1 s of CPU each since the first read
        _cpu_stat(tree / "docker" / cid, 1_100_000)
    time.sleep(0.3)  # longer than the wall window: nothing is left to wait for
    locations = Layout(str(tree)).discover()
    t0 = time.monotonic()
    readings = cpuwindow.measure_sync({cid: locations[cid] for cid in IDS}, begun=window)
    assert time.monotonic() - t0 < cpuwindow.WALL_WINDOW  # the wait was spent already
    for cid in IDS:
        reading = readings[cid]
        assert reading.start is not None and reading.start.monotonic <= begun
        # 0.1 s of CPU over the whole window since the first read (0.3 s or more)
        assert reading.seconds >= 0.3
        assert reading.percent == pytest.approx(0.1 / reading.seconds * 100)
    assert window.reader.open_files == 0  # measure closed it


def test_a_container_not_read_before_gets_a_window_of_its_own(tree: Path) -> None:
    window = cpuwindow.begin_discovered(str(tree))
    assert window is not None
    window.early.pop(IDS[1])  # as if it started after the first reads
    time.sleep(0.25)
    locations = Layout(str(tree)).discover()
    t0 = time.monotonic()
    readings = cpuwindow.measure_sync({cid: locations[cid] for cid in IDS}, begun=window)
    late = readings[IDS[1]]
    assert late.start is not None and late.start.monotonic >= t0
    assert cpuwindow.WALL_WINDOW <= late.seconds < 0.25 + cpuwindow.WALL_WINDOW
    assert readings[IDS[0]].seconds >= 0.25  # the other kept its early read
    assert late.percent == 0.0


def test_another_cgroup_under_the_same_id_is_read_again(tree: Path) -> None:
    """A first read counts only for the same usage file (Docker may place the container
    elsewhere than the path found by name)."""
    window = cpuwindow.begin_discovered(str(tree))
    assert window is not None
    elsewhere = tree / "other" / IDS[0]
    elsewhere.mkdir(parents=True)
    _cpu_stat(elsewhere, 5_000_000)
    (elsewhere / "cpu.max").write_text("max 100000\n")
    loc = Layout(str(tree)).location(f"/other/{IDS[0]}")
    t0 = time.monotonic()
    readings = cpuwindow.measure_sync({IDS[0]: loc}, begun=window)
    reading = readings[IDS[0]]
    assert reading.start is not None and reading.start.monotonic >= t0
    assert reading.percent == 0.0  # read twice from the other file, which did not move


def test_a_quota_container_starts_its_periods_when_the_polls_start(tree: Path) -> None:
    window = cpuwindow.begin_discovered(str(tree))
    assert window is not None and window.early[QUOTA].period_s == 0.1
    time.sleep(0.2)
    loc = Layout(str(tree)).discover()[QUOTA]
    t0 = time.monotonic()
    readings = cpuwindow.measure_sync({QUOTA: loc}, begun=window)
    reading = readings[QUOTA]
    # its timer does not tick in a fixture: timed from the re-read, not from begin
    assert reading.start is not None and reading.start.monotonic >= t0
    assert reading.percent == 0.0


def test_the_command_line_decides_whether_and_where_to_begin(
    tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WATCHDOG_CGROUP_ROOT", raising=False)
    assert _early_window(["stats"]) is None  # a stream: its first frame begins its own
    assert _early_window(["top", "x", "--no-stream"]) is None
    for argv in (
        ["stats", "--no-stream", "--cgroup-root", str(tree)],
        ["stats", f"--cgroup-root={tree}", "--no-stream"],
    ):
        window = _early_window(argv)
        assert window is not None and window.root == str(tree), argv
        assert set(window.early) == {*IDS, QUOTA}
        window.close()
        assert window.reader.open_files == 0
    monkeypatch.setenv("WATCHDOG_CGROUP_ROOT", str(tree))
    window = _early_window(["stats", "--no-stream"])
    assert window is not None and window.root == str(tree)
    window.close()
    window = _early_window(["stats", "--no-stream", "--cgroup-root", str(tree / "none")])
    assert window is not None and window.early == {}  # nothing there: nothing read
    window.close()


def test_reads_taken_before_the_imports_start_the_window(tree: Path) -> None:
    """cgroupwalk.first_reads (the standard library only, as the command starts): a
    container without a quota starts at that read; one with a quota does not."""
    reads = first_reads(str(tree))
    paths = {str(tree / "docker" / cid / "cpu.stat") for cid in (*IDS, QUOTA)}
    assert set(reads) == paths
    assert reads[str(tree / "docker" / IDS[0] / "cpu.stat")][0] == 1_000_000_000
    for cid in IDS:  # 0.05 s of CPU each after the first reads, before begin
        _cpu_stat(tree / "docker" / cid, 1_050_000)
    window = cpuwindow.begin_discovered(str(tree), reads)
    assert window is not None
    for cid in IDS:
        first = window.early[cid].first
        assert first is not None
        assert (first.usage_ns, first.monotonic) == reads[str(tree / "docker" / cid / "cpu.stat")]
        assert (first.periods, first.throttled) == (0, 0)  # from the read at begin
    quota = window.early[QUOTA].first
    assert (
        quota is not None and quota.monotonic > reads[str(tree / "docker" / QUOTA / "cpu.stat")][1]
    )
    locations = Layout(str(tree)).discover()
    readings = cpuwindow.measure_sync({cid: locations[cid] for cid in IDS}, begun=window)
    for cid in IDS:  # the 0.05 s used before begin counts
        reading = readings[cid]
        assert reading.percent == pytest.approx(0.05 / reading.seconds * 100)
        assert reading.throttled_percent == 0.0
    assert first_reads(str(tree / "none")) == {}
