"""`watchdog-agent logs` against the real engine, compared with `docker logs` for the same
flags: stdout and stderr separately, byte for byte (straight from Docker), line for line
(through an agent); a TTY container; follow; terminal escaping; clear errors."""

from __future__ import annotations

import os
import pty
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.agentcli import AGENT, agent_env
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess

pytestmark = pytest.mark.engine

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")

# stdout and stderr interleaved; escape sequences; bytes that are not UTF-8; a line of
# 32 KiB (Docker cuts it into 16 KiB messages); a CRLF; a last line without newline
SCRIPT = r"""
echo out1; echo err1 >&2; echo out2
printf 'esc \033]0;title\007 \033[2J end\n'
printf 'bad \377\376 utf8\n' >&2
s=x; for i in $(seq 15); do s=$s$s; done; echo "$s"
printf 'crlf\r\n'; echo err2 >&2
printf 'no newline'
"""


def run_bytes(
    *args: str, docker_host: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [AGENT, *args], env={**agent_env(docker_host), **(env or {})},
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip


def docker_bytes(docker_host: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "DOCKER_HOST": docker_host}
    return subprocess.run([DOCKER, *args], env=env, capture_output=True, timeout=60, check=False)


def assert_same(docker_host: str, ident: str, *flags: str) -> None:
    ours = run_bytes("logs", *flags, ident, docker_host=docker_host)
    theirs = docker_bytes(docker_host, "logs", *flags, ident)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout == theirs.stdout, flags
    assert ours.stderr == theirs.stderr, flags


@pytest.fixture(scope="module")
def exited(docker_cli: DockerCLI) -> Iterator[str]:
    name = unique_name("logs")
    cid = docker_cli.start(IMAGE, "sh", "-c", SCRIPT, name=name)
    docker_cli.run("wait", cid)
    yield name
    docker_cli.rm(cid)


def test_each_flag_matches_docker_byte_for_byte(exited: str, docker_host: str) -> None:
    stamped = docker_bytes(docker_host, "logs", "-t", exited)
    times = [line.split(b" ", 1)[0].decode() for line in stamped.stdout.splitlines()]
    assert len(times) >= 5
    for flags in (
        [], ["-t"], ["--tail", "2"], ["-n", "0"], ["--tail", "all", "--timestamps"],
        ["--since", times[2]], ["--until", times[2]], ["--since", times[1], "--until", times[3]],
    ):  # fmt: skip
        assert_same(docker_host, exited, *flags)
    out = run_bytes("logs", exited, docker_host=docker_host)
    assert b"\033]0;title\007" in out.stdout and b"crlf\r\n" in out.stdout  # exact bytes
    assert b"bad \xef\xbf\xbd\xef\xbf\xbd utf8" in out.stderr  # json-file keeps no bad UTF-8
    assert out.stdout.endswith(b"no newline") and b"x" * 32768 + b"\n" in out.stdout


def test_a_tty_container_matches_docker(docker_cli: DockerCLI, docker_host: str) -> None:
    name = unique_name("logs-tty")
    cid = docker_cli.start("-t", IMAGE, "sh", "-c", SCRIPT, name=name)
    docker_cli.run("wait", cid)
    for flags in ([], ["-t"], ["--tail", "3"]):
        assert_same(docker_host, name, *flags)
    out = run_bytes("logs", name, docker_host=docker_host)
    assert b"err1\r\n" in out.stdout and out.stderr == b""  # one merged stream


def test_follow_streams_until_the_container_ends(docker_cli: DockerCLI, docker_host: str) -> None:
    name = unique_name("logs-follow")
    script = "echo first; echo e >&2; until [ -d /go ]; do sleep 0.1; done; echo last"
    cid = docker_cli.start(IMAGE, "sh", "-c", script, name=name)
    proc = subprocess.Popen(
        [AGENT, "logs", "-f", name], env=agent_env(docker_host),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"first\n"  # while the container still waits
        assert docker_cli.inspect(cid)["State"]["Running"]
        docker_cli.run("exec", cid, "mkdir", "/go")
        out, err = proc.communicate(timeout=60)  # ends when the container does
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0
    theirs = docker_bytes(docker_host, "logs", name)
    assert b"first\n" + out == theirs.stdout == b"first\nlast\n"
    assert err == theirs.stderr == b"e\n"


def test_a_terminal_sees_escape_sequences_shown_not_obeyed(exited: str, docker_host: str) -> None:
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [AGENT, "logs", exited], env=agent_env(docker_host),
        stdout=secondary, stderr=subprocess.PIPE,
    )  # fmt: skip
    os.close(secondary)
    shown = b""
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(primary)
        proc.wait(30)
    assert proc.returncode == 0
    assert b"esc \\x1b]0;title\\x07 \\x1b[2J end" in shown and b"\x1b" not in shown
    assert b"crlf\r\n" in shown  # the pty's own line end, not a shown \x0d
    assert proc.stderr is not None
    assert b"err1\n" in proc.stderr.read()  # piped: not escaped


def test_errors_say_what_is_wrong(docker_cli: DockerCLI, docker_host: str) -> None:
    missing = unique_name("no-such")
    proc = run_bytes("logs", missing, docker_host=docker_host)
    assert proc.returncode == 1 and proc.stdout == b""
    assert proc.stderr.decode() == f"watchdog-agent: no such container: {missing}\n"

    name = unique_name("logs-none")
    docker_cli.run("wait", docker_cli.start("--log-driver", "none", IMAGE, "echo", "hi",
                                            name=name))  # fmt: skip
    assert docker_bytes(docker_host, "logs", name).returncode == 1  # docker: 501 too
    proc = run_bytes("logs", name, docker_host=docker_host)
    assert proc.returncode == 1 and proc.stdout == b""
    assert b"this container's log driver keeps no logs (--log-driver none)" in proc.stderr

    proc = run_bytes("logs", "--tail", "some", name, docker_host=docker_host)
    assert proc.returncode == 2 and b"--tail 'some'" in proc.stderr


async def test_through_the_agent_when_docker_does_not_answer(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    name = unique_name("logs-agent")
    script = "echo out1; echo err1 >&2; echo 'out2 ü'; printf 'esc \\033[2J\\n'; echo err2 >&2"
    docker_cli.run("wait", docker_cli.start(IMAGE, "sh", "-c", script, name=name))
    serve = ServeProcess("--journal", str(tmp_path / "events.db"), docker_host=docker_host)
    try:
        url = serve.wait_url()
        nowhere = "unix:///nonexistent/docker.sock"
        for flags in ([], ["-t"], ["--tail", "2"]):
            ours = run_bytes("logs", *flags, name, docker_host=nowhere,
                             env={"WATCHDOG_AGENT_URL": url})  # fmt: skip
            theirs = docker_bytes(docker_host, "logs", *flags, name)
            assert ours.returncode == 0, ours.stderr
            note, _, err = ours.stderr.partition(b"\n")
            assert note.startswith(
                b"watchdog-agent: no Docker engine answers at " + nowhere.encode()
            )
            assert url.encode() in note
            assert ours.stdout == theirs.stdout and err == theirs.stderr, flags
        named = run_bytes("logs", "--agent", url, name, docker_host=docker_host)
        assert (
            named.returncode == 0 and named.stdout == docker_bytes(docker_host, "logs", name).stdout
        )  # named with --agent: through it, without a note
        assert named.stderr == b"err1\nerr2\n"
        missing = run_bytes("logs", "--agent", url, "no-such-x1", docker_host=docker_host)
        assert missing.returncode == 1
        assert missing.stderr == b"watchdog-agent: no such container: no-such-x1\n"
    finally:
        serve.kill()
