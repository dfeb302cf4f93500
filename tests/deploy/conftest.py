"""Fixtures for the deployment tests: the agent's image, built once per session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.agentimage import ImageBuild, build_agent_image
from helpers.dockercli import DockerCLI


@pytest.fixture(scope="session")
def agent_image(docker_cli: DockerCLI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """deploy/Dockerfile built on the test engine (on a Debian base made here: no registry
    is reachable); yields the image's tag, ``watchdog-test/agent:<hex>``. Removes the
    images it built at the end of the session (containers run from it must be gone by
    then: remove them in the fixture or test that starts them)."""
    build = ImageBuild(docker_cli, Path(tmp_path_factory.mktemp("agent-image")))
    try:
        yield build_agent_image(build)
    finally:
        build.remove_images()
