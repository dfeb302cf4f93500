"""Shared fixtures. The Docker engine is the private one that scripts/test starts."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from helpers.dockercli import DEFAULT_HOST, DockerCLI
from helpers.fuzzing import NIGHTLY
from hypothesis import settings

# --- Hypothesis profiles ----------------------------------------------------------------
# ci (the default): derandomized and without the example database, so the suite is
# deterministic; nightly (WATCHDOG_TEST_NIGHTLY=1): random, with helpers.fuzzing.examples()
# budgets multiplied. Neither has a deadline: the machine is shared, and time is no test.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("nightly", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile("nightly" if NIGHTLY else "ci")

# --- Docker engine -----------------------------------------------------------------


@pytest.fixture(scope="session")
def docker_host() -> str:
    """The test engine's address, e.g. ``unix:///tmp/wd-engine/docker.sock``."""
    return os.environ.get("WATCHDOG_TEST_DOCKER_HOST") or DEFAULT_HOST


@pytest.fixture(scope="session")
def docker_cli(docker_host: str) -> Iterator[DockerCLI]:
    """The docker CLI on the test engine; removes the containers it started at the end.

    Skips when no engine answers, but fails under CI=true (CI must run these tests).
    """
    cli = DockerCLI(host=docker_host)
    reason = cli.answers(timeout=10)
    if reason is not None:
        msg = (
            f"no Docker engine answers at {docker_host} ({reason}); "
            "run scripts/test, which starts one"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    try:
        yield cli
    finally:
        cli.cleanup()
