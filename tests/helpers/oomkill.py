"""An OOM kill that Docker recorded, for tests about what the agent makes of that record.

The engine these tests run (Debian's Docker 20.10 with containerd 1.6, on this
machine's cgroup v1) now and then misses the kernel's notification of an OOM kill: the
container exits 137 with ``State.OOMKilled`` false and no ``oom`` event, a record that
cannot be told from a plain SIGKILL. Measured with a 16 MiB container
writing 64 MiB to a tmpfs: 0 of 20 runs on a quiet machine, 3 of 110 with both cores
busy (as in a full test run); a ``sleep 1`` before the write did not help (1 of 30).
The agent follows Docker's record, so a test that needs an OOM kill Docker recorded
runs the container again, a fresh one each time, until Docker has recorded it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

TRIES = 5  # runs at most: at 1 miss in 30, five in a row is 1 in 24 million


def recorded_oom_kill(docker: Callable[..., str], run: Callable[[], str], what: str) -> str:
    """Call ``run`` (it starts a container bound to be OOM-killed and returns its id)
    until Docker records the kill; that container's id. ``docker(*args)`` runs the docker
    CLI against the same engine and returns its stdout. A run Docker did not record is
    removed (so its name is free for the next) and named in the failure if all are."""
    missed: list[str] = []
    for _ in range(TRIES):
        cid = run().strip()
        docker("wait", cid)
        state = docker("inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", cid)
        if state.split()[0] == "true":
            return cid
        missed.append(f"{cid[:12]} (OOMKilled, exit code: {state.strip()})")
        docker("rm", "-f", cid)
    pytest.fail(f"Docker recorded no OOM kill of {what} in {TRIES} runs: {', '.join(missed)}")
