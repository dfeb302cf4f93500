"""The one-shot CPU window (collectors/cpuwindow.py): readings a user can trust at once.

The engine tests run the installed console script against the test engine. On a loaded
2-core machine a busy loop can be starved below its quota (it then reads low, truly):
check `uptime` and re-run before doubting the code; the bounds stay where they are.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.agentcli import AGENT, Following, agent
from helpers.dockercli import IMAGE, DockerCLI, unique_name

from watchdog_agent.collectors import cpuwindow
from watchdog_agent.collectors.cpuwindow import Mark, _Probe, _step, _wall

engine = pytest.mark.engine
LOOP = ("sh", "-c", "while :; do :; done")
MS = 1_000_000


# --- the window's arithmetic, on made-up counter reads --------------------------------


def _throttled_loop(
    polls: int, start_ms: int = 37, quota_ms: int = 50, period_ms: int = 100
) -> Iterator[Mark]:
    """Reads every 2 ms (from start_ms) of a loop throttled at quota_ms per period: it
    runs at once after each boundary until its quota is spent, then waits for the next."""
    for i in range(polls):
        t_ms = start_ms + 2 * i
        period, into = divmod(t_ms, period_ms)
        usage = period * quota_ms + min(into, quota_ms)
        yield Mark(usage * MS, period, period, t_ms / 1000)


def _run(marks: Iterator[Mark], probe: _Probe) -> cpuwindow.CpuReading:
    first = next(marks)
    probe.first = probe.last = first
    for mark in marks:
        _step(probe, mark, cpuwindow.PERIODS, cpuwindow.WALL_WINDOW)
        if probe.result is not None:
            return probe.result
    raise AssertionError("the window never closed")


def test_whole_periods_of_a_throttled_loop_read_its_quota_exactly() -> None:
    reading = _run(_throttled_loop(400), _Probe("u", True, "p", 0.1))
    assert reading.periods == cpuwindow.PERIODS
    assert reading.percent == pytest.approx(50.0)
    assert reading.throttled_percent == 100.0
    assert reading.seconds == pytest.approx(0.2)


def test_a_boundary_seen_late_is_not_used() -> None:
    """A poll delayed across a boundary (this process starved) may have read the usage
    in the middle of the loop's burst: that boundary is skipped, the reading stays exact."""
    marks = list(_throttled_loop(400))
    late = [m for m in marks if not 0.082 < m.monotonic < 0.102]  # no read in 82-102 ms
    reading = _run(iter(late), _Probe("u", True, "p", 0.1))
    assert reading.percent == pytest.approx(50.0)
    assert reading.periods == cpuwindow.PERIODS


def test_a_late_end_counts_when_the_period_places_the_boundary_just_after() -> None:
    """Once the first boundary is known, the later ones are known too (the timer keeps
    its phase): a read 1 ms before the end boundary is good even if the next came late."""
    marks = [m for m in _throttled_loop(400) if not 0.299 < m.monotonic < 0.315]
    reading = _run(iter(marks), _Probe("u", True, "p", 0.1))
    assert reading.end is not None and reading.end.monotonic == pytest.approx(0.299)
    assert reading.percent == pytest.approx(50.0) and reading.periods == 2


def test_periods_beat_a_wall_window_that_ends_in_a_burst() -> None:
    """Why whole periods: a 0.2 s wall-clock window that starts as a burst begins and ends
    10 ms late, in a burst, reads 2.4 points high; bounded by periods: the quota."""
    marks = list(_throttled_loop(400, start_ms=100))
    wall = _wall(marks[0], next(m for m in marks if m.monotonic >= 0.31 - 1e-9))
    assert wall.percent == pytest.approx(110 / 210 * 100)
    assert _run(iter(marks), _Probe("u", True, "p", 0.1)).percent == pytest.approx(50.0)


def test_an_idle_timer_falls_back_to_the_wall_window() -> None:
    """A quota container that runs nothing stops its period timer: nr_periods stays."""
    marks = (Mark(5 * MS, 7, 0, t / 1000) for t in range(0, 1000, 2))
    reading = _run(marks, _Probe("u", True, "p", 0.1))
    assert reading.periods is None
    assert reading.percent == 0.0
    assert reading.seconds >= cpuwindow.WALL_WINDOW


def test_the_help_says_what_the_window_is() -> None:
    for command in ("stats", "top"):
        proc = agent(command, "--help")
        assert proc.returncode == 0, proc.stderr
        text = " ".join(proc.stdout.split())
        assert "2 whole CFS periods" in text and "0.2 s for the others" in text, text


