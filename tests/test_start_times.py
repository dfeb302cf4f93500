"""Process start times to the tick: the boot time comes from the clocks, not from
/proc/stat's whole-second ``btime`` (which put every start up to a second early)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path

import pytest
from agentcli import agent
from dockercli import IMAGE, DockerCLI, unique_name

from watchdog_agent.collectors.proctree import boot_time, btime, clock_boot_time

engine = pytest.mark.engine


def test_the_clocks_refine_btime_for_this_hosts_procfs() -> None:
    whole = btime("/proc")
    assert whole is not None
    precise = boot_time("/proc")
    assert precise is not None and 0 <= precise - whole < 1
    assert precise == pytest.approx(clock_boot_time(), abs=0.001)


def test_another_procfs_keeps_its_own_btime(tmp_path: Path) -> None:
    """A procfs that is not this kernel's (its btime disagrees with the clocks) keeps the
    boot time it states: start times computed from it stay consistent with it."""
    root = tmp_path
    (root / "stat").write_text("cpu  1 2 3 4 5 6 7 8 0 0\nbtime 1700000000\n")
    assert boot_time(str(root)) == 1700000000.0


def _rfc3339(text: str) -> float:
    """Docker's StartedAt has nanoseconds; fromisoformat takes at most microseconds."""
    head, _, frac = text.rstrip("Z").partition(".")
    return datetime.fromisoformat(head + "+00:00").timestamp() + float("0." + (frac or "0"))


@engine
def test_init_starts_just_before_dockers_started_at(
    docker_cli: DockerCLI, docker_host: str
) -> None:
    """Docker records StartedAt after the init process began: ours is before it, and by
    less than 100 ms (the tick a start time is counted in is 10 ms)."""
    gaps = []
    for _ in range(3):
        name = unique_name("wd-start")
        cid = docker_cli.start(IMAGE, "sleep", "100000", name=name)
        try:
            started = _rfc3339(docker_cli.inspect(cid)["State"]["StartedAt"])
            proc = agent("top", name, "--format", "json", "--docker-host", docker_host)
            assert proc.returncode == 0, proc.stderr
            (init,) = [p for p in json.loads(proc.stdout) if p["ns_pid"] == 1]
            ours = _rfc3339(init["started_at"])
        finally:
            docker_cli.rm(cid)
        gaps.append(started - ours)
        time.sleep(0.2)
    print(f"Docker StartedAt minus top's started_at (s): {[round(g, 3) for g in gaps]}")
    assert all(0 < g < 0.1 for g in gaps), gaps
