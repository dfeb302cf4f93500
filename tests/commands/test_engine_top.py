"""`watchdog-agent top` against the real test engine, next to `docker top`.

The agent runs as users run it: the installed console script, as a subprocess, with
``--docker-host`` pointing at the test engine. One test runs ``cli.main`` in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from helpers.agentcli import AGENT, AGENT_ENV, agent
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.hidepid import NOBODY, hidepid_mountpoint, run_as_nobody, unavailable
from helpers.serving import serving

from watchdog_agent.cli import main
from watchdog_agent.config import Settings

engine = pytest.mark.engine

TWO_SLEEPS = "sleep 100000 & sleep 100000 & wait"
BUSY_AND_SLEEP = "sh -c 'while :; do :; done' & sleep 100000 & wait"
CLK_TCK = os.sysconf("SC_CLK_TCK")


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
def test_busy_loop_shows_its_cpu_and_the_sleeps_none(
    docker_cli: DockerCLI, docker_host: str
) -> None:
    """The loop's %CPU against its share measured from /proc/<pid>/stat around the call
    (top's window is a fraction of that span, so a loaded machine moves both). Up to
    three tries: the share other tests leave the loop may fall between two readings."""
    name = unique_name("wd-top-busy")
    cid = docker_cli.start(IMAGE, "sh", "-c", BUSY_AND_SLEEP, name=name)
    try:
        wait_for("the loop and the sleep", lambda: len(docker_top(docker_cli, name)) == 3)
        (busy,) = [p for p, (_, args) in docker_top(docker_cli, name).items() if "while" in args
                   and not args.endswith("wait")]  # fmt: skip
        tries = []
        for _ in range(3):
            ticks0, wall0 = _cpu_ticks(busy), time.monotonic()
            procs = {p["pid"]: p for p in top_json(docker_host, name)}
            share = (_cpu_ticks(busy) - ticks0) / CLK_TCK / (time.monotonic() - wall0) * 100
            loop = procs[busy]["cpu_percent"]
            assert loop is not None, procs
            others = [p["cpu_percent"] for pid, p in procs.items() if pid != busy]
            assert len(procs) == 3 and len(others) == 2, procs  # the loop, init sh, sleep
            assert all(o is not None and o < 1.0 for o in others), procs  # asleep: ~0
            tries.append((round(loop, 1), round(share, 1)))
            if max(1.0, share / 3) <= loop <= 105.0:  # one thread: at most one core
                print(f"loop %CPU, its /proc share: {tries}")
                break
        else:
            pytest.fail(f"loop %CPU vs /proc share in three tries: {tries}")
    finally:
        docker_cli.rm(cid)


def _cpu_ticks(pid: int) -> int:
    """utime + stime of /proc/<pid>/stat, in clock ticks."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        fields = fh.read().rpartition(b")")[2].split()
    return int(fields[11]) + int(fields[12])


@engine
async def test_the_api_and_a_top_through_it_report_no_unreadable_process(
    docker_cli: DockerCLI, docker_host: str, sleeper: tuple[str, str]
) -> None:
    """As root every process of a container is read: 0, not absent, in the document and
    in the footer of a table printed from it."""
    name, _ = sleeper
    settings = Settings(docker_host=docker_host, interval=0.2, journal=None)
    async with serving(settings) as client:
        async with client.get(f"/api/v1/containers/{name}/top") as resp:
            assert resp.status == 200
            doc = await resp.json()
        url = str(client.make_url("")).rstrip("/")
        via = await asyncio.to_thread(
            agent, "top", name, "--agent", url, "--docker-host", docker_host
        )
    theirs = docker_top(docker_cli, name)
    assert doc["unreadable"] == 0
    assert {p["pid"] for p in doc["processes"]} == set(theirs)
    assert via.returncode == 0 and via.stderr == "", via.stderr
    lines = via.stdout.rstrip("\n").splitlines()
    assert len(lines) == 5 and lines[-1] == "3 processes, 0 unreadable", via.stdout


@engine
def test_top_as_a_plain_user_counts_the_processes_it_cannot_read(
    docker_cli: DockerCLI, docker_host: str
) -> None:
    """``top`` run as nobody on a hidepid=noaccess procfs (helpers/hidepid.py): the
    container's root processes are there but unreadable, its nobody process is listed."""
    name = unique_name("wd-top-hidepid")
    cid = docker_cli.start(IMAGE, "sh", "-c", TWO_SLEEPS, name=name)
    try:
        docker_cli.run("exec", "-d", "-u", f"{NOBODY}:{NOBODY}", name, "sleep", "4343")
        wait_for("the exec'd sleep", lambda: len(docker_top(docker_cli, name)) == 4)
        with hidepid_mountpoint() as mountpoint:
            reason = unavailable(mountpoint)
            if reason is not None:
                pytest.skip(reason)
            argv = [AGENT, "top", cid[:12], "--no-docker", "--proc-root", mountpoint]
            env = {k: v for k, v in os.environ.items() if k not in AGENT_ENV}
            table = run_as_nobody(mountpoint, [*argv, "--format", "table"], env)
            listed = run_as_nobody(mountpoint, [*argv, "--format", "json"], env)
        theirs = docker_top(docker_cli, name)
    finally:
        docker_cli.rm(cid)
    (own,) = [pid for pid, (_, args) in theirs.items() if args == "sleep 4343"]
    assert table.returncode == 0, table.stderr
    lines = table.stdout.rstrip("\n").splitlines()
    assert lines[0].split()[:2] == ["PID", "NSPID"] and lines[1].split()[0] == str(own)
    assert lines[2:] == ["1 process, 3 unreadable (exist but could not be read: not listed)"]
    assert listed.returncode == 0, listed.stderr
    assert [p["pid"] for p in json.loads(listed.stdout)] == [own]
    assert listed.stderr == (
        "watchdog-agent: 3 processes of the container could not be read and are not listed\n"
    )


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
        assert p["cpu_percent"] is not None and 0 <= p["cpu_percent"] < 1.0  # all asleep
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
