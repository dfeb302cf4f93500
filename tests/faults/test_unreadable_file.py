"""One cgroup file of a live container made unreadable (``chmod 000``).

The agent runs as root, as it is deployed, but without CAP_DAC_OVERRIDE and
CAP_DAC_READ_SEARCH (``setpriv`` drops them from the bounding set before it executes the
agent): root with those capabilities ignores mode 000, and a hardened deployment drops
them. The file is made unreadable before the agent first opens it (a descriptor the
agent already holds is not revoked by a mode change, so that case cannot fail).

Proven: the series that file feeds is absent (a gap, never 0), every other series of the
container is there, ``watchdog_sampling_errors_total`` counts the failed reads pass after
pass, and once the mode is restored the series comes back and the counter stops.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.agentcli import AGENT
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.faultkit import http_get, metric, series, wait_for
from helpers.serveproc import ServeProcess

pytestmark = pytest.mark.engine

CGROUP = Path("/sys/fs/cgroup")
FILE = "memory.usage_in_bytes"  # v1 memory controller: container_memory_usage_bytes
SERIES = "container_memory_usage_bytes"
# usage minus inactive_file; and "unlimited" (0) is told from "unknown" by a readable
# usage (table.py: no memory controller readable, no limit series)
ALSO_GONE = {"container_memory_working_set_bytes", "container_spec_memory_limit_bytes"}
UNPRIVILEGED = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search"]


def memory_dir(pid: int) -> Path:
    """The process's v1 memory cgroup directory (from /proc/<pid>/cgroup)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return CGROUP / "memory" / path.lstrip("/")
    pytest.skip("no v1 memory controller here (a pure-v2 host)")


@pytest.fixture
def unreadable(docker_cli: DockerCLI) -> Iterator[tuple[str, str, Path]]:
    """(name, id, file) of a running container whose FILE is mode 000, restored after."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv")
    name = unique_name("unread")
    cid = docker_cli.start(IMAGE, "sleep", "300", name=name)
    pid = int(docker_cli.inspect(cid)["State"]["Pid"])
    path = memory_dir(pid) / FILE
    mode = path.stat().st_mode & 0o777
    path.chmod(0)
    try:
        yield name, cid, path
    finally:
        path.chmod(mode)


def test_an_unreadable_cgroup_file_is_a_counted_gap(
    docker_cli: DockerCLI, unreadable: tuple[str, str, Path]
) -> None:
    name, _, path = unreadable
    argv = [*UNPRIVILEGED, AGENT, "serve", "--listen", "127.0.0.1:0", "--journal", "none",
            "--interval", "0.2", "--docker-host", docker_cli.host]  # fmt: skip
    agent = ServeProcess(docker_host=docker_cli.host, argv=argv)
    try:
        base = agent.wait_url()
        caps = Path(f"/proc/{agent.proc.pid}/status").read_text()
        eff = int(next(ln for ln in caps.splitlines() if ln.startswith("CapEff:")).split()[1], 16)
        assert not eff & (1 << 1 | 1 << 2), "the agent still has DAC_OVERRIDE/DAC_READ_SEARCH"

        def scrape() -> bytes:
            status, body = http_get(base + "/metrics")
            assert status == 200, body[:300]
            return body

        labels = {"name": name}
        wait_for(lambda: metric(scrape(), "container_cpu_usage_seconds_total", labels) is not None,
                 30, "the container's series")  # fmt: skip
        errors = metric(scrape(), "watchdog_sampling_errors_total")
        assert errors is not None and errors >= 1
        wait_for(lambda: (metric(scrape(), "watchdog_sampling_errors_total") or 0) > errors + 1,
                 10, "the error counted again on later passes")  # fmt: skip
        body = scrape()
        present = series(body, "container_", labels)
        assert SERIES not in present and not ALSO_GONE & present, sorted(present)
        for expected in ("container_cpu_usage_seconds_total", "container_memory_rss",
                         "container_memory_cache", "container_memory_max_usage_bytes",
                         "container_threads", "container_threads_max"):  # fmt: skip
            assert expected in present, (expected, sorted(present))
        status, doc = http_get(base + f"/api/v1/containers/{name}/stats")
        assert status == 200, doc[:300]
        stats = json.loads(doc)
        stats = stats.get("stats", stats)
        assert stats["memory_usage_bytes"] is None and stats["cpu_usage_seconds_total"], stats

        path.chmod(0o644)
        wait_for(lambda: metric(scrape(), SERIES, labels) is not None, 10,
                 "the series to come back once the file is readable")  # fmt: skip
        settled = metric(scrape(), "watchdog_sampling_errors_total")
        sampled = metric(scrape(), "watchdog_last_sample_timestamp_seconds") or 0
        wait_for(lambda: (metric(scrape(), "watchdog_last_sample_timestamp_seconds") or 0)
                 > sampled + 0.5, 10, "a few more passes")  # fmt: skip
        usage = metric(scrape(), SERIES, labels)
        assert usage is not None and usage > 0
        again = metric(scrape(), "watchdog_sampling_errors_total")
        assert again is not None and again == settled, f"still counting: {settled} -> {again}"
    finally:
        code = agent.stop()
    assert code == 0, agent.logs[-10:]
