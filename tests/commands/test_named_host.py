"""A Docker address the user named (``--docker-host``, ``DOCKER_HOST``) that does not
answer makes one-shot commands fail with one clear line and a non-zero exit, as docker
does; only the standard socket falls back to cgroup paths (tests/commands/test_engine_stats.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.agentcli import agent

COMMANDS = [
    ["stats", "--no-stream"],
    ["stats", "--no-stream", "--format", "json"],
    ["top", "0123456789ab"],
    ["events"],
    ["events", "--since", "10m", "--until", "0s", "--agent", "none"],
]


@pytest.mark.parametrize("how", ["flag", "env"])
@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c) for c in COMMANDS])
def test_a_named_host_that_does_not_answer_fails(tmp_path: Path, argv: list[str], how: str) -> None:
    host = f"unix://{tmp_path}/no-engine.sock"
    if how == "flag":
        proc = agent(*argv, "--docker-host", host, timeout=30)
    else:
        proc = agent(*argv, docker_host=host, timeout=30)  # DOCKER_HOST, the user's choice
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"watchdog-agent: no Docker engine at {host}: No such file or directory"
    ]


def test_streaming_stats_fails_too(tmp_path: Path) -> None:
    host = f"unix://{tmp_path}/no-engine.sock"
    proc = agent("stats", "--docker-host", host, timeout=30)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "no Docker engine at" in proc.stderr and "cgroup path" not in proc.stderr
