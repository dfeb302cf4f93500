"""`stats --no-stream` and `top` through a running agent, against the real engine.

An agent (``watchdog-agent serve`` on a free loopback port, journal in tmp) watches the
test engine; with ``$WATCHDOG_AGENT_URL`` pointing at it the one-shot commands print its
latest sample instead of sampling on their own, and ``--agent none`` samples here again.
Proof that the agent answered: the row equals, value for value, the stats object the
API served for the same ``sampled_at``; ``top`` answers while the Docker address given
does not (only the agent can then name the container).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.agentcli import agent, agent_env
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess

from watchdog_agent.commands.textfmt import STATS_HEADERS, percent

pytestmark = pytest.mark.engine
LOOP = ("sh", "-c", "while :; do :; done")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def served(docker_host: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The agent's base URL (samples every second, as by default)."""
    journal = tmp_path_factory.mktemp("agent") / "events.db"
    serve = ServeProcess("--journal", str(journal), "--interval", "1", docker_host=docker_host)
    try:
        yield serve.wait_url()
    finally:
        serve.kill()


@pytest.fixture(scope="module")
def loop(docker_cli: DockerCLI, served: str) -> Iterator[dict[str, str]]:
    """A --cpus 0.5 busy loop and a stopped container, both with one name prefix; waits
    until the agent has a CPU % of the loop (two samples)."""
    prefix = unique_name("wd-agr")
    names = {"busy": f"{prefix}-busy", "stopped": f"{prefix}-stopped", "prefix": prefix}
    busy = docker_cli.start("--cpus", "0.5", IMAGE, *LOOP, name=names["busy"])
    stopped = docker_cli.start(IMAGE, "true", name=names["stopped"])
    try:
        assert docker_cli.run("wait", stopped).strip() == "0"
        deadline = time.monotonic() + 30
        while _api_stats(served, names["busy"]).get("cpu_percent") is None:
            assert time.monotonic() < deadline, "the agent has no CPU % of the loop"
            time.sleep(0.2)
        time.sleep(1.5)  # a whole sample interval under the quota
        yield names
    finally:
        docker_cli.rm(busy, stopped)


def _api_stats(url: str, name: str) -> dict[str, Any]:
    """The stats object of ``name`` in the agent's ``GET /api/v1/containers`` ({} none)."""
    for doc in _get(f"{url}/api/v1/containers"):
        if doc["name"] == name:
            return dict(doc["stats"] or {})
    return {}


def _through_agent(url: str, name: str, docker_host: str, *args: str) -> tuple[Any, list[Any]]:
    """Run ``stats --no-stream NAME ARGS`` with $WATCHDOG_AGENT_URL set, between two reads
    of the API: (stdout, the API's stats objects read before and after)."""
    before = _api_stats(url, name)
    proc = agent("stats", "--no-stream", *args, name, docker_host=docker_host,
                 env={"WATCHDOG_AGENT_URL": url})  # fmt: skip
    after = _api_stats(url, name)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return proc.stdout, [before, after]


def test_stats_json_is_the_agents_latest_sample(
    served: str, loop: dict[str, str], docker_host: str
) -> None:
    for _ in range(5):  # a sample may land between the two reads of the API: read again
        out, api = _through_agent(served, loop["busy"], docker_host, "--format", "json")
        rows = [json.loads(line) for line in out.splitlines()]
        assert len(rows) == 1 and rows[0]["name"] == loop["busy"], out
        same = [doc for doc in api if doc["sampled_at"] == rows[0]["sampled_at"]]
        if same:
            break
    else:
        pytest.fail(f"no sample of the API's is the command's: {rows} {api}")
    assert rows[0] == same[0]  # every value, exactly as served
    assert 47 <= rows[0]["cpu_percent"] <= 53, rows[0]
    assert json.dumps(rows[0]) + "\n" == out  # the API's floats, unrounded


