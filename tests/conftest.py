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

# --- workers (pytest-xdist, `--dist loadgroup`) ------------------------------------

# Tests on the shared engine run one at a time, on one worker: several compare what the
# agent saw with the engine's own record over a time window (docker events, docker ps),
# which another test's containers would change. Everything else (unit tests, private
# engines, fixture trees, the terminal) runs beside them, a test file on one worker.
SHARED_ENGINE_FIXTURES = ("docker_host", "docker_cli")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group tests for pytest-xdist's ``--dist loadgroup``: the shared engine's tests
    together, any other file's tests together (module fixtures are made once)."""
    for item in items:
        if item.get_closest_marker("xdist_group") is not None:
            continue
        fixtures = getattr(item, "fixturenames", ())
        shared = any(f in fixtures for f in SHARED_ENGINE_FIXTURES)
        item.add_marker(pytest.mark.xdist_group("engine" if shared else item.nodeid.split("::")[0]))


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
