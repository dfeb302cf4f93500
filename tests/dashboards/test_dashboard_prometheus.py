"""Every dashboard query against a real agent on the test engine, scraped by a real
Prometheus (1 s): with a CPU-limited loop, one doing direct block I/O, an exited
container, an OOM-killed one and a restarting one, every query answers for the host
except the families this engine cannot produce (``NOT_HERE``)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from helpers.dashqueries import unanswered
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess

PROMETHEUS = shutil.which("prometheus")
PROJECT = "com.docker.compose.project"
# containers here run with --network none (only lo, which the agent does not report)
NOT_HERE = ("container_network_",)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def prometheus(target: str, tmp: Path) -> Iterator[str]:
    """A real Prometheus scraping ``target`` every second on 127.0.0.1; its base URL."""
    if PROMETHEUS is None:
        if os.environ.get("CI") == "true":
            pytest.fail("prometheus is not installed (scripts/test installs it)")
        pytest.skip("prometheus is not installed")
    port = _free_port()
    (tmp / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: watchdog\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    proc = subprocess.Popen(
        [PROMETHEUS, f"--config.file={tmp / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(20)


def instant(base: str, expr: str) -> Sequence[Mapping[str, Any]]:
    """An instant query's result list; [] while Prometheus is not up yet."""
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as exc:  # a query Prometheus refuses is the test's failure
        pytest.fail(f"{expr}: {exc.read().decode(errors='replace')}")
    except OSError:
        return []
    assert body["status"] == "success", body
    result: list[Mapping[str, Any]] = body["data"]["result"]
    return result


def wait_for(base: str, expr: str, timeout: float = 60) -> Sequence[Mapping[str, Any]]:
    deadline = time.monotonic() + timeout
    while not (got := instant(base, expr)):
        assert time.monotonic() < deadline, f"no answer to {expr} within {timeout} s"
        time.sleep(0.5)
    return got


@pytest.mark.engine
def test_every_query_answers_for_one_host(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    project = unique_name("dashproj")
    kinds = ("busy", "io", "exited", "oom", "restart")
    names = {kind: unique_name(f"dash-{kind}") for kind in kinds}
    serve = ServeProcess("--journal", str(tmp_path / "events.db"), "--interval", "0.5",
                         "--disk-interval", "3",
                         "--metric-labels", f"{PROJECT},com.docker.compose.service",
                         docker_host=docker_host)  # fmt: skip
    try:
        agent = serve.wait_url().removeprefix("http://")
        with prometheus(agent, tmp_path) as base:
            wait_for(base, 'up{job="watchdog"} == 1')
            docker_cli.start("--cpus", "0.5", "--memory", "64m", "--pids-limit", "64",
                             "--label", f"{PROJECT}={project}", IMAGE,
                             "sh", "-c", "while :; do :; done", name=names["busy"])  # fmt: skip
            io = (
                "dd if=/dev/zero of=/x bs=1M count=4 oflag=direct && dd if=/x of=/dev/null "
                "iflag=direct"
            )
            docker_cli.start(IMAGE, "sh", "-c", f"{io}; sleep 600", name=names["io"])
            docker_cli.start(IMAGE, "sh", "-c", "exit 3", name=names["exited"])
            docker_cli.start("--memory", "16m", "--memory-swap", "16m", IMAGE,
                             "tail", "/dev/zero", name=names["oom"])  # fmt: skip
            docker_cli.start("--restart", "on-failure:3", IMAGE, "sh", "-c", "sleep 1; exit 1",
                             name=names["restart"])  # fmt: skip
            ours = "|".join(names.values())
            wait_for(base, f'watchdog_container_oom_killed{{name="{names["oom"]}"}} == 1')
            wait_for(base, f'watchdog_container_exit_code{{name="{names["exited"]}"}} == 3')
            wait_for(base, f'watchdog_container_restarts{{name="{names["restart"]}"}} >= 2')
            # the writable layer's size: Docker reports none for a container that wrote
            # nothing (the busy loop), so the io container's series is the one to wait for
            wait_for(base, f'container_fs_usage_bytes{{name="{names["io"]}"}}')
            # rates over the 1 m test window need a few scrapes of the busy container
            wait_for(base, f'rate(container_cpu_usage_seconds_total{{name="{names["busy"]}"}}[1m])')
            time.sleep(3)
            missing = unanswered(
                lambda expr: instant(base, expr), [agent], {"container": ours, "project": ".*"}
            )
            busy = instant(base, f'watchdog_container_info{{name="{names["busy"]}"}}')
    finally:
        serve.kill()
    assert busy and busy[0]["metric"]["label_com_docker_compose_project"] == project
    unexpected = [line for line in missing if not any(f in line for f in NOT_HERE)]
    assert unexpected == [], "\n".join(unexpected)
    # and unanswered() does report a query that answers nothing: lo is all they have
    assert any("container_network_receive_bytes_total" in line for line in missing), missing