def test_stats_table_shows_the_agents_numbers(
    served: str, loop: dict[str, str], docker_host: str
) -> None:
    out, api = _through_agent(served, loop["busy"], docker_host)
    header, row = out.splitlines()
    assert re.split(r" {3,}", header) == list(STATS_HEADERS)
    cells = row.split()
    assert cells[1] == loop["busy"]
    assert cells[2] in {percent(doc["cpu_percent"]) for doc in api}, (row, api)


def test_without_the_agent_the_command_samples_on_its_own(
    served: str, loop: dict[str, str], docker_host: str
) -> None:
    env = {"WATCHDOG_AGENT_URL": served}
    before = _api_stats(served, loop["busy"])
    proc = agent("stats", "--no-stream", "--format", "json", "--agent", "none", loop["busy"],
                 docker_host=docker_host, env=env)  # fmt: skip
    after = _api_stats(served, loop["busy"])
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    (row,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert row["sampled_at"] not in {before["sampled_at"], after["sampled_at"]}
    assert 47 <= row["cpu_percent"] <= 53, row
    assert list(row) == list(before)  # the same fields, in the same order


def test_all_with_a_filter_lists_what_docker_lists(
    served: str, loop: dict[str, str], docker_host: str
) -> None:
    """-a with a name filter: the running and the stopped container, newest first (as
    Docker orders them), with the same fields from either source; a stopped container's
    numbers are gaps."""
    args = ["stats", "--no-stream", "--format", "json", "-a", "--filter",
            f"name={loop['prefix']}"]  # fmt: skip
    env = {"WATCHDOG_AGENT_URL": served}
    here = agent(*args, "--agent", "none", docker_host=docker_host, env=env)
    there = agent(*args, docker_host=docker_host, env=env)
    assert here.returncode == 0 and there.returncode == 0, here.stderr + there.stderr
    assert there.stderr == ""
    ours = [json.loads(line) for line in here.stdout.splitlines()]
    agents = [json.loads(line) for line in there.stdout.splitlines()]
    assert [r["name"] for r in agents] == [r["name"] for r in ours]
    assert [r["name"] for r in agents] == [loop["stopped"], loop["busy"]]
    assert [list(r) for r in agents] == [list(r) for r in ours]
    stopped = agents[0]
    assert stopped["cpu_percent"] is None and stopped["memory_usage_bytes"] is None
    assert stopped["psi"] == {"cpu": None, "memory": None, "io": None}
    table = agent(*args[:2], "-a", "--filter", f"name={loop['prefix']}", docker_host=docker_host,
                  env=env)  # fmt: skip
    lines = table.stdout.splitlines()
    assert len(lines) == 3 and lines[1].split()[1:3] == [loop["stopped"], "-"], lines


def test_top_comes_from_the_agent(served: str, loop: dict[str, str], docker_host: str) -> None:
    env = {"WATCHDOG_AGENT_URL": served}
    proc = agent("top", "--format", "json", loop["busy"], docker_host=docker_host, env=env)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    (process,) = json.loads(proc.stdout)
    assert process["cmd"] == " ".join(LOOP) and process["ns_pid"] == 1
    assert 40 <= process["cpu_percent"] <= 60, process
    api = _get(f"{served}/api/v1/containers/{loop['busy']}/top")
    assert (
        list(process) == list(api["processes"][0]) and process["pid"] == api["processes"][0]["pid"]
    )

    # only the agent can name the container when the Docker address given does not answer
    nowhere = ["--docker-host", "unix:///tmp/wd-agr-nowhere.sock"]
    for fmt in ("json", "tree-json", "table", "tree"):
        via = agent("top", "--format", fmt, "--agent", served, *nowhere, loop["busy"],
                    docker_host=docker_host)  # fmt: skip
        assert via.returncode == 0 and via.stderr == "", via.stderr
        assert str(process["pid"]) in via.stdout and "while :; do :; done" in via.stdout
    tree = agent("top", "--format", "tree-json", "--agent", served, *nowhere, loop["busy"],
                 docker_host=docker_host)  # fmt: skip
    assert json.loads(tree.stdout)[0]["children"] == []
    alone = agent("top", "--agent", "none", *nowhere, loop["busy"], docker_host=docker_host)
    assert alone.returncode == 1 and "wd-agr-nowhere.sock" in alone.stderr

    # the same table from either source, the moving cells (STATE, %CPU) aside
    here = agent("top", "--agent", "none", loop["busy"], docker_host=docker_host)
    there = agent("top", loop["busy"], docker_host=docker_host, env=env)
    assert here.returncode == 0 and there.returncode == 0, here.stderr + there.stderr
    assert _steady_cells(there.stdout) == _steady_cells(here.stdout)


def _steady_cells(table: str) -> list[list[str]]:
    return [
        [c for i, c in enumerate(line.split()) if i not in (4, 6)] for line in table.splitlines()
    ]


def test_top_of_a_stopped_container_says_so_through_the_agent(
    served: str, loop: dict[str, str], docker_host: str
) -> None:
    env = {"WATCHDOG_AGENT_URL": served}
    for source in ([], ["--agent", "none"]):
        proc = agent("top", *source, loop["stopped"], docker_host=docker_host, env=env)
        assert proc.returncode == 1, proc.stdout
        assert proc.stderr.strip() == f"watchdog-agent: container is not running: {loop['stopped']}"
    missing = agent("top", "wd-agr-no-such-x", docker_host=docker_host, env=env)
    assert missing.returncode == 1 and "no such container: wd-agr-no-such-x" in missing.stderr


def test_stats_with_a_token_protected_agent(
    docker_host: str, loop: dict[str, str], tmp_path: Path
) -> None:
    """An agent that wants a token: with --agent-token-file its sample, without it a note
    and a sample taken here."""
    token = tmp_path / "token"
    token.write_text("s3cret-token-agr\n")
    journal = tmp_path / "events.db"
    serve = ServeProcess("--journal", str(journal), "--auth-token-file", str(token),
                         docker_host=docker_host)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while serve.said("serving") is None and serve.proc.poll() is None:
            assert time.monotonic() < deadline, serve.logs
            time.sleep(0.05)
        entry = serve.said("serving")
        assert entry is not None, serve.logs
        env = {"WATCHDOG_AGENT_URL": f"http://{entry['addresses'][0]}"}
        args = ["stats", "--no-stream", "--format", "json", loop["busy"]]
        denied = agent(*args, docker_host=docker_host, env=env)
        assert denied.returncode == 0 and "answered 401" in denied.stderr, denied.stderr
        assert "sampling here" in denied.stderr and "s3cret" not in denied.stderr
        allowed = agent(*args, "--agent-token-file", str(token), docker_host=docker_host, env=env)
        assert allowed.returncode == 0 and allowed.stderr == "", allowed.stderr
        assert json.loads(allowed.stdout)["name"] == loop["busy"]
    finally:
        serve.kill()


def test_the_one_shot_commands_never_import_the_logging_setup(
    served: str, loop: dict[str, str], docker_host: str
) -> None:
    """stats and top skip structlog's import and set-up (cli.QUIET_COMMANDS): nothing on
    their paths, through the agent or not, may log (unconfigured, a log line would go to
    stdout, into their data)."""
    script = (
        "import sys\nfrom watchdog_agent.cli import main\n"
        f"for argv in {QUIET_ARGV!r}:\n"
        f"    assert main([*argv, '--docker-host', {docker_host!r}, {loop['busy']!r}]) == 0\n"
        "print('structlog' in sys.modules, file=sys.stderr)\n"
    )
    env = {**agent_env(docker_host), "WATCHDOG_AGENT_URL": served}
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0 and proc.stderr == "False\n", proc.stderr
    assert proc.stdout.count(loop["busy"]) == len(QUIET_ARGV) - 2, proc.stdout  # top: no names


QUIET_ARGV = [
    ["stats", "--no-stream"],
    ["stats", "--no-stream", "--agent", "none"],
    ["top"],
    ["top", "--agent", "none"],
]
