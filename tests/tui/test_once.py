"""``dstats --once`` and the command line, run as a user runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import dstats as shared
from helpers.agentcli import agent_env
from helpers.dstats import Workload, free_port
from tuifakes import NOW, row, stopped

from watchdog_agent.tui.columns import COLUMNS, Context
from watchdog_agent.tui.once import HEADERS, cells
from watchdog_agent.tui.view import Row

DSTATS = str(Path(sys.executable).parent / "dstats")
workload, agent_url = shared.workload, shared.agent_url  # the module fixtures


def dstats(
    *args: str, docker_host: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DSTATS, *args], env={**agent_env(docker_host), **env}, capture_output=True, text=True,
        timeout=90, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "shown",
    [row("a", "web", cpu_percent=42.25, memory_limit_bytes=2**30, psi_cpu_some_avg10=12.5,
         throttled_percent=7.0, net_rx_rate=12_345.0, restart_count=2),
     stopped("b", "job", 137, oom_killed=True, memory_limit_bytes=2**30)],
)  # fmt: skip
def test_once_cells_are_the_apps_text(shown: Row) -> None:
    ctx = Context(now=NOW, host_cpus={}, host_names={})
    mine = cells(shown, NOW)
    assert tuple(c.title for c in COLUMNS) == HEADERS and len(mine) == len(HEADERS)
    for column, text in zip(COLUMNS, mine, strict=True):
        app = "".join(t for t, _ in column.format(shown, ctx))
        if column.key == "cpu":  # the app draws a bar before the number
            assert app.split()[-1] == text, (app, text)
        else:
            assert app == text, column.key


@pytest.mark.engine
def test_once_table(agent_url: str, workload: Workload) -> None:
    mine = f"label={workload.label}"  # the engine is shared with other tests' containers
    proc = dstats("--once", "--agent", agent_url, "--sort", "cpu", "--filter", mine)
    assert proc.returncode == 0, proc.stderr
    header, *lines = proc.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "ID", "IMAGE", "STATE"] and "HOST" not in header
    assert "CPU %" in header and "THROTTLED %" in header and "RESTARTS" in header
    by_name = {line.split()[0]: line for line in lines}
    assert workload.busy in by_name and workload.idle in by_name
    assert workload.dead not in by_name  # stopped: only with -a
    assert lines[0].split()[0] == workload.busy  # sorted by CPU, the busy one first
    cpu = float(by_name[workload.busy].split()[5].rstrip("%"))  # after "running 1m02s"
    # --cpus 0.5: about 50, never above the limit; the low bound is generous because a
    # loaded 2-core test machine (load 10+) gives the loop far less than its half core
    assert 5 < cpu < 65, by_name[workload.busy]
    assert "/s" in by_name[workload.busy]  # rates, from two documents
    proc = dstats("--once", "--agent", agent_url, "-a", "--filter", f"name={workload.dead}")
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stdout.splitlines()[1:]
    assert line.split()[0] == workload.dead and "exited" in line


@pytest.mark.engine
def test_once_json(agent_url: str, workload: Workload) -> None:
    proc = dstats("--once", "--agent", agent_url, "--format", "json", "-a")
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    busy, dead = rows[workload.busy], rows[workload.dead]
    assert busy["agent"] == agent_url and busy["cpu_limit"] == 0.5
    assert 5 < busy["cpu_percent"] < 65
    assert busy["net_rx_rate"] == 0.0 and busy["image"] == "watchdog-test/busybox:latest"
    assert dead["state"] == "exited" and dead["cpu_percent"] is None  # a gap is null


@pytest.mark.engine
def test_once_local_when_no_agent_answers(docker_host: str, workload: Workload) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    proc = dstats("--once", "--format", "json", docker_host=docker_host,
                  WATCHDOG_AGENT_URL=nowhere)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = {r["name"]: r for r in json.loads(proc.stdout)}
    assert rows[workload.busy]["agent"] == "local"
    assert rows[workload.busy]["cpu_percent"] is not None


def test_once_with_no_agent_answering_fails_clearly() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    proc = dstats("--once", "--agent", url)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "connection refused" in proc.stderr and "no agent answered" in proc.stderr


@pytest.mark.engine
def test_two_agents_get_a_host_column(agent_url: str, workload: Workload) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    proc = dstats("--once", "--agent", agent_url, "--agent", down)
    assert proc.returncode == 0, proc.stderr  # one answered
    assert proc.stdout.splitlines()[0].startswith("HOST")
    assert down in proc.stderr and "retrying" in proc.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus"], "unrecognized arguments"),
        (["--agent", "ftp://x"], "bad agent URL"),
        (["--agent-token-file", "/nonexistent/token"], "cannot read the token file"),
        (["--agent-user", "u"], "go together"),
        (["--sort", "colour"], "unknown sort column"),
        (["--filter", "status=sleeping"], "bad status"),
        (["--format", "xml"], "invalid choice"),
        (["--agent-ca", "/nonexistent/ca.pem", "--agent", "https://127.0.0.1:1"], "TLS files"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = dstats(*args, "--once")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and message in proc.stderr
    assert proc.stderr.startswith("dstats: ")


def test_version() -> None:
    proc = dstats("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("dstats ")


@pytest.mark.engine
def test_sigterm_stops_the_in_process_agent_and_removes_its_directory(
    docker_host: str, tmp_path: Path
) -> None:
    env = {**agent_env(docker_host), "TMPDIR": str(tmp_path), "WATCHDOG_INTERVAL": "5",
           "WATCHDOG_AGENT_URL": f"http://127.0.0.1:{free_port()}"}  # fmt: skip
    # --once waits for two samples, 5 s apart: time enough to be stopped in between
    proc = subprocess.Popen([DSTATS, "--once"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not list(tmp_path.glob("dstats-*/agent.sock")):
            assert proc.poll() is None and time.monotonic() < deadline, "no private socket"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 143
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list(tmp_path.iterdir()) == []  # the private directory is gone
