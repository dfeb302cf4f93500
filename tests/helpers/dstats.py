"""dstats' tests: the workload the data side is tested against, agents on free ports."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess


@dataclass(frozen=True)
class Workload:
    busy: str  # name: a busy loop limited to half a CPU (--cpus 0.5)
    idle: str  # name: sleeps
    dead: str  # name: exited with code 3
    label: str  # KEY=VALUE on these containers only (the engine is shared)


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
    names = Workload(unique_name("dstats-busy"), unique_name("dstats-idle"),
                     unique_name("dstats-dead"), docker_cli.session_label)  # fmt: skip
    ids = [
        docker_cli.start("--cpus", "0.5", IMAGE, "sh", "-c", "while :; do :; done",
                         name=names.busy),
        docker_cli.start(IMAGE, "sleep", "600", name=names.idle),
        docker_cli.start(IMAGE, "sh", "-c", "exit 3", name=names.dead),
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
