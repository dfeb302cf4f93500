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


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups off the items
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group tests for pytest-xdist's ``--dist loadgroup``: every file with a test on the
    shared engine in one group, any other file's tests together (module fixtures are
    made once, and a file's tests run in their order)."""

    def path(item: pytest.Item) -> str:
        return item.nodeid.split("::")[0]

    on_engine = {
        path(item)
        for item in items
        if any(f in getattr(item, "fixturenames", ()) for f in SHARED_ENGINE_FIXTURES)
    }
    for item in items:
        if item.get_closest_marker("xdist_group") is None:
            where = path(item)
            item.add_marker(pytest.mark.xdist_group("engine" if where in on_engine else where))


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
