"""`watchdog-agent events --since/--until` replays from a running agent's journal, and
falls back to Docker when no agent answers."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers.agentcli import agent
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess
from helpers.serving import until

from watchdog_agent.events.timeparse import to_docker_since

pytestmark = pytest.mark.engine


async def test_history_comes_from_the_agent_and_matches_docker(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    serve = ServeProcess("--journal", str(tmp_path / "events.db"), docker_host=docker_host)
    try:
        await until(lambda: serve.said("serving") is not None or serve.proc.poll() is not None)
        entry = serve.said("serving")
        assert entry is not None, serve.logs
        url = f"http://{entry['addresses'][0]}"
        name = unique_name("from-agent")
        since = to_docker_since(time.time_ns())
        cid = docker_cli.start(IMAGE, "true", name=name)
        docker_cli.run("wait", cid)
        docker_cli.rm(cid)
        window = ["--since", since, "--until", to_docker_since(time.time_ns())]
        flags = [*window, "--filter", f"container={name}", "--format", "json"]
        docker = docker_cli.run("events", *window, "--filter", f"container={name}",
                                "--format", "{{json .}}").splitlines()  # fmt: skip
        assert [line for line in docker if '"destroy"' in line], docker

        def from_agent() -> list[str]:
            proc = agent("events", "--agent", url, *flags, docker_host="unix:///nonexistent.sock")
            assert proc.returncode == 0, proc.stderr
            return proc.stdout.splitlines()

        # the agent's journal has the window once its tap has stored the last event
        await until(lambda: from_agent() == docker, timeout=15)
    finally:
        serve.kill()


def test_without_an_agent_history_comes_from_docker(
    docker_cli: DockerCLI, docker_host: str
) -> None:
    name = unique_name("no-agent")
    since = to_docker_since(time.time_ns())
    docker_cli.start(IMAGE, "true", name=name)
    window = ["--since", since, "--until", to_docker_since(time.time_ns())]
    flags = [*window, "--filter", f"container={name}", "--format", "{{.Action}}"]
    proc = agent("events", "--agent", "http://127.0.0.1:1", *flags, docker_host=docker_host)
    assert proc.returncode == 0, proc.stderr
    assert "create" in proc.stdout.splitlines()
