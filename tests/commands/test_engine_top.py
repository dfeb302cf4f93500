"""`watchdog-agent top` against the real test engine, next to `docker top`.

The agent runs as users run it: the installed console script, as a subprocess, with
``--docker-host`` pointing at the test engine. One test runs ``cli.main`` in-process.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers.agentcli import AGENT_ENV, agent
from helpers.dockercli import IMAGE, DockerCLI, unique_name

from watchdog_agent.cli import main

engine = pytest.mark.engine

TWO_SLEEPS = "sleep 100000 & sleep 100000 & wait"


# --- helpers -------------------------------------------------------------------------


def top(docker_host: str, ident: str, fmt: str, *flags: str) -> tuple[int, str, str]:
    """``watchdog-agent top IDENT --format FMT``: (exit code, stdout, stderr)."""
    proc = agent("top", ident, "--format", fmt, "--docker-host", docker_host, *flags)
    return proc.returncode, proc.stdout, proc.stderr


def top_json(docker_host: str, ident: str, *flags: str) -> list[dict[str, Any]]:
    rc, out, err = top(docker_host, ident, "json", *flags)
    assert rc == 0, err
    procs = json.loads(out)
    assert isinstance(procs, list)
    return procs


def docker_top(docker_cli: DockerCLI, name: str) -> dict[int, tuple[int, str]]:
    """``docker top NAME -eo pid,ppid,args``: host pid -> (host ppid, args)."""
    out = docker_cli.run("top", name, "-eo", "pid,ppid,args")
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["PID", "PPID"], out
    rows: dict[int, tuple[int, str]] = {}
    for line in lines[1:]:
        pid, ppid, args = line.split(None, 2)
        rows[int(pid)] = (int(ppid), args)
    return rows


def wait_for(what: str, check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from walk(node["children"])


# --- fixtures ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sleeper(docker_cli: DockerCLI) -> Iterator[tuple[str, str]]:
    """(name, id) of ``sh -c 'sleep & sleep & wait'``, once both sleeps run."""
    name = unique_name("wd-top")
    cid = docker_cli.start(IMAGE, "sh", "-c", TWO_SLEEPS, name=name)
    try:
        wait_for("the shell and two sleeps", lambda: len(docker_top(docker_cli, name)) == 3)
        yield name, cid
    finally:
        docker_cli.rm(cid)


# --- tests ---------------------------------------------------------------------------


@engine
def test_top_lists_the_pids_docker_top_lists(
    docker_cli: DockerCLI,
    docker_host: str,
    sleeper: tuple[str, str],
) -> None:
    name, cid = sleeper
    procs = top_json(docker_host, name)
    theirs = docker_top(docker_cli, name)
    assert {p["pid"] for p in procs} == set(theirs)
    assert len(procs) == 3
    assert {p["pid"]: p["ppid"] for p in procs} == {pid: pp for pid, (pp, _) in theirs.items()}
    # a unique id prefix finds the same container
    assert {p["pid"] for p in top_json(docker_host, cid[:12])} == set(theirs)


@engine
def test_init_and_parent_links(
    docker_cli: DockerCLI,
    docker_host: str,
    sleeper: tuple[str, str],
) -> None:
    name, _ = sleeper
    procs = top_json(docker_host, name)
    (init,) = [p for p in procs if p["ns_pid"] == 1]
    assert init["pid"] == docker_cli.inspect(name)["State"]["Pid"]
    assert init["cmd"] == f"sh -c {TWO_SLEEPS}"
    assert init["ns_ppid"] == 0  # its parent (the shim) is outside the namespace
    others = [p for p in procs if p is not init]
    assert len(others) == 2
    for p in others:
        assert p["cmd"] == "sleep 100000"
        assert p["ppid"] == init["pid"]
        assert p["ns_ppid"] == 1
        assert isinstance(p["ns_pid"], int) and p["ns_pid"] > 1
    for p in procs:
        assert p["user"] == "root" and p["uid"] == 0
        assert p["state"] in {"S", "R"} and p["threads"] == 1
        assert p["rss_bytes"] > 0 and p["cpu_seconds"] >= 0
        assert p["cpu_percent"] is not None and p["cpu_percent"] >= 0
        assert p["started_at"].endswith("Z")


@engine
def test_exec_process_has_own_ns_pid_and_parent_outside(
    docker_cli: DockerCLI, docker_host: str
) -> None:
    name = unique_name("wd-top-exec")
    cid = docker_cli.start(IMAGE, "sleep", "100000", name=name)
    try:
        docker_cli.run("exec", "-d", name, "sleep", "12345")
        found: list[dict[str, Any]] = []

        def exec_seen() -> bool:
            found[:] = [p for p in top_json(docker_host, name) if "sleep 12345" in p["cmd"]]
            return bool(found)

        wait_for("the exec'd sleep", exec_seen)
        theirs = docker_top(docker_cli, name)
    finally:
        docker_cli.rm(cid)
    (proc,) = found
    assert proc["ns_pid"] is not None and proc["ns_pid"] != 1
    assert proc["ns_ppid"] == 0  # started by the runtime, not by the container's init
    assert proc["pid"] in theirs and "sleep 12345" in theirs[proc["pid"]][1]


@engine
def test_tree_json_nests_the_sleeps_under_init(
    docker_cli: DockerCLI, docker_host: str, sleeper: tuple[str, str]
) -> None:
    name, _ = sleeper
    rc, out, err = top(docker_host, name, "tree-json")
    assert rc == 0, err
    roots = json.loads(out)
    assert len(roots) == 1
    (init,) = roots
    assert init["ns_pid"] == 1 and init["ns_ppid"] == 0
    kids = init["children"]
    assert [k["cmd"] for k in kids] == ["sleep 100000", "sleep 100000"]
    assert all(k["ppid"] == init["pid"] and k["ns_ppid"] == 1 for k in kids)
    assert all(k["children"] == [] for k in kids)
    flat = {p["pid"] for p in top_json(docker_host, name)}
    assert {n["pid"] for n in walk(roots)} == flat


@pytest.mark.parametrize("fmt", ["tree", "table"])
@engine
def test_text_formats_show_pid_and_nspid(
    docker_cli: DockerCLI, docker_host: str, sleeper: tuple[str, str], fmt: str
) -> None:
    name, _ = sleeper
    rc, out, err = top(docker_host, name, fmt)
    assert rc == 0, err
    lines = out.rstrip("\n").splitlines()
    header = lines[0].split()
    assert header[:2] == ["PID", "NSPID"], lines[0]
    assert len(lines) == 5  # header, the shell, two sleeps, the footer
    assert sum("sleep 100000" in line for line in lines[1:]) == 3  # the shell's args too
    assert lines[-1] == "3 processes, 0 unreadable"
    if fmt == "tree":
        assert sum(("├─" in line or "└─" in line) for line in lines) == 2


@engine
def test_top_of_a_stopped_container_fails_clearly(docker_cli: DockerCLI, docker_host: str) -> None:
    name = unique_name("wd-top-stopped")
    cid = docker_cli.start(IMAGE, "true", name=name)
    try:
        docker_cli.run("wait", cid)
        rc, out, err = top(docker_host, name, "json")
    finally:
        docker_cli.rm(cid)
    assert rc != 0
    assert "not running" in err and name in err
    assert "Traceback" not in err
    assert out == ""


@engine
def test_top_of_an_unknown_container_fails_clearly(docker_cli: DockerCLI, docker_host: str) -> None:
    ident = unique_name("wd-no-such")
    rc, out, err = top(docker_host, ident, "json")
    assert rc != 0
    assert "no such container" in err and ident in err
    assert out == ""


@engine
def test_top_without_docker_by_id_prefix(
    docker_cli: DockerCLI,
    docker_host: str,
    sleeper: tuple[str, str],
) -> None:
    name, cid = sleeper
    procs = top_json(docker_host, cid[:12], "--no-docker")
    assert {p["pid"] for p in procs} == set(docker_top(docker_cli, name))
    assert sorted(p["ns_pid"] for p in procs)[0] == 1


@engine
def test_bug_top_stdout_bound_at_import(
    monkeypatch: pytest.MonkeyPatch,
    docker_cli: DockerCLI,
    docker_host: str,
    sleeper: tuple[str, str],
) -> None:
    """commands.top.run_top's ``out: TextIO = sys.stdout`` default is evaluated when the module
    is imported, so in-process callers of ``cli.main`` (capsys, redirect_stdout) lose the
    output of every call after the first stdout swap: it goes to the stream that was
    sys.stdout at import time (a closed capsys buffer raises "I/O operation on closed
    file")."""
    for key in AGENT_ENV:
        monkeypatch.delenv(key, raising=False)
    name, _ = sleeper
    outputs = []
    for _ in range(2):  # two different sys.stdout objects, as in two tests using capsys
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            rc = main(["top", name, "--format", "json", "--docker-host", docker_host])
        assert rc == 0
        outputs.append(buf.getvalue())
    assert [len(json.loads(out)) if out else None for out in outputs] == [3, 3]
