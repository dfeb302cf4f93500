"""`watchdog-agent events` next to `docker events` on the real engine, line for line.

A scripted run of lifecycle actions produces every event the product card names
(attach, commit, die, detach, rename, destroy) and most others; then both tools replay
the same window (``--since S --until U``) from Docker's 256-event buffer, unfiltered and
with the same ``--filter`` flags, and must print the same lines in the same order. A live
tail is compared the same way, and bad flags must fail with exit code 2.
"""

from __future__ import annotations

import difflib
import json
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from helpers.agentcli import AGENT, Following, agent
from helpers.dockercli import IMAGE, TEST_LABEL, DockerCLI, unique_name
from helpers.oomkill import recorded_oom_kill

from watchdog_agent.events.timeparse import to_docker_since

engine = pytest.mark.engine

BUFFER = 256  # events the daemon keeps for replays
NO_NET = ("--network", "none")
# every event of the product card, and the others the scripted run must produce
CARD = {"attach", "commit", "die", "detach", "rename", "destroy"}
ALSO = {
    "create", "start", "stop", "kill", "pause", "unpause", "restart", "exec_create",
    "exec_start", "exec_die", "oom", "resize", "update", "top", "export", "tag", "untag",
    "delete", "connect", "disconnect",
}  # fmt: skip


def stamp(nanos: int) -> str:
    """Unix seconds with nanoseconds, as both tools take for --since/--until."""
    return to_docker_since(nanos)


