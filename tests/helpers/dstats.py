"""dstats' tests: the workload the data side is tested against, agents on free ports.

``workload`` and ``agent_url`` are module fixtures, offered to tests/tui/ by its
conftest.py.
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess


@dataclass(frozen=True)
class Workload:
    busy: str  # name: a busy loop limited to half a CPU (--cpus 0.5)
    idle: str  # name: sleeps
    dead: str  # name: exited with code 3
    label: str  # KEY=VALUE on these three containers only (the engine is shared, and the
    # session label is on every container the session's tests start)


def serve(docker_host: str, *args: str) -> ServeProcess:
    """``watchdog-agent serve`` on the engine at ``docker_host``, sampling every 0.5 s."""
    return ServeProcess("--journal", "none", "--interval", "0.5", *args, docker_host=docker_host)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def running_workload(docker_cli: DockerCLI) -> Iterator[Workload]:
    """For a module fixture: the three containers, removed after."""
    label = f"watchdog.test.dstats={secrets.token_hex(6)}"
    names = Workload(unique_name("dstats-busy"), unique_name("dstats-idle"),
                     unique_name("dstats-dead"), label)  # fmt: skip
    mine = ("--label", names.label)
    ids = [
        docker_cli.start(*mine, "--cpus", "0.5", IMAGE, "sh", "-c", "while :; do :; done",
                         name=names.busy),
        docker_cli.start(*mine, IMAGE, "sleep", "600", name=names.idle),
        docker_cli.start(*mine, IMAGE, "sh", "-c", "exit 3", name=names.dead),
    ]  # fmt: skip
    docker_cli.run("wait", names.dead)
    try:
        yield names
    finally:
        docker_cli.rm(*ids)


def running_agent(docker_host: str, *args: str) -> Iterator[str]:
    """For a module fixture: an agent on the engine (``args``: more flags); its URL."""
    proc = serve(docker_host, *args)
    try:
        yield proc.wait_url()
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def workload(docker_cli: DockerCLI) -> Iterator[Workload]:
    """The module's three containers (``running_workload``)."""
    yield from running_workload(docker_cli)


@pytest.fixture(scope="module")
def agent_url(docker_host: str, workload: Workload) -> Iterator[str]:
    """An agent on the test engine, started once the workload runs; its URL."""
    yield from running_agent(docker_host)
