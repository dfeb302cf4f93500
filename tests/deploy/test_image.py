"""The agent's container image, built from deploy/Dockerfile (the session's ``agent_image``)
and run here with exactly the ``docker run`` line of docs/deploy.md ("As a container").

The test substitutes only what it must on a shared test engine: the container's and the
volume's names (other runs use the engine at the same time), the image (the tag built
here), the socket's host path and group (the test engine's socket, not
/var/run/docker.sock) and the listen address (9338 is reserved for real agents; a
loopback address, as tests never serve on other interfaces). The agent inside must then
see the host's containers the test starts, with the right numbers, their processes with
host and in-container PIDs, and their events.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

import pytest
from helpers.dockercli import IMAGE, TEST_LABEL, DockerCLI, unique_name
from helpers.dstats import free_port

from watchdog_agent import __version__

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"
SECTION = "## As a container"
MIB = 1024 * 1024
T = TypeVar("T")


def documented_run_line() -> list[str]:
    """The ``docker run`` line of the section's own fenced block, as argv."""
    text = DOC.read_text()
    start = text.index(SECTION + "\n")
    end = text.find("\n## ", start + len(SECTION))
    section = text[start : end if end >= 0 else len(text)]
    blocks = re.findall(r"^```\w*\n(.*?)^```$", section, re.MULTILINE | re.DOTALL)
    runs = [b for b in blocks if b.startswith("docker run ")]
    assert len(runs) == 1, f"{DOC}: expected one ```docker run``` block in {SECTION!r}"
    return shlex.split(runs[0].replace("\\\n", " "))


def replace_one(argv: list[str], old: str, new: str) -> None:
    """Replace the one argument ``old``; fails when the doc no longer has it."""
    assert argv.count(old) == 1, f"the documented run line has no single {old!r}: {argv}"
    argv[argv.index(old)] = new


def value_of(argv: list[str], flag: str, startswith: str = "") -> str:
    """The value of the one ``flag VALUE`` pair whose value starts with ``startswith``."""
    found = [v for f, v in pairwise(argv) if f == flag and v.startswith(startswith)]
    assert len(found) == 1, f"the documented run line has no single {flag} {startswith}...: {argv}"
    return found[0]


def socket_path(docker_host: str) -> str:
    assert docker_host.startswith("unix://"), (
        f"the test engine must be a unix socket: {docker_host}"
    )
    return docker_host.removeprefix("unix://")


