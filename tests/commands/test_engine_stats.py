"""`watchdog-agent stats` against the real test engine, next to `docker stats`.

The agent runs as users run it: the installed console script, as a subprocess, with
``--docker-host`` pointing at the test engine.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers.agentcli import AGENT_ENV, agent
from helpers.dockercli import IMAGE, DockerCLI, unique_name

from watchdog_agent.cli import main

engine = pytest.mark.engine

MiB = 1024 * 1024
DEFAULT_SOCKET = "/var/run/docker.sock"
_UNITS = {"B": 1, "KiB": 1024, "MiB": MiB, "GiB": 1024 * MiB, "TiB": 1024 * 1024 * MiB}


# --- helpers -------------------------------------------------------------------------


def stats_rows(docker_host: str, *args: str) -> list[dict[str, Any]]:
    """``stats --no-stream --format json [args]`` on the test engine: one dict per line."""
    proc = agent("stats", "--no-stream", "--format", "json", "--docker-host", docker_host, *args)
    assert proc.returncode == 0, proc.stderr
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]


def stats_by_name(docker_host: str, *names: str) -> dict[str, dict[str, Any]]:
    rows = stats_rows(docker_host, *names)
    by_name = {row["name"]: row for row in rows}
    assert sorted(by_name) == sorted(names), rows
    return by_name


def docker_stats(docker_cli: DockerCLI, *names: str) -> dict[str, dict[str, str]]:
    """``docker stats --no-stream --format '{{json .}}' NAMES``, keyed by name."""
    out = docker_cli.run("stats", "--no-stream", "--format", "{{json .}}", *names)
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    return {row["Name"]: row for row in rows}


def docker_percent(text: str) -> float:
    """ "49.25%" -> 49.25"""
    return float(text.strip().rstrip("%"))


def docker_bytes(text: str) -> int:
    """ "40.64MiB" -> bytes (docker stats prints memory in 1024-based units)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?i?B)\s*", text)
    assert match is not None, f"unexpected size {text!r}"
    return round(float(match.group(1)) * _UNITS[match.group(2)])


def docker_mem_usage(row: dict[str, str]) -> tuple[int, int]:
    """ "40.64MiB / 128MiB" -> (usage, limit) in bytes."""
    usage, _, limit = row["MemUsage"].partition("/")
    return docker_bytes(usage), docker_bytes(limit)


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def top_pid_count(docker_cli: DockerCLI, name: str) -> int:
    out = docker_cli.run("top", name, "-eo", "pid")
    return len(out.splitlines()) - 1  # less the header


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def idle(docker_cli: DockerCLI) -> Iterator[tuple[str, str]]:
    """(name, id) of a container without any limit, doing nothing."""
    name = unique_name("wd-stats-idle")
    cid = docker_cli.start(IMAGE, "sleep", "100000", name=name)
    try:
        yield name, cid
    finally:
        docker_cli.rm(cid)


# --- CPU -----------------------------------------------------------------------------


@engine
@pytest.mark.cpu_accuracy
def test_cpu_percent_matches_docker_stats(
    docker_cli: DockerCLI, docker_host: str, idle: tuple[str, str]
) -> None:
    idle_name, _ = idle
    busy_name = unique_name("wd-stats-busy")
    busy = docker_cli.start(
        "--cpus", "0.5", IMAGE, "sh", "-c", "while :; do :; done", name=busy_name
    )
    try:
        time.sleep(2)  # let the CFS quota settle the loop at half a core
        ours: dict[str, list[float]] = {busy_name: [], idle_name: []}
        theirs: dict[str, list[float]] = {busy_name: [], idle_name: []}
        for _ in range(3):  # medians of 3: a loaded 2-core machine jitters short windows
            rows = stats_by_name(docker_host, busy_name, idle_name)
            docker_rows = docker_stats(docker_cli, busy_name, idle_name)  # right after ours
            for name in (busy_name, idle_name):
                cpu = rows[name]["cpu_percent"]
                assert isinstance(cpu, float) and cpu >= 0, rows[name]
                ours[name].append(cpu)
                theirs[name].append(docker_percent(docker_rows[name]["CPUPerc"]))
    finally:
        docker_cli.rm(busy)
    ours_busy, ours_idle = (statistics.median(ours[n]) for n in (busy_name, idle_name))
    docker_busy, docker_idle = (statistics.median(theirs[n]) for n in (busy_name, idle_name))
    print(f"cpu% busy: ours {ours[busy_name]} docker {theirs[busy_name]}")
    print(f"cpu% idle: ours {ours[idle_name]} docker {theirs[idle_name]}")
    assert 40 <= ours_busy <= 60, ours
    assert ours_idle < 2, ours
    assert abs(ours_busy - docker_busy) <= 5, (ours, theirs)
    assert abs(ours_idle - docker_idle) <= 5, (ours, theirs)


