"""The README's two set-up commands work on a fresh clone, as a newcomer runs them.

Both commands are read from README.md's "Set-up" section, so changing them there changes
what is tested. Each test clones the committed HEAD into a new temporary folder (no
``.venv``: nothing installed earlier can make it pass) and runs the command there
exactly as written, through bash:

- the run command must end up serving: ``/healthz`` and ``/api/v1/containers`` answer
  on a free loopback port (``WATCHDOG_LISTEN``; never 9338), and SIGTERM stops it
  with exit code 0;
- the test command with ``--install-only`` (its Debian-package and .venv steps, not the
  engine or the suite) must leave a .venv whose ``pytest`` and ``watchdog-agent`` run.

pip reaches PyPI for both installs, which is most of the cost (20 s to a few minutes,
as the network allows); the test command's install runs in the background while the run
command's test runs, so the two cost the longer of the two, not the sum.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from helpers.agentcli import agent_env

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
INSTALL_TIMEOUT = 480.0  # seconds for a fresh .venv and pip install (measured: 20 s to 260 s)


def setup_commands(text: str) -> tuple[str, str]:
    """(run command, test command): the two one-line fenced blocks, in that order, of
    the README's "## Set-up" section."""
    section = re.search(r"^## Set-up.*?$(.*?)(?=^## )", text, re.M | re.S)
    assert section, "README.md has no '## Set-up' section"
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", section[1], re.M | re.S)
    commands = []
    for block in blocks:
        lines = [line for line in block.splitlines() if line.strip()]
        assert len(lines) == 1, f"a set-up block must hold one command: {block!r}"
        commands.append(lines[0].strip())
    assert len(commands) == 2, f"expected the run and the test command, found {commands}"
    return commands[0], commands[1]


def test_setup_commands_are_read_from_the_readme() -> None:
    run, test = setup_commands(README.read_text())
    assert run.split()[0] == "scripts/run"
    assert test.split()[0] == "scripts/test"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test" in ci, ".ci/run must run the README's test command"


def fresh_clone(dest: Path) -> Path:
    """A clone of this checkout's committed HEAD, with no .venv."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: nothing to clone")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(dest)],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    subprocess.run(["git", "-C", str(dest), "checkout", "-q", "--detach", head],
                   check=True, capture_output=True, timeout=120)  # fmt: skip
    assert not (dest / ".venv").exists()
    return dest


def newcomer_env(**extra: str) -> dict[str, str]:
    """This environment without the agent's settings and without any trace of the
    virtualenv running the tests (its bin directory on PATH, VIRTUAL_ENV, PYTHONPATH)."""
    env = agent_env()
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSAFEPATH"):
        env.pop(name, None)
    ours = {str(Path(sys.executable).parent), str(Path(sys.prefix) / "bin")}
    path = [p for p in env.get("PATH", os.defpath).split(":") if p and p not in ours]
    env["PATH"] = ":".join([*path, "/usr/sbin", "/sbin"])
    env.update(extra)
    return env


def imported_from(clone: Path) -> str:
    """Where the clone's venv interpreter, started outside the clone, finds the package."""
    out = subprocess.run(
        [str(clone / ".venv" / "bin" / "python"), "-I", "-c",
         "import os, watchdog_agent; print(os.path.realpath(watchdog_agent.__file__))"],
        cwd="/", capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


def stop_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal the command's process group; its exit code (SIGKILL after 30 s)."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        return proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        raise


@dataclass
class Install:
    """The README's test command with --install-only, running in a fresh clone."""

    command: str
    clone: Path
    proc: subprocess.Popen[bytes]
    log: Path

    def result(self) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout=INSTALL_TIMEOUT)
        except subprocess.TimeoutExpired:
            stop_group(self.proc, signal.SIGKILL)
            pytest.fail(f"{self.command!r} still ran after {INSTALL_TIMEOUT} s")
        return code, self.log.read_text()


@pytest.fixture(scope="module")
def test_command_install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    """Started once, before the run command's test, so both installs go on together."""
    _, test = setup_commands(README.read_text())
    tmp = tmp_path_factory.mktemp("readme-test")
    clone = fresh_clone(tmp / "clone")
    command = f"{test} --install-only"
    log = tmp / "install.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["bash", "-c", command], cwd=clone, env=newcomer_env(),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        yield Install(command, clone, proc, log)
    finally:
        if proc.poll() is None:
            stop_group(proc, signal.SIGKILL)


@pytest.mark.usefixtures("test_command_install")
def test_readme_run_command_serves_on_a_fresh_clone(tmp_path: Path, docker_host: str) -> None:
    run, _ = setup_commands(README.read_text())
    clone = fresh_clone(tmp_path / "clone")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = newcomer_env(
        WATCHDOG_LISTEN=f"127.0.0.1:{port}",
        WATCHDOG_JOURNAL=str(tmp_path / "events.db"),  # not the host's /var/lib journal
        DOCKER_HOST=docker_host,  # the test engine when it runs; "no Docker" otherwise
    )
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(["bash", "-c", run], cwd=clone, env=env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # fmt: skip
    try:
        health: Any = None
        containers: Any = None
        deadline = time.monotonic() + INSTALL_TIMEOUT
        while containers is None and time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"{run!r} exited with {proc.returncode}:\n{log.read_text()}")
            try:
                health = get_json(base + "/healthz")
                containers = get_json(base + "/api/v1/containers")
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        assert containers is not None, f"{run!r} did not serve in time:\n{log.read_text()}"
        assert health["status"] == "ok"
        assert isinstance(containers, list)
        assert imported_from(clone) == str(clone.resolve() / "watchdog_agent" / "__init__.py")
    finally:
        code = stop_group(proc)
    output = log.read_text()
    assert code == 0, f"{run!r} did not stop cleanly on SIGTERM ({code}):\n{output}"
    assert "Traceback" not in output, output
    assert "installing watchdog-agent into .venv" in output  # it installed, here


def test_readme_test_command_installs_on_a_fresh_clone(test_command_install: Install) -> None:
    code, output = test_command_install.result()
    clone = test_command_install.clone
    assert code == 0, output
    assert "set-up done (--install-only)" in output
    assert "pytest -q" not in output  # stopped after the install: no engine, no suite
    pytest_version = subprocess.run([str(clone / ".venv/bin/pytest"), "--version"], cwd=clone,
                                    capture_output=True, text=True, timeout=60,
                                    check=False)  # fmt: skip
    assert pytest_version.returncode == 0, pytest_version.stderr
    assert pytest_version.stdout.startswith("pytest ")
    agent_version = subprocess.run([str(clone / ".venv/bin/watchdog-agent"), "--version"],
                                   cwd="/", capture_output=True, text=True, timeout=60,
                                   check=False)  # fmt: skip
    assert agent_version.returncode == 0, agent_version.stderr
    assert re.fullmatch(r"watchdog-agent \S+\n", agent_version.stdout)
    assert imported_from(clone) == str(clone.resolve() / "watchdog_agent" / "__init__.py")