# --- against the real engine -----------------------------------------------------------


@pytest.fixture(scope="module")
def loops(docker_cli: DockerCLI) -> Iterator[dict[str, str]]:
    """A --cpus 0.5 busy loop, an idle container, and an idle one with the same quota."""
    names = {
        "busy": unique_name("wd-win-busy"),
        "idle": unique_name("wd-win-idle"),
        "idle_quota": unique_name("wd-win-idleq"),
    }
    ids = [
        docker_cli.start("--cpus", "0.5", IMAGE, *LOOP, name=names["busy"]),
        docker_cli.start(IMAGE, "sleep", "100000", name=names["idle"]),
        docker_cli.start("--cpus", "0.5", IMAGE, "sleep", "100000", name=names["idle_quota"]),
    ]
    try:
        time.sleep(1.5)  # the quota settles the loop at half a core
        yield names
    finally:
        docker_cli.rm(*ids)


def _by_name(lines: list[str]) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in lines if line.strip()]
    return {row["name"]: row for row in rows}


@engine
@pytest.mark.cpu_accuracy
def test_twenty_one_shot_readings_of_a_half_core_loop(
    docker_host: str, loops: dict[str, str]
) -> None:
    """Every single reading within 3 points of the limit; idle containers read 0.0."""
    names = list(loops.values())
    readings: list[float] = []
    for _ in range(20):
        proc = agent(
            "stats", "--no-stream", "--format", "json", "--docker-host", docker_host, *names
        )
        assert proc.returncode == 0, proc.stderr
        rows = _by_name(proc.stdout.splitlines())
        assert rows[loops["idle"]]["cpu_percent"] == 0.0, rows
        assert rows[loops["idle_quota"]]["cpu_percent"] == 0.0, rows
        readings.append(rows[loops["busy"]]["cpu_percent"])
    print(f"--cpus 0.5 loop, 20 one-shot readings: {sorted(round(r, 2) for r in readings)}")
    assert all(47 <= r <= 53 for r in readings), readings


@engine
@pytest.mark.cpu_accuracy
def test_the_first_frame_of_a_stream_has_cpu_and_throttled(
    docker_host: str, loops: dict[str, str]
) -> None:
    """No `-` for CPU % and THROTTLED in the first frame: it takes the one-shot window."""
    names = [loops["busy"], loops["idle"]]
    for fmt in ("json", "table"):
        argv = ["stats", "--format", fmt, "--interval", "5", "--docker-host", docker_host]
        follow = Following([AGENT, *argv, *names])
        try:
            deadline = time.monotonic() + 20
            while len(follow.lines) < (3 if fmt == "table" else 2):
                assert time.monotonic() < deadline, follow.lines
                time.sleep(0.05)
        finally:
            follow.stop()
        first = follow.lines[:3] if fmt == "table" else follow.lines[:2]
        if fmt == "json":
            rows = _by_name(first)
            busy, idle = rows[loops["busy"]], rows[loops["idle"]]
            assert busy["cpu_percent"] > 0 and idle["cpu_percent"] == 0.0, rows
            assert isinstance(busy["cpu_throttled_percent"], float), busy
            assert isinstance(idle["cpu_throttled_percent"], float), idle
        else:
            columns = [first[0].index("CPU %"), first[0].index("THROTTLED")]
            for line in first[1:]:
                for at in columns:
                    cell = line[at:].split()[0]
                    assert cell.endswith("%"), (first[0], line)


@engine
@pytest.mark.cpu_accuracy
def test_top_reads_the_loops_process_over_the_same_window(
    docker_host: str, loops: dict[str, str]
) -> None:
    """`top` measures each process over the container's window (whole CFS periods)."""
    readings: list[float] = []
    for _ in range(5):
        proc = agent("top", loops["busy"], "--format", "json", "--docker-host", docker_host)
        assert proc.returncode == 0, proc.stderr
        (init,) = json.loads(proc.stdout)
        readings.append(init["cpu_percent"])
        proc = agent("top", loops["idle"], "--format", "json", "--docker-host", docker_host)
        assert proc.returncode == 0, proc.stderr
        assert [p["cpu_percent"] for p in json.loads(proc.stdout)] == [0.0], proc.stdout
    print(f"top, --cpus 0.5 loop: {sorted(round(r, 2) for r in readings)}")
    assert all(47 <= r <= 53 for r in readings), readings
