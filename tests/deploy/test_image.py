"""The agent's container image, built from deploy/Dockerfile and run here for real."""

from __future__ import annotations

from helpers.dockercli import DockerCLI


def test_image_prints_its_version(docker_cli: DockerCLI, agent_image: str) -> None:
    out = docker_cli.run("run", "--rm", "--network", "none", agent_image, "--version")
    assert out.strip() == "watchdog-agent 0.1.0"