def get(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body = resp.read()
    ctype = resp.headers.get("Content-Type", "")
    if "ndjson" in ctype:
        return [json.loads(line) for line in body.splitlines() if line.strip()]
    return json.loads(body)


def poll(read: Callable[[], T], ok: Callable[[T], bool], what: str, tries: int = 60,
         step: float = 1.0) -> T:  # fmt: skip
    """``read()`` until ``ok``, at most ``tries`` times; fails with every reading."""
    seen: list[T] = []
    for _ in range(tries):
        value = read()
        if ok(value):
            return value
        seen.append(value)
        time.sleep(step)
    pytest.fail(f"{what}: not seen in {tries} reads; read {seen[-5:]}", pytrace=False)


@dataclass
class RunningAgent:
    cid: str
    url: str
    argv: list[str]  # the docker run line as run
    started: float  # unix time the agent answered


@pytest.fixture(scope="module")
def agent(docker_cli: DockerCLI, agent_image: str) -> Iterator[RunningAgent]:
    """The image run with the documented line, answering on a loopback port."""
    doc = documented_run_line()
    assert doc[:3] == ["docker", "run", "-d"], doc
    argv = doc[3:]
    sock = socket_path(docker_cli.host)
    port = free_port()
    volume = unique_name("wd-agent-journal")
    name = unique_name("wd-agent")
    replace_one(argv, value_of(argv, "--name"), name)
    replace_one(argv, "$(stat -c %g /var/run/docker.sock)", str(os.stat(sock).st_gid))
    replace_one(
        argv, "/var/run/docker.sock:/var/run/docker.sock:ro", f"{sock}:/var/run/docker.sock:ro"
    )
    journal = value_of(argv, "-v", "watchdog-agent:")
    replace_one(argv, journal, journal.replace("watchdog-agent:", f"{volume}:", 1))
    replace_one(argv, value_of(argv, "-e", "WATCHDOG_LISTEN="), f"WATCHDOG_LISTEN=127.0.0.1:{port}")
    replace_one(argv, "watchdog-agent:0.1.0", agent_image)
    assert "--network" in argv and value_of(argv, "--network") == "host", argv
    docker_cli.run("volume", "create", "--label", TEST_LABEL, volume)
    cid = ""
    try:
        cid = docker_cli.start(*argv)
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            try:
                return bool(get(url + "/readyz", timeout=2)["status"] == "ready")
            except (OSError, ValueError):
                state = docker_cli.inspect(cid)["State"]
                if not state["Running"]:
                    logs = docker_cli.run("logs", cid, check=False)
                    pytest.fail(f"the agent container exited {state['ExitCode']}:\n{logs}")
                return False

        poll(ready, bool, f"the agent's /readyz on {url}", tries=120, step=0.5)
        yield RunningAgent(cid, url, argv, time.time())
    finally:
        if cid:
            docker_cli.rm(cid)
        docker_cli.run("volume", "rm", "-f", volume, check=False)


@pytest.fixture(scope="module")
def busy(docker_cli: DockerCLI, agent: RunningAgent) -> str:
    """A ``--cpus 0.5`` busy loop holding 32 MiB in /dev/shm, with one child process."""
    return docker_cli.start(
        "--cpus", "0.5", "--memory", "256m", IMAGE, "sh", "-c",
        "dd if=/dev/zero of=/dev/shm/fill bs=1M count=32 2>/dev/null; "
        "sleep 3600 & while :; do :; done",
        name=unique_name("wd-image-busy"),
    )  # fmt: skip


def test_image_runs_its_command(docker_cli: DockerCLI, agent_image: str) -> None:
    """ENTRYPOINT watchdog-agent: `IMAGE --version` and `IMAGE serve --help` work."""
    out = docker_cli.run("run", "--rm", "--network", "none", agent_image, "--version")
    assert out.strip() == f"watchdog-agent {__version__}"
    out = docker_cli.run("run", "--rm", "--network", "none", agent_image, "serve", "--help")
    assert "--proc-root" in out and "--cgroup-root" in out
    config = docker_cli.inspect(agent_image, kind="image")["Config"]
    assert config["Entrypoint"] == ["watchdog-agent"] and config["Cmd"] == ["serve"]
    assert config["User"] == "watchdog-agent:watchdog-agent"  # not root
    assert config["Labels"]["org.opencontainers.image.version"] == __version__


def test_runs_as_its_own_user_with_the_sockets_group(
    docker_cli: DockerCLI, agent: RunningAgent
) -> None:
    uids = docker_cli.run("exec", agent.cid, "id").strip()
    gid = os.stat(socket_path(docker_cli.host)).st_gid
    assert uids.startswith("uid=9338(watchdog-agent)"), uids
    assert re.search(rf"groups=.*\b{gid}\b", uids), uids


def test_sees_a_busy_loop_at_half_a_cpu(agent: RunningAgent, busy: str) -> None:
    """--cpus 0.5: about 50 % (the machine is shared: a few reads, a fair margin)."""

    def stats() -> dict[str, Any]:
        doc: dict[str, Any] = get(f"{agent.url}/api/v1/containers/{busy}")
        return doc

    doc = poll(
        stats,
        lambda d: d["stats"] is not None and 40 <= (d["stats"]["cpu_percent"] or 0) <= 60,
        "cpu_percent of the --cpus 0.5 loop within 40..60",
        tries=30,
    )
    assert doc["id"] == busy and doc["limits"]["cpus"] == 0.5
    stats_now = poll(
        lambda: get(f"{agent.url}/api/v1/containers/{busy}")["stats"],
        lambda s: (s["memory_stat"].get("shmem") or 0) >= 32 * MIB,
        "the 32 MiB in /dev/shm",
        tries=20,
    )
    assert stats_now["memory_limit_bytes"] == 256 * MIB
    assert 32 * MIB <= stats_now["memory_usage_bytes"] <= 64 * MIB
    assert stats_now["cpu_throttled_seconds_total"] > 0  # the quota bites


def host_nspids(pid: int) -> list[int]:
    """The NSpid line of the host's /proc/<pid>/status: host pid, then in-container."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return [int(p) for p in line.split()[1:]]
    raise AssertionError(f"no NSpid in /proc/{pid}/status")


def test_top_shows_host_and_container_pids(
    docker_cli: DockerCLI, agent: RunningAgent, busy: str
) -> None:
    main_pid = docker_cli.inspect(busy)["State"]["Pid"]
    top = poll(
        lambda: get(f"{agent.url}/api/v1/containers/{busy}/top"),
        lambda t: len(t["processes"]) == 2,
        "the loop and its sleep",
        tries=20,
    )
    by_ns = {p["ns_pid"]: p for p in top["processes"]}
    main = by_ns[1]
    assert main["pid"] == main_pid and main["cmd"].startswith("sh -c")
    child = next(p for p in top["processes"] if p["ns_pid"] != 1)
    assert child["cmd"] == "sleep 3600" and child["ppid"] == main_pid and child["ns_ppid"] == 1
    for proc in top["processes"]:  # the kernel's own record of both numbers
        assert host_nspids(proc["pid"]) == [proc["pid"], proc["ns_pid"]]


def test_sees_events_after_it_started(docker_cli: DockerCLI, agent: RunningAgent) -> None:
    """A container started and stopped while the agent runs: start and die."""
    since = time.time()
    cid = docker_cli.start(IMAGE, "sleep", "600", name=unique_name("wd-image-events"))
    docker_cli.run("kill", cid)

    def actions() -> list[str]:
        window = {"since": f"{since - 1:.3f}", "until": f"{time.time():.3f}"}  # history only
        query = urllib.parse.urlencode({**window, "filter": f"container={cid}"})
        items = get(f"{agent.url}/api/v1/events?{query}")
        return [i["Action"] for i in items if "Action" in i]

    seen = poll(actions, lambda a: "start" in a and "die" in a, f"start and die of {cid}", tries=10)
    assert seen.index("start") < seen.index("die")


def test_health_check_reports_healthy(docker_cli: DockerCLI, agent: RunningAgent) -> None:
    """The image's HEALTHCHECK asks /healthz where the agent listens (15 s interval)."""

    def health() -> dict[str, Any]:
        state: dict[str, Any] = docker_cli.inspect(agent.cid)["State"]["Health"]
        return state

    status = poll(health, lambda h: h["Status"] != "starting", "a health check result", tries=90)
    assert status["Status"] == "healthy", status["Log"]
