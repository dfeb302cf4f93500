"""An agent outside the host's PID namespace still lists a container's processes.

The kernel lists in ``cgroup.procs`` only the PIDs of the reader's own PID namespace, so
an agent in a container without ``--pid host`` read every process list empty (a Swarm
service cannot have ``pid: host``: found in Step 8). With the host's procfs mounted
(here: the agent's /proc is still the host's), the members are found from each process's
/proc/<pid>/cgroup instead, with host PIDs and in-container PIDs as always.
The test runs ``watchdog-agent top`` in a new PID namespace (``unshare --pid --fork``,
as root) against the test engine.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from helpers.agentcli import AGENT, agent_env
from helpers.dockercli import IMAGE, DockerCLI

pytestmark = pytest.mark.engine


def test_top_from_another_pid_namespace(docker_cli: DockerCLI, docker_host: str) -> None:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare(1) to make a PID namespace")
    cid = docker_cli.start(IMAGE, "sh", "-c", "sleep 300 & exec sleep 301")
    try:
        init = docker_cli.inspect(cid)["State"]["Pid"]
        argv = [AGENT, "top", cid, "--format", "json", "--agent", "none"]
        proc = subprocess.run(
            ["unshare", "--pid", "--fork", *argv, "--docker-host", docker_host],
            env=agent_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        procs = {p["ns_pid"]: p for p in json.loads(proc.stdout)}
        assert sorted(p["cmd"] for p in procs.values()) == ["sleep 300", "sleep 301"]
        assert procs[1]["pid"] == init  # the host's PID beside the container's
        [child] = [p for n, p in procs.items() if n != 1]
        assert child["ns_ppid"] == 1 and child["ppid"] == init
    finally:
        docker_cli.rm(cid)