# --- memory --------------------------------------------------------------------------


@engine
def test_memory_usage_and_limit_match_docker_stats(docker_cli: DockerCLI, docker_host: str) -> None:
    name = unique_name("wd-stats-mem")
    script = "dd if=/dev/zero of=/data/x bs=1M count=40 2>&1; sleep 100000"
    cid = docker_cli.start(
        "--memory", "128m", "--tmpfs", "/data:size=64m", IMAGE, "sh", "-c", script, name=name
    )
    try:
        # dd reports "40+0 records out" (on stdout here) once the 40 MiB are in the tmpfs
        wait_for("dd to finish", lambda: "records out" in docker_cli.run("logs", name))
        row = stats_by_name(docker_host, name)[name]
        docker_usage, docker_limit = docker_mem_usage(docker_stats(docker_cli, name)[name])
    finally:
        docker_cli.rm(cid)
    usage = row["memory_usage_bytes"]
    print(f"memory: ours {usage} docker {docker_usage} (limit {row['memory_limit_bytes']})")
    assert isinstance(usage, int) and usage >= 40 * MiB
    assert abs(usage - docker_usage) <= 0.05 * docker_usage
    assert row["memory_limit_bytes"] == 128 * MiB == docker_limit
    assert row["memory_percent"] == pytest.approx(usage / (128 * MiB) * 100)


@engine
def test_unlimited_memory_is_null_not_zero_nor_host_ram(
    docker_cli: DockerCLI, docker_host: str, idle: tuple[str, str]
) -> None:
    name, _ = idle
    assert docker_cli.inspect(name)["HostConfig"]["Memory"] == 0  # no --memory
    row = stats_by_name(docker_host, name)[name]
    assert "memory_limit_bytes" in row and row["memory_limit_bytes"] is None
    assert "memory_percent" in row and row["memory_percent"] is None
    assert isinstance(row["memory_usage_bytes"], int) and row["memory_usage_bytes"] > 0


# --- pids ----------------------------------------------------------------------------


@engine
def test_pids_and_pids_limit(docker_cli: DockerCLI, docker_host: str) -> None:
    name = unique_name("wd-stats-pids")
    script = "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 100000 & done; wait"
    cid = docker_cli.start("--pids-limit", "50", IMAGE, "sh", "-c", script, name=name)
    try:
        wait_for("ten sleeps and the shell", lambda: top_pid_count(docker_cli, name) == 11)
        row = stats_by_name(docker_host, name)[name]
    finally:
        docker_cli.rm(cid)
    assert row["pids"] == 11
    assert row["pids_limit"] == 50


@engine
def test_no_pids_limit_is_null(
    docker_cli: DockerCLI, docker_host: str, idle: tuple[str, str]
) -> None:
    name, _ = idle
    assert not docker_cli.inspect(name)["HostConfig"]["PidsLimit"]  # no --pids-limit
    row = stats_by_name(docker_host, name)[name]
    assert row["pids"] == 1
    assert "pids_limit" in row and row["pids_limit"] is None


# --- network -------------------------------------------------------------------------


@engine
def test_loopback_traffic_counts_on_lo_but_not_in_totals(
    docker_cli: DockerCLI, docker_host: str, idle: tuple[str, str]
) -> None:
    name, _ = idle
    before = stats_by_name(docker_host, name)[name]
    docker_cli.run("exec", name, "ping", "-c", "10", "-i", "0.2", "127.0.0.1")
    after = stats_by_name(docker_host, name)[name]

    lo0, lo1 = before["net_interfaces"]["lo"], after["net_interfaces"]["lo"]
    print(f"lo before {lo0} after {lo1}")
    # ten echo requests and ten replies, each sent and received on lo
    for key in ("rx_packets", "tx_packets"):
        assert lo1[key] - lo0[key] >= 20, (lo0, lo1)
    for key in ("rx_bytes", "tx_bytes"):
        assert lo1[key] - lo0[key] >= 20 * 64, (lo0, lo1)
    # the totals leave lo out, as docker stats' NET I/O does; --bridge=none: nothing else
    assert set(after["net_interfaces"]) == {"lo"}
    for row in (before, after):
        assert (row["net_rx_bytes"], row["net_tx_bytes"]) == (0, 0)
    docker_net = docker_stats(docker_cli, name)[name]["NetIO"]
    assert docker_net == "0B / 0B"