def split_lines(text: str) -> list[str]:
    """Lines as the tools end them: on "\\n" only (str.splitlines also splits on U+2028)."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def visible(line: str) -> str:
    """A line for a diff: raw characters a terminal would not show plainly as <U+XXXX>."""
    return "".join(c if c.isprintable() else f"<U+{ord(c):04X}>" for c in line)


def run_agent(host: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return agent("events", "--docker-host", host, *args, timeout=timeout, docker_host=host)


def agent_lines(host: str, *args: str) -> list[str]:
    proc = run_agent(host, *args)
    assert proc.returncode == 0, f"watchdog-agent events {args} exited {proc.returncode}: " + (
        proc.stderr
    )
    return split_lines(proc.stdout)


def docker_lines(cli: DockerCLI, *args: str) -> list[str]:
    return split_lines(cli.run("events", *args))


def same_lines(docker: Sequence[str], ours: Sequence[str], what: str) -> None:
    """Fail with a readable diff unless both tools printed exactly the same lines."""
    if list(docker) == list(ours):
        return
    diff = "\n".join(
        difflib.unified_diff(
            [visible(x) for x in docker],
            [visible(x) for x in ours],
            "docker events",
            "watchdog-agent events",
            lineterm="",
            n=1,
        )
    )
    pytest.fail(f"{what}: {len(docker)} lines from docker, {len(ours)} from us\n{diff}")


def flags(items: Sequence[str]) -> list[str]:
    return [arg for item in items for arg in ("--filter", item)]


# --- the Engine API where the docker 20.10 CLI cannot help (detach, resize) ---------------


def _connect(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(urlsplit(host).path)
    return sock


def _read_head(sock: socket.socket) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            break
        head += chunk
    return head.split(b"\r\n", 1)[0]


def api_post(host: str, target: str) -> bytes:
    """One bodiless POST; returns the status line."""
    with _connect(host) as sock:
        sock.sendall(
            f"POST {target} HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        return _read_head(sock)


def attach_and_detach(host: str, cid: str) -> None:
    """Attach to a ``-t -i`` container through the API and leave with ctrl-p ctrl-q: the
    daemon logs ``attach`` then ``detach`` (the 20.10 CLI eats the keys itself)."""
    with _connect(host) as sock:
        sock.sendall(
            f"POST /v1.41/containers/{cid}/attach?stream=1&stdin=1&stdout=1&stderr=1"
            "&detachKeys=ctrl-p,ctrl-q HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
            "Upgrade: tcp\r\nContent-Length: 0\r\n\r\n".encode()
        )
        status = _read_head(sock)
        assert b" 101 " in status, f"attach answered {status!r}"
        sock.sendall(b"\x10\x11")
        try:
            while sock.recv(4096):  # the daemon closes the stream once it has detached
                pass
        except TimeoutError:
            pytest.fail("the daemon kept the attach stream open after ctrl-p ctrl-q")


# --- the scripted run ---------------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    since: str
    until: str
    prefix: str  # every container name in the run starts with it
    image_repo: str  # repository of the tags and the commit made in the run
    renamed_id: str  # the container that was renamed
    actions: int
    docker: list[str]  # `docker events --since --until --format '{{json .}}'`


class Script:
    """Runs docker commands against the test engine and counts them as actions."""

    def __init__(self, cli: DockerCLI) -> None:
        self.cli = cli
        self.actions = 0
        self.labels = ("--label", TEST_LABEL, "--label", cli.session_label)

    def __call__(self, *args: str, check: bool = True) -> str:
        self.actions += 1
        return self.cli.run(*args, check=check)

    def api(self, fn: Callable[[], object]) -> None:
        self.actions += 1
        fn()


def scripted_run(cli: DockerCLI, prefix: str, repo: str, scratch: Path) -> tuple[int, str]:
    """41 actions, about 100 events; returns (actions, id of the renamed container)."""
    do = Script(cli)
    lb, host = do.labels, cli.host
    # attached run: create, attach, connect, start, die, disconnect, destroy
    do("run", "--rm", "--name", f"{prefix}-once", *lb, *NO_NET, IMAGE, "true")
    a = do("create", "--name", f"{prefix}-a", *lb, *NO_NET, IMAGE, "sleep", "600").strip()
    cli.started.append(a)
    do("start", a)
    do("pause", a)
    do("unpause", a)
    do("exec", a, "sh", "-c", 'echo "<hi & bye>" > /dev/null && true')
    do("exec", a, "false", check=False)  # exec_die with exitCode 1
    do("top", a)
    do("update", "--memory", "64m", "--memory-swap", "64m", a)
    do("kill", "--signal", "USR1", a)  # PID 1 ignores it: kill, no die
    do("rename", f"{prefix}-a", f"{prefix}-b")
    do("commit", a, f"{repo}:c1")  # pause, tag, commit, unpause
    do("tag", IMAGE, f"{repo}:t1")
    do("tag", IMAGE, f"{repo}:t2")
    do("rmi", f"{repo}:t1")
    do("rmi", f"{repo}:t2")
    do("rmi", f"{repo}:c1")  # untag, delete
    do("restart", "-t", "0", a)
    do("stop", "-t", "0", a)
    do("start", a)
    do("kill", a)
    do("rm", a)
    # a TTY container: attach + detach and resize through the API
    t = do("run", "-d", "-t", "-i", "--name", f"{prefix}-t", *lb, *NO_NET, IMAGE, "sh").strip()
    cli.started.append(t)
    do.api(lambda: attach_and_detach(host, t))
    do.api(lambda: api_post(host, f"/v1.41/containers/{t}/resize?h=30&w=100"))
    do.api(lambda: api_post(host, f"/v1.41/containers/{t}/resize?h=40&w=120"))
    do("exec", "-t", t, "true")
    do("pause", t)
    do("unpause", t)
    do("stop", "-t", "0", t)
    do("rm", t)

    # out of memory: 64 MiB into a tmpfs with a 16 MiB limit and no swap
    # (run again until Docker records the kill: helpers/oomkill.py)
    def run_oom() -> str:
        oom = do(
            "run", "-d", "--name", f"{prefix}-oom", *lb, *NO_NET, "--memory", "16m",
            "--memory-swap", "16m", "--tmpfs", "/t", IMAGE,
            "sh", "-c", "dd if=/dev/zero of=/t/f bs=1M count=64; exit 3",
        ).strip()  # fmt: skip
        cli.started.append(oom)
        return oom

    do("rm", recorded_oom_kill(cli.run, run_oom, f"{prefix}-oom"))
    # exit codes, start -a (attach), export
    x = do("run", "-d", "--name", f"{prefix}-x", *lb, *NO_NET, IMAGE, "sh", "-c", "exit 7")
    x = x.strip()
    cli.started.append(x)
    cli.run("wait", x)
    do("start", "-a", x, check=False)  # exits 7 again
    do("export", "-o", str(scratch / "x.tar"), x)
    do("rm", x)
    # created, renamed and removed without ever running
    y = do("create", "--name", f"{prefix}-y", *lb, *NO_NET, IMAGE, "true").strip()
    cli.started.append(y)
    do("rename", f"{prefix}-y", f"{prefix}-z")
    do("rm", y)
    do("run", "--rm", *lb, *NO_NET, "--name", f"{prefix}-fail", IMAGE, "sh", "-c", "exit 2",
       check=False)  # fmt: skip
    return do.actions, a


@pytest.fixture(scope="module")
def window(docker_cli: DockerCLI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Window]:
    prefix = unique_name("wdev")
    repo = f"{prefix}-img"
    since = stamp(time.time_ns())
    try:
        scratch = tmp_path_factory.mktemp("scripted")
        actions, renamed = scripted_run(docker_cli, prefix, repo, scratch)
        until = stamp(time.time_ns())
        lines = docker_lines(
            docker_cli, "--since", since, "--until", until, "--format", "{{json .}}"
        )
        yield Window(since, until, prefix, repo, renamed, actions, lines)
    finally:
        docker_cli.cleanup()
        for tag in ("c1", "t1", "t2"):
            docker_cli.run("rmi", f"{repo}:{tag}", check=False)


@engine
def test_scripted_run_matches_docker_events(docker_cli: DockerCLI, window: Window) -> None:
    events = [json.loads(x) for x in window.docker]
    actions = {e["Action"].split(":", 1)[0] for e in events}
    assert window.actions >= 40
    assert actions >= CARD, f"the script did not produce {sorted(CARD - actions)}"
    assert actions >= ALSO, f"the script did not produce {sorted(ALSO - actions)}"
    assert len(events) < BUFFER, "the window overflowed Docker's buffer (engine shared?)"

    ours = agent_lines(
        docker_cli.host, "--since", window.since, "--until", window.until, "--format", "json"
    )
    same_lines(window.docker, ours, "replay of the scripted run")


FILTERS: list[list[str]] = [
    ["type=container"],
    ["event=die"],
    ["event=die", "event=destroy"],
    ["container={prefix}"],
    ["image=watchdog-test/busybox"],
    ["image={repo}"],
    ["label=watchdog.test=1"],
    ["label=watchdog.test"],
    ["label=watchdog.test=1", "event=start"],
    ["type=network"],
    ["event=exec_start"],
    ["event=exec_create", "event=exec_die"],
    ["type=image"],
    ["scope=local"],
    ["container={renamed12}", "event=rename"],
    ["event=attach", "event=detach", "event=oom", "event=resize", "event=commit"],
    ["type=container", "container={prefix}-b", "label=watchdog.test=1"],
]


@engine
@pytest.mark.parametrize("items", FILTERS, ids=[" ".join(f) for f in FILTERS])
def test_filtered_replay_matches_docker_events(
    docker_cli: DockerCLI, window: Window, items: list[str]
) -> None:
    subst = {"prefix": window.prefix, "repo": window.image_repo}
    subst["renamed12"] = window.renamed_id[:12]
    items = [i.format(**subst) for i in items]
    span = ("--since", window.since, "--until", window.until)
    docker = docker_lines(docker_cli, *span, *flags(items), "--format", "{{json .}}")
    ours = agent_lines(docker_cli.host, *span, *flags(items), "--format", "json")
    assert docker, f"{items}: the scripted run should have matched something"
    same_lines(docker, ours, f"--filter {' --filter '.join(items)}")


FIELDS = "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.TimeNano}}"
LEGACY = "{{.Status}}|{{.ID}}|{{.From}}|{{.Scope}}|{{.Time}}|{{json .Actor}}"
# (our --format, docker's --format or None for its default text line)
FORMATS = [("text", None), (FIELDS, FIELDS), (LEGACY, LEGACY)]


@engine
@pytest.mark.parametrize(("ours_fmt", "docker_fmt"), FORMATS, ids=["text", "fields", "legacy"])
def test_formats_match_docker_events(
    docker_cli: DockerCLI, window: Window, ours_fmt: str, docker_fmt: str | None
) -> None:
    span = ("--since", window.since, "--until", window.until)
    docker = docker_lines(docker_cli, *span, *(("--format", docker_fmt) if docker_fmt else ()))
    ours = agent_lines(docker_cli.host, *span, "--format", ours_fmt)
    same_lines(docker, ours, f"--format {ours_fmt!r}")


@engine
def test_bug_json_escapes_differ_from_docker(docker_cli: DockerCLI) -> None:
    """`--format json` must equal `docker events --format '{{json .}}'` byte for byte.

    Go's encoder writes U+2028/U+2029 as ``\\u2028``/``\\u2029`` (always) and, in the Go
    that built the 20.10 CLI, backspace and form feed as ``\\u0008``/``\\u000c``;
    ``render.json_line`` (json.dumps, ensure_ascii=False) writes the raw separators and
    ``\\b``/``\\f``. Any label value with those characters makes the lines differ."""
    name = unique_name("wdesc")
    since = stamp(time.time_ns())
    cid = docker_cli.run(
        "create", "--name", name, "--label", TEST_LABEL, "--label", docker_cli.session_label,
        "--label", "wd.sep=line\u2028para\u2029end", "--label", "wd.ctl=bs\bff\fend",
        *NO_NET, IMAGE, "true",
    ).strip()  # fmt: skip
    docker_cli.started.append(cid)
    docker_cli.rm(cid)
    span = ("--since", since, "--until", stamp(time.time_ns()), "--filter", f"container={cid}")
    docker = docker_lines(docker_cli, *span, "--format", "{{json .}}")
    assert len(docker) == 2  # create, destroy
    same_lines(docker, agent_lines(docker_cli.host, *span, "--format", "json"), "escapes")


# --- the live tail ------------------------------------------------------------------------


def poll(cond: Callable[[], bool], timeout: float, what: str, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def in_window(lines: Sequence[str], start: int, end: int) -> list[str]:
    """The JSON event lines with ``start <= timeNano <= end``; any other line fails."""
    other = [x for x in lines if not x.startswith("{")]
    if other:
        pytest.fail(f"lines that are not events on stdout: {other[:3]}")
    return [x for x in lines if start <= json.loads(x)["timeNano"] <= end]


@engine
def test_live_tail_matches_docker_events(docker_cli: DockerCLI, tmp_path: Path) -> None:
    host, repo = docker_cli.host, unique_name("wdlive")
    journal = str(tmp_path / "events.db")
    tails = {
        "docker": Following([docker_cli.cli, "events", "--format", "{{json .}}"], host),
        "ours": Following([AGENT, "events", "--format", "json", "--docker-host", host], host),
        "journal": Following(
            [AGENT, "events", "--journal", journal, "--format", "json", "--docker-host", host],
            host,
        ),
    }
    tags: list[str] = []
    codes: dict[str, tuple[int, str]] = {}
    try:
        # every follower subscribed: each has printed a warm-up tag event
        def warm() -> bool:
            tags.append(f"{repo}:w{len(tags)}")
            docker_cli.run("tag", IMAGE, tags[-1])
            time.sleep(0.2)
            return all(t.lines for t in tails.values())

        poll(warm, 30, "the followers to subscribe", step=0)
        start = time.time_ns()
        lb = ("--label", TEST_LABEL, "--label", docker_cli.session_label)
        cid = docker_cli.start(*lb, IMAGE, "sleep", "600", name=f"{repo}-c")
        for args in (
            ("pause", cid), ("unpause", cid), ("exec", cid, "true"),
            ("rename", f"{repo}-c", f"{repo}-d"), ("stop", "-t", "0", cid), ("rm", cid),
            ("tag", IMAGE, f"{repo}:x"), ("rmi", f"{repo}:x"), ("tag", IMAGE, f"{repo}:end"),
        ):  # fmt: skip
            docker_cli.run(*args)
        tags.append(f"{repo}:end")
        marker = f'"name":"{repo}:end"'
        poll(lambda: all(any(marker in x for x in t.lines) for t in tails.values()), 30, "end")
        end = next(json.loads(x)["timeNano"] for x in tails["docker"].lines if marker in x)
    finally:
        for name, tail in tails.items():
            codes[name] = tail.stop()
        for tag in tags:
            docker_cli.run("rmi", tag, check=False)
    for name in ("ours", "journal"):
        assert codes[name][0] == 0, f"{name}: SIGTERM gave exit {codes[name]}"
    docker = in_window(tails["docker"].lines, start, end)
    assert len(docker) >= 15
    same_lines(docker, in_window(tails["ours"].lines, start, end), "live tail")
    same_lines(docker, in_window(tails["journal"].lines, start, end), "live tail (--journal)")
    # the journal replays the same window without asking the engine
    replay = subprocess.run(
        [AGENT, "events", "--journal", journal, "--since", stamp(start), "--until", stamp(end),
         "--format", "json", "--docker-host", "unix:///nonexistent/docker.sock"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr
    same_lines(docker, split_lines(replay.stdout), "journal replay of the live tail")


# --- bad input ----------------------------------------------------------------------------

BAD = [
    (["--filter", "nokey"], "bad filter 'nokey'"),
    (["--filter", "foo=bar"], "unknown filter key 'foo'"),
    (["--since", "yesterday-ish"], "bad time 'yesterday-ish'"),
    (["--until", "2026-13-45"], "bad time '2026-13-45'"),
    (["--since", "1700000100", "--until", "1700000000"], "--until is before --since"),
    (["--since", "10m", "--until", "1h"], "--until is before --since"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_exits_2_with_a_message(args: list[str], message: str) -> None:
    # no engine at this address: the arguments must be refused before any connection
    proc = run_agent("unix:///nonexistent/docker.sock", *args, "--format", "json")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert message in proc.stderr
    assert proc.stderr.startswith("watchdog-agent: ")
    assert proc.stdout == ""


def test_bad_input_with_journal_exits_2(tmp_path: Path) -> None:
    journal = str(tmp_path / "j.db")
    proc = run_agent("unix:///nonexistent/docker.sock", "--journal", journal, "--since", "soon")
    assert proc.returncode == 2 and "bad time 'soon'" in proc.stderr
