"""An agent in a cgroup namespace of its own still finds every container's cgroup.

Docker gives a container its own cgroup namespace by default on cgroup v2 hosts, and so
does Kubernetes: the agent deployed as a container or a pod reads another process's
/proc/<pid>/cgroup relative to its own namespace root (``0::/../<sibling>``), a path that
cannot be joined onto the cgroup mount. Found in Step 8 by running the image with
``--cgroupns private``; before the fix the agent placed no container at all.

The test makes that situation for real on this host: a cgroup of its own in every
hierarchy becomes the root of a new cgroup namespace (``unshare --cgroup``, as root),
and ``watchdog-agent stats`` runs inside it against the test engine.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.agentcli import AGENT, agent_env
from helpers.dockercli import IMAGE, DockerCLI

from watchdog_agent.collectors.cgroupfs import Layout

pytestmark = pytest.mark.engine

LIMIT = 48 * 1024 * 1024


@pytest.fixture
def namespace_roots() -> Iterator[list[Path]]:
    """A new cgroup directory in every hierarchy the agent reads (removed afterwards)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to make a cgroup namespace")
    layout = Layout("/sys/fs/cgroup")
    tops = {*layout.v1.values(), *([layout.unified] if layout.unified else [])}
    name = f"watchdog-nsroot-{secrets.token_hex(4)}"
    made = []
    try:
        for top in sorted(tops):
            path = Path(top) / name
            path.mkdir()
            made.append(path)
        yield made
    finally:
        for path in made:
            path.rmdir()  # empty again: the process in it has exited


def run_in_namespace(roots: list[Path], *argv: str) -> subprocess.CompletedProcess[str]:
    """``argv`` in a new cgroup namespace rooted at ``roots`` (the shell moves itself
    there first, so the namespace's root is not the host's)."""
    moves = " ".join(f"echo $$ > {shlex.quote(str(r / 'cgroup.procs'))};" for r in roots)
    script = f"{moves} exec unshare --cgroup {shlex.join(argv)}"
    return subprocess.run(
        ["sh", "-c", script],
        env=agent_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_stats_from_inside_a_cgroup_namespace_of_its_own(
    docker_cli: DockerCLI, docker_host: str, namespace_roots: list[Path]
) -> None:
    cid = docker_cli.start("--memory", str(LIMIT), IMAGE, "sleep", "120")
    try:
        pid = docker_cli.inspect(cid)["State"]["Pid"]
        seen = run_in_namespace(namespace_roots, "cat", f"/proc/{pid}/cgroup")
        assert seen.returncode == 0, seen.stderr
        # the situation itself: the container's paths lie outside the namespace
        assert any(line.split(":", 2)[2].startswith("/..") for line in seen.stdout.splitlines())

        proc = run_in_namespace(
            namespace_roots,
            AGENT, "stats", "--no-stream", "--format", "json", "--agent", "none",
            "--docker-host", docker_host, cid,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        [row] = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
        assert row["memory_limit_bytes"] == LIMIT
        assert row["memory_usage_bytes"] is not None and row["memory_usage_bytes"] > 0
        assert row["cpu_usage_seconds_total"] is not None
        assert row["pids"] == 1
    finally:
        docker_cli.rm(cid)
