"""The agent service of deploy/docker-compose.yml and of the Swarm stack, run for real
with the built image: each service (as `docker-compose config` resolves it) translated
into `docker run`, on the test engine. Both see containers and their processes with
host and in-container PIDs: the compose agent in the host's PID namespace, the Swarm one
(Swarm has none to give) through the host's /proc alone."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.manifests import (
    COMPOSE,
    STACK,
    SWARM_SERVICE,
    get_json,
    seen_by_agent,
    serving_url,
    substitute,
    wait_ready,
)

KNOWN = {"build", "image", "command", "pid", "user", "read_only", "cap_drop", "security_opt",
         "volumes", "mem_limit", "cpus", "restart", "ports", "deploy"}  # fmt: skip


def _resolved(path: Path, name: str) -> dict[str, Any]:
    proc = subprocess.run(["docker-compose", "-f", str(path), "config"],
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    service: dict[str, Any] = yaml.safe_load(proc.stdout)["services"][name]
    return service


def service_as_docker_run(
    service: dict[str, Any], image: str, host_paths: dict[str, str], volumes: dict[str, str]
) -> list[str]:
    """`docker run` options, image and arguments for a compose service, field by field (an
    unknown field fails). Substituted: the network (the host's; the engine has no bridge,
    so published ports and the --listen address become 127.0.0.1:0), bind sources per
    ``host_paths`` and named volumes per ``volumes``; the rest is the file's."""
    assert set(service) <= KNOWN, set(service) - KNOWN
    run = ["--network", "host"]
    if "pid" in service:
        run += ["--pid", service["pid"]]
    if "user" in service:
        run += ["--user", service["user"]]
    if service.get("read_only"):
        run.append("--read-only")
    run += [a for c in service.get("cap_drop", []) for a in ("--cap-drop", c)]
    run += [a for o in service.get("security_opt", []) for a in ("--security-opt", o)]
    limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
    memory = service.get("mem_limit", limits.get("memory"))
    cpus = service.get("cpus", limits.get("cpus"))
    run += ["--memory", str(memory).lower().removesuffix("b"), "--cpus", str(cpus)]
    for volume in service["volumes"]:
        if isinstance(volume, str):
            source, target, *mode = volume.split(":")
            run += ["-v", ":".join([host_paths.get(source, source), target, *mode])]
        elif volume["type"] == "bind":
            ro = ",readonly" if volume.get("read_only") else ""
            src = host_paths.get(volume["source"], volume["source"])
            run += ["--mount", f"type=bind,src={src},dst={volume['target']}{ro}"]
        else:
            assert volume["type"] == "volume" and set(volume.get("volume", {})) <= {"nocopy"}
            nocopy = ",volume-nocopy" if volume.get("volume", {}).get("nocopy") else ""
            dst = volume["target"]
            run += ["--mount", f"type=volume,src={volumes[volume['source']]},dst={dst}{nocopy}"]
    return [*run, image, *substitute(service["command"], {"--listen": "127.0.0.1:0"})]


@pytest.mark.engine
@pytest.mark.parametrize(
    ("path", "name"),
    [(COMPOSE, "agent"), (STACK, SWARM_SERVICE)],
    ids=["compose", "swarm"],
)
def test_agent_service_runs_with_the_built_image(
    path: Path,
    name: str,
    agent_image: str,
    docker_cli: DockerCLI,
    docker_host: str,
) -> None:
    journal = f"wd-journal-{secrets.token_hex(4)}"
    run = service_as_docker_run(
        _resolved(path, name), agent_image,
        {"/var/run/docker.sock": docker_host.removeprefix("unix://")}, {"journal": journal},
    )  # fmt: skip
    project = unique_name("proj")
    target = docker_cli.start("--label", f"com.docker.compose.project={project}",
                              IMAGE, "sh", "-c", "sleep 600 & sleep 601 & wait")  # fmt: skip
    agent = ""
    try:
        agent = docker_cli.start(*run, name=unique_name("service"))
        url = serving_url(docker_cli, agent)
        wait_ready(url)
        assert get_json(f"{url}/healthz")[0] == 200
        top, info = seen_by_agent(url, target, processes=3)
        assert f'label_com_docker_compose_project="{project}"' in info, info
        init = [p for p in top["processes"] if p["ns_pid"] == 1]
        assert [p["pid"] for p in init] == [docker_cli.inspect(target)["State"]["Pid"]]
        assert len(top["processes"]) == 3, top
        status, stats = get_json(f"{url}/api/v1/containers/{target}/stats")
        assert status == 200 and stats["memory_usage_bytes"] > 0, stats
        files = docker_cli.run("run", "--rm", "--network", "none", "--label", "watchdog.test=1",
                               "-v", f"{journal}:/j:ro", IMAGE, "ls", "/j")  # fmt: skip
        assert "events.db" in files.split()
    finally:
        if agent:
            docker_cli.rm(agent)
        docker_cli.run("volume", "rm", "-f", journal, check=False)
