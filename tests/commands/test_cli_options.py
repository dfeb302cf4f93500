"""The command line a user meets first: --version, each command's own options, and times
docker accepts that lie past the end of nanoseconds."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from helpers.agentcli import AGENT, Following, agent
from helpers.dockercli import IMAGE, TEST_LABEL, DockerCLI, unique_name

from watchdog_agent import __version__
from watchdog_agent.events.timeparse import to_docker_since


def test_version_flag_and_command_agree() -> None:
    flag = agent("--version")
    command = agent("version")
    assert flag.returncode == 0, flag.stderr
    assert command.returncode == 0, command.stderr
    assert flag.stdout == command.stdout == f"watchdog-agent {__version__}\n"


def options(command: str) -> set[str]:
    """The long options ``watchdog-agent COMMAND --help`` lists."""
    proc = agent(command, "--help")
    assert proc.returncode == 0, proc.stderr
    return set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", proc.stdout))


KERNEL = {"--proc-root", "--cgroup-root", "--no-docker"}  # read /proc and cgroups
SERVE_ONLY = {
    "--listen",
    "--journal",
    "--history",
    "--max-streams",
    "--auth-token-file",
    "--basic-auth-file",
    "--tls-cert",
    "--tls-key",
    "--config",
    "--metric-labels",
}


def test_events_help_lists_only_what_events_uses() -> None:
    """events talks to Docker (or an agent, or a journal) and never reads /proc or
    cgroups: no --proc-root, --cgroup-root, --no-docker, --interval."""
    found = options("events")
    assert {"--docker-host", "--since", "--until", "--filter", "--format", "--journal",
            "--agent"} <= found  # fmt: skip
    assert not found & (KERNEL | {"--interval", "--listen", "--config"})


def test_stats_and_top_take_the_kernel_options_but_not_serves() -> None:
    stats, top = options("stats"), options("top")
    assert KERNEL | {"--docker-host", "--interval", "--no-stream", "--all"} <= stats
    assert KERNEL | {"--docker-host", "--format"} <= top
    assert "--interval" not in top  # top takes one reading
    assert not (stats | top) & SERVE_ONLY


def test_serve_takes_every_setting() -> None:
    assert KERNEL | SERVE_ONLY | {"--docker-host", "--interval"} <= options("serve")


@pytest.mark.parametrize("flag", ["--proc-root=/proc", "--cgroup-root=/sys/fs/cgroup",
                                  "--no-docker"])  # fmt: skip
def test_events_refuses_options_it_does_not_use(flag: str) -> None:
    proc = agent("events", flag, "--journal", "/nonexistent/j.db", "--since", "1s")
    assert proc.returncode == 2
    assert "unrecognized arguments" in proc.stderr


@pytest.mark.parametrize(
    "window",
    [["--since", "9999999999"], ["--since", "0", "--until", "9999999999"],
     ["--since", "9999999999", "--until", "9999999999.5"]],
)  # fmt: skip
def test_times_after_2262_are_accepted(tmp_path: Path, window: list[str]) -> None:
    """Year 2286 is past the end of int64 nanoseconds: clamped to it, not refused
    (replayed from an empty journal: no engine needed, no event printed; the part of the
    window nothing covers may be reported as a gap on stderr, and nothing else)."""
    proc = agent("events", "--journal", str(tmp_path / "j.db"), *window)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    others = [x for x in proc.stderr.splitlines() if "may be missing" not in x]
    assert not others, proc.stderr


@pytest.mark.engine
def test_until_2286_follows_like_docker(docker_cli: DockerCLI) -> None:
    """``--until 9999999999`` against the engine: the replay from --since comes out and
    the command keeps following (the end is centuries away) until SIGTERM."""
    since = to_docker_since(time.time_ns() - 10**9)
    cid = docker_cli.run(
        "create", "--name", unique_name("wdend"), "--label", TEST_LABEL,
        "--label", docker_cli.session_label, "--network", "none", IMAGE, "true",
    ).strip()  # fmt: skip
    docker_cli.started.append(cid)
    docker_cli.rm(cid)
    following = Following(
        [AGENT, "events", "--agent", "none", "--docker-host", docker_cli.host, "--since", since,
         "--until", "9999999999", "--filter", f"container={cid}", "--format", "json"],
        docker_host=docker_cli.host,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while len(following.lines) < 2 and following.proc.poll() is None:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    still_running = following.proc.poll() is None
    code, stderr = following.stop()
    assert [json.loads(x)["Action"] for x in following.lines] == ["create", "destroy"], stderr
    assert still_running, f"exited early ({code}): {stderr}"
    assert code == 0, stderr
