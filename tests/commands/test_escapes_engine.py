"""Terminal escapes from inside containers, against the real engine.

A container whose shell has ``ESC ] 0 ; pwned BEL ESC [ 2 J`` (set the terminal title,
clear the screen) as its ``$0``, a label holding the same bytes, and an exec whose
command holds them (Docker puts it in the ``exec_create``/``exec_start`` action). Text
output of ``top`` (table and tree), ``stats`` and ``events`` (text line and a template)
must show them escaped (``\\x1b``) and carry no raw byte 0x1b or 0x07; the JSON forms
(``--format json``, ``tree-json``, the HTTP API) must hold the exact characters.
Failure messages show the raw bytes with ``od -c`` next to the escaped text.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from helpers.agentcli import AGENT, Following, agent_env
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serving import serving

from watchdog_agent.config import Settings
from watchdog_agent.events.timeparse import to_docker_since

pytestmark = pytest.mark.engine

PWN = "\x1b]0;pwned\x07\x1b[2J"
PWN_SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J"
SCRIPT = "sleep 600 & wait"
SHELL_CMD = f"sh -c {SCRIPT} {PWN}"  # /proc/<pid>/cmdline, joined as `top` shows it
EXEC_ACTION = f"exec_start: sh -c true {PWN}"
LABEL = f"v{PWN}"
RAW_BYTES = (b"\x1b", b"\x07", b"\xc2\x9b")  # ESC, BEL, C1 CSI in UTF-8


def od(data: bytes, max_lines: int = 24) -> str:
    """``od -c`` of ``data``, as a person would look at it (first ``max_lines`` lines)."""
    out = subprocess.run(["od", "-c"], input=data, capture_output=True, check=True, timeout=10)
    lines = out.stdout.decode().splitlines()
    more = [f"... ({len(lines) - max_lines} more lines)"] if len(lines) > max_lines else []
    return "\n".join(lines[:max_lines] + more)


def run_agent(host: str, *args: str) -> bytes:
    """``watchdog-agent ARGS --docker-host HOST``: its stdout as bytes (exit 0 required)."""
    argv = [AGENT, *args, "--docker-host", host]
    proc = subprocess.run(argv, env=agent_env(), capture_output=True, timeout=60)
    assert proc.returncode == 0, f"watchdog-agent {args} exited {proc.returncode}: {proc.stderr!r}"
    return proc.stdout


def shown_not_obeyed(out: bytes, expected: str, raw: str, what: str) -> None:
    """``out`` (text output) has no raw control byte and shows ``expected`` on a line;
    ``raw`` is what the container put there, shown with ``od -c`` on failure."""
    found = [b for b in RAW_BYTES if b in out]
    assert not found, f"{what}: raw control bytes {found} in stdout; od -c:\n{od(out)}"
    lines = [line for line in out.decode().splitlines() if expected in line]
    assert lines, (
        f"{what}: no line shows {expected!r}\n--- stdout:\n{out.decode()}\n"
        f"--- od -c of the raw text from the container:\n{od(raw.encode())}"
    )


class Evil(NamedTuple):
    host: str
    name: str
    id: str
    journal: str  # what a live `events --journal` recorded around the exec with PWN
    since: str
    until: str
    live: list[dict[str, Any]]  # that follower's --format json lines, decoded


def wait(what: str, check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def evil(
    docker_cli: DockerCLI, docker_host: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Evil]:
    """The container (its shell's $0 and a label hold PWN), after one exec with PWN.

    Its events are recorded by a live ``events --journal`` and replayed from there:
    Docker's own buffer (256 events) holds only seconds of a busy shared engine."""
    name = unique_name("wd-esc")
    journal = str(tmp_path_factory.mktemp("esc") / "events.db")
    cid = docker_cli.start("--label", f"wdevil={LABEL}", IMAGE, "sh", "-c", SCRIPT, PWN, name=name)
    try:
        wait("the shell's sleep", lambda: len(json.loads(top(docker_host, cid, "json"))) == 2)
        argv = [AGENT, "events", "--journal", journal, "--format", "json",
                "--filter", f"container={cid}", "--docker-host", docker_host]  # fmt: skip
        tail = Following(argv, docker_host)

        def subscribed() -> bool:  # once a warm-up exec shows up
            docker_cli.run("exec", cid, "true")
            return bool(tail.lines)

        try:
            wait("the follower", subscribed)
            since = to_docker_since(time.time_ns())
            docker_cli.run("exec", cid, "sh", "-c", "true", PWN)
            wait("the exec", lambda: EXEC_ACTION in (json.loads(x)["Action"] for x in tail.lines))
            until = to_docker_since(time.time_ns())
        finally:
            code, err = tail.stop()
        assert code == 0, f"events --journal: SIGTERM gave exit {code}: {err}"
        live = [json.loads(x) for x in tail.lines]
        yield Evil(docker_host, name, cid, journal, since, until, live)
    finally:
        docker_cli.rm(cid)


def top(host: str, ident: str, fmt: str) -> bytes:
    return run_agent(host, "top", ident, "--format", fmt)


@pytest.mark.parametrize("fmt", ["table", "tree"])
def test_top_text_shows_argv_escaped_and_json_keeps_it(evil: Evil, fmt: str) -> None:
    out = top(evil.host, evil.id, fmt)
    shown_not_obeyed(out, f"sh -c {SCRIPT} {PWN_SHOWN}", SHELL_CMD, f"top --format {fmt}")
    flat = json.loads(top(evil.host, evil.id, "json"))
    assert SHELL_CMD in [p["cmd"] for p in flat], f"json: {flat}\n{od(SHELL_CMD.encode())}"
    (root,) = json.loads(top(evil.host, evil.id, "tree-json"))
    assert root["cmd"] == SHELL_CMD and root["children"][0]["cmd"] == "sleep 600"


def test_stats_text_has_no_raw_controls(evil: Evil) -> None:
    """Docker's name rules ([a-zA-Z0-9][a-zA-Z0-9_.-]+) keep escapes out of the names a
    real engine reports, so this guards the row; test_escaped_output covers a hostile
    name in the table."""
    out = run_agent(evil.host, "stats", "--no-stream", evil.id)
    shown_not_obeyed(out, evil.name, evil.name, "stats --no-stream")
    as_json = run_agent(evil.host, "stats", "--no-stream", "--format", "json", evil.id)
    (row,) = [json.loads(x) for x in as_json.splitlines()]
    assert row["name"] == evil.name


def events(evil: Evil, *args: str) -> bytes:
    """``events --since --until`` replayed from the fixture's journal."""
    window = ("--since", evil.since, "--until", evil.until, "--filter", f"container={evil.id}")
    return run_agent(evil.host, "events", "--journal", evil.journal, *window, *args)


def test_events_text_shows_action_and_label_escaped(evil: Evil) -> None:
    out = events(evil)
    shown_not_obeyed(out, f"exec_start: sh -c true {PWN_SHOWN} {evil.id}", EXEC_ACTION, "events")
    shown_not_obeyed(out, f"wdevil=v{PWN_SHOWN})", LABEL, "events")
    docs = [json.loads(x) for x in events(evil, "--format", "json").splitlines()]
    actions = {d["Action"] for d in docs}
    assert EXEC_ACTION in actions, f"{actions}\n{od(EXEC_ACTION.encode())}"
    assert {d["Actor"]["Attributes"]["wdevil"] for d in docs} == {LABEL}
    # the live follower's JSON lines too
    assert EXEC_ACTION in {d["Action"] for d in evil.live}, evil.live


def test_events_template_shows_values_escaped(evil: Evil) -> None:
    out = events(evil, "--format", "{{.Action}}|{{.Actor.Attributes.wdevil}}|{{json .Actor}}")
    shown_not_obeyed(out, f"exec_start: sh -c true {PWN_SHOWN}|v{PWN_SHOWN}|", EXEC_ACTION, "tpl")
    actions = []
    for line in out.decode().splitlines():
        action, label, actor = line.split("|", 2)
        actions.append(action)
        assert label == f"v{PWN_SHOWN}", line
        # {{json}} inside a template is JSON still: it decodes to the exact label
        assert json.loads(actor)["Attributes"]["wdevil"] == LABEL, f"{line}\n{od(LABEL.encode())}"
    assert f"exec_create: sh -c true {PWN_SHOWN}" in actions, actions
    assert f"exec_start: sh -c true {PWN_SHOWN}" in actions, actions


async def test_http_api_keeps_exact_characters_and_cli_from_agent_escapes(
    evil: Evil, docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    settings = Settings(docker_host=docker_host, interval=0.2, journal=str(tmp_path / "ev.db"))
    async with serving(settings) as client:
        async with client.get(f"/api/v1/containers/{evil.id}/top") as resp:
            assert resp.status == 200, await resp.text()
            procs = await resp.json()
        (root,) = procs["tree"]
        assert root["cmd"] == SHELL_CMD, f"{root['cmd']!r}\n{od(SHELL_CMD.encode())}"
        async with client.get(f"/api/v1/containers?filter=name={evil.name}") as resp:
            assert resp.status == 200, await resp.text()
            (found,) = await resp.json()
        assert found["id"] == evil.id and found["labels"]["wdevil"] == LABEL

        since = to_docker_since(time.time_ns())
        await asyncio.to_thread(docker_cli.run, "exec", evil.id, "sh", "-c", "true", PWN)
        end = to_docker_since(time.time_ns())
        query = f"/api/v1/events?since={since}&until={end}&filter=container={evil.id}"
        actions: list[str] = []

        async def journalled() -> list[str]:
            async with client.get(query) as resp:
                assert resp.status == 200, await resp.text()
                body = await resp.text()
            return [json.loads(x).get("Action", "") for x in body.splitlines() if x.strip()]

        for _ in range(100):  # the journal writes behind the bus: up to 10 s
            actions = await journalled()
            if EXEC_ACTION in actions:
                break
            await asyncio.sleep(0.1)
        assert EXEC_ACTION in actions, f"{actions}\n{od(EXEC_ACTION.encode())}"

        url = str(client.make_url("/")).rstrip("/")
        window = ("--since", since, "--until", end, "--filter", f"container={evil.id}")
        no_docker = "unix:///nonexistent/docker.sock"  # so the lines can only come from the agent
        out = await asyncio.to_thread(run_agent, no_docker, "events", "--agent", url, *window)
        shown_not_obeyed(out, f"exec_start: sh -c true {PWN_SHOWN}", EXEC_ACTION, "events --agent")