# --- names, selection, filters -------------------------------------------------------


@engine
def test_rows_carry_name_and_image(
    docker_cli: DockerCLI, docker_host: str, idle: tuple[str, str]
) -> None:
    name, cid = idle
    assert docker_cli.inspect(cid)["Config"]["Image"] == IMAGE
    rows = stats_rows(docker_host)
    mine = [row for row in rows if row["id"] == cid]
    assert len(mine) == 1, rows
    assert mine[0]["name"] == name
    assert mine[0]["image"] == IMAGE
    assert all(isinstance(row["name"], str) and row["name"] for row in rows)
    assert all(row["sampled_at"].endswith("Z") for row in rows)


@engine
def test_stats_name_selects_one(
    docker_cli: DockerCLI, docker_host: str, idle: tuple[str, str]
) -> None:
    name, cid = idle
    for ident in (name, cid, cid[:12]):
        rows = stats_rows(docker_host, ident)
        assert [(r["id"], r["name"]) for r in rows] == [(cid, name)]


@engine
def test_unknown_container_exits_non_zero(docker_cli: DockerCLI, docker_host: str) -> None:
    ident = unique_name("wd-no-such")
    proc = agent("stats", "--no-stream", "--format", "json", "--docker-host", docker_host, ident)
    assert proc.returncode != 0
    assert "no such container" in proc.stderr
    assert ident in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    ("flag", "message"),
    [("nokey", "expected KEY=VALUE"), ("foo=bar", "unknown filter key 'foo'")],
)
@engine
def test_bad_filters_exit_2(
    docker_cli: DockerCLI, docker_host: str, flag: str, message: str
) -> None:
    proc = agent(
        "stats", "--no-stream", "--format", "json", "--docker-host", docker_host, "--filter", flag
    )
    assert proc.returncode == 2, proc
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


# --- without Docker ------------------------------------------------------------------


@pytest.mark.parametrize("flags", [[], ["--no-docker"]], ids=["default-socket", "no-docker"])
@engine
def test_without_docker_lists_containers_by_id(
    docker_cli: DockerCLI, idle: tuple[str, str], flags: list[str]
) -> None:
    if not flags and os.path.exists(DEFAULT_SOCKET):
        pytest.skip(f"{DEFAULT_SOCKET} exists: the default socket's fallback cannot be shown")
    _, cid = idle
    proc = agent("stats", "--no-stream", "--format", "json", *flags)  # no DOCKER_HOST
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    mine = [row for row in rows if row["id"] == cid]
    assert len(mine) == 1, [row["id"] for row in rows]
    row = mine[0]
    assert row["name"] is None and row["image"] is None
    assert row["cpu_usage_seconds_total"] > 0
    assert row["memory_usage_bytes"] > 0
    assert row["pids"] == 1
    assert row["net_interfaces"] is not None and "lo" in row["net_interfaces"]
    assert all(r["name"] is None for r in rows)
    if "--no-docker" not in flags:  # the fallback is said, on one line
        assert f"no Docker engine at unix://{DEFAULT_SOCKET}" in proc.stderr
        assert "cgroup path" in proc.stderr and len(proc.stderr.splitlines()) == 1


# --- in-process ----------------------------------------------------------------------


@engine
def test_bug_stats_stdout_bound_at_import(
    monkeypatch: pytest.MonkeyPatch, docker_cli: DockerCLI, docker_host: str, idle: tuple[str, str]
) -> None:
    """commands.stats.run_stats's ``out: TextIO = sys.stdout`` default is evaluated when the
    module is imported, so in-process callers of ``cli.main`` (capsys, redirect_stdout)
    lose the rows of every call after the first stdout swap: they go to whatever was
    sys.stdout at import time."""
    for key in AGENT_ENV:
        monkeypatch.delenv(key, raising=False)
    name, cid = idle
    outputs = []
    for _ in range(2):  # two different sys.stdout objects, as in two tests using capsys
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            argv = ["stats", "--no-stream", "--format", "json", "--docker-host", docker_host]
            rc = main([*argv, name])
        assert rc == 0
        outputs.append(buf.getvalue())
    ids = [[json.loads(line)["id"] for line in out.splitlines()] for out in outputs]
    assert ids == [[cid], [cid]]
