"""A running agent is used only when it watches the engine the command reads (issue 14).

Two real engines: the shared one and a private dockerd of this module's own; one agent
(``watchdog-agent serve`` on a free port) watching the private one. With ``DOCKER_HOST``
naming the shared engine, ``events --since/--until`` must return what ``docker events``
returns there and say on stderr that the agent was passed over; with ``DOCKER_HOST``
naming the private engine, the agent answers (a counting relay in front of it shows the
request reaching it).
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
import urllib.request
from collections.abc import Iterator

import pytest
from helpers.agentcli import agent
from helpers.dockercli import IMAGE, TEST_LABEL, DockerCLI, unique_name
from helpers.privateengine import PrivateEngine, started_engine
from helpers.serveproc import ServeProcess
from helpers.serving import until

from watchdog_agent.commands.agentlink import AgentOptions, Engine, choose, engine_of
from watchdog_agent.events.timeparse import to_docker_since

pytestmark = pytest.mark.engine


@pytest.fixture(scope="module")
def other_engine() -> Iterator[PrivateEngine]:
    with started_engine() as eng:
        yield eng


@pytest.fixture(scope="module")
def other_agent(
    other_engine: PrivateEngine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The URL of an agent watching the private engine."""
    journal = tmp_path_factory.mktemp("other-agent") / "events.db"
    serve = ServeProcess("--journal", str(journal), docker_host=other_engine.host)
    try:
        yield serve.wait_url()
    finally:
        serve.kill()


class Relay(socketserver.ThreadingTCPServer):
    """Loopback TCP relay to the agent that records each request line it passes on."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, target: str) -> None:
        host, _, port = target.removeprefix("http://").rpartition(":")
        self.target = (host, int(port))
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), _RelayHandler)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _RelayHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        relay = self.server
        assert isinstance(relay, Relay)
        client: socket.socket = self.request
        client.settimeout(30)
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 65536:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        relay.requests.append(head.split(b"\r\n", 1)[0].decode("latin-1"))
        with socket.create_connection(relay.target, timeout=30) as upstream:
            upstream.sendall(head)
            while chunk := upstream.recv(65536):  # HTTP/1.0: the agent closes at the end
                client.sendall(chunk)


def _run_true(run: DockerCLI | PrivateEngine, name: str) -> None:
    """A container named ``name`` that exits at once, waited for."""
    if isinstance(run, DockerCLI):
        run.run("wait", run.start(IMAGE, "true", name=name))
    else:
        run.docker("run", "--name", name, "--network", "none", "--label", TEST_LABEL,
                   "--label", run.session_label, IMAGE, "true")  # fmt: skip


def _docker_events(run: DockerCLI | PrivateEngine, flags: list[str]) -> list[str]:
    args = ("events", *flags, "--format", "{{json .}}")
    if isinstance(run, DockerCLI):
        lines = run.run(*args).splitlines()
    else:
        lines = run.docker(*args).stdout.decode().splitlines()
    assert [line for line in lines if '"start"' in line], lines
    return lines


def _agent_has(url: str, flags: list[str]) -> bool:
    """The agent's journal holds the window's events (its tap has stored them)."""
    query = "&".join(f"{k.lstrip('-')}={v}" for k, v in zip(flags[::2], flags[1::2], strict=True))
    with urllib.request.urlopen(f"{url}/api/v1/events?{query}", timeout=10) as resp:
        return b'"start"' in resp.read()


async def test_an_agent_on_another_engine_is_passed_over(
    other_agent: str, other_engine: PrivateEngine, docker_cli: DockerCLI, docker_host: str
) -> None:
    name = unique_name("two-engines")
    since = to_docker_since(time.time_ns())
    _run_true(other_engine, name)  # what the agent would answer: the same name, elsewhere
    _run_true(docker_cli, name)
    window = ["--since", since, "--until", to_docker_since(time.time_ns())]
    flags = [*window, "--filter", f"container={name}"]
    expected = _docker_events(docker_cli, flags)
    assert _docker_events(other_engine, flags) != expected
    await until(lambda: _agent_has(other_agent, flags), timeout=15)  # it could answer

    proc = agent("events", *flags, "--format", "json", docker_host=docker_host,
                 env={"WATCHDOG_AGENT_URL": other_agent})  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == expected
    assert f"the agent at {other_agent} watches another engine" in proc.stderr
    assert f"reading Docker at {docker_host}" in proc.stderr


async def test_an_agent_on_the_same_engine_answers(
    other_agent: str, other_engine: PrivateEngine
) -> None:
    relay = Relay(other_agent)
    try:
        name = unique_name("same-engine")
        since = to_docker_since(time.time_ns())
        _run_true(other_engine, name)
        window = ["--since", since, "--until", to_docker_since(time.time_ns())]
        flags = [*window, "--filter", f"container={name}"]
        expected = _docker_events(other_engine, flags)
        await until(lambda: _agent_has(other_agent, flags), timeout=15)
        proc = agent("events", *flags, "--format", "json", docker_host=other_engine.host,
                     env={"WATCHDOG_AGENT_URL": relay.url})  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines() == expected
        assert proc.stderr == ""
        assert [r.split(" ")[1].split("?")[0] for r in relay.requests] == [
            "/api/v1/info", "/api/v1/events"
        ]  # fmt: skip
    finally:
        relay.stop()


async def test_choose_compares_the_engines(
    other_agent: str, other_engine: PrivateEngine, docker_host: str, docker_cli: DockerCLI
) -> None:
    ident, root = docker_cli.run("info", "--format", "{{.ID}} {{.DockerRootDir}}").split()
    shared = await engine_of(docker_host)
    assert shared == Engine(ident, root)
    notes: list[str] = []
    found = AgentOptions(other_agent)  # found by default: checked
    assert await choose(docker_host, found, notes.append) is None
    assert len(notes) == 1 and "watches another engine" in notes[0]

    notes.clear()
    link = await choose(other_engine.host, found, notes.append)
    assert link is not None and link.engine == await engine_of(other_engine.host)
    assert link.engine != shared and notes == []

    named = AgentOptions(other_agent, explicit=True)  # named with --agent: used, with a word
    assert await choose(docker_host, named, notes.append) is not None
    assert len(notes) == 1 and "using it as --agent asks" in notes[0]

    notes.clear()  # no Docker at all: the agent is the only source, and it says so
    assert await choose("unix:///nonexistent/docker.sock", found, notes.append) is not None
    assert len(notes) == 1 and notes[0].startswith("no Docker engine answers at unix:///nonex")

    notes.clear()  # named, and no Docker to compare it with: used without a word
    assert await choose("unix:///nonexistent/docker.sock", named, notes.append) is not None
    assert notes == []

    notes.clear()  # nothing listens: Docker, silently
    assert await choose(docker_host, AgentOptions("http://127.0.0.1:1"), notes.append) is None
    assert await choose(docker_host, AgentOptions(None), notes.append) is None
    assert notes == []
