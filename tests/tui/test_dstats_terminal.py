"""``dstats`` end to end in a real terminal (tmux) against the real engine and a running
agent: it starts, shows the test containers by name with a non-zero CPU on the busy one,
sorts by CPU (from a sort by name) so the busy one comes first, opens its container view,
quits with status 0, and leaves the terminal as it found it: the normal screen back and
the line discipline's echo and canonical mode on again."""

from __future__ import annotations

import re
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.dstats import serve

pytestmark = pytest.mark.engine

DSTATS = str(Path(sys.executable).parent / "dstats")
CPU_CELL = re.compile(r"(\d+\.\d)%")


class Tmux:
    """A tmux server of our own (its own socket) holding one session, ``dstats``."""

    def __init__(self, socket: Path) -> None:
        self.socket = str(socket)

    def __call__(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-S", self.socket, *args],
                             capture_output=True, text=True, timeout=10, check=False)  # fmt: skip
        assert out.returncode == 0, f"tmux {' '.join(args)}: {out.stderr}"
        return out.stdout

    def screen(self) -> str:
        return self("capture-pane", "-p", "-t", "dstats")

    def until(self, check: Callable[[str], bool], what: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen()
            if check(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"the terminal never showed {what}; last screen:\n{text}")

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", "dstats", *keys)


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    assert shutil.which("tmux"), "tmux is not installed (scripts/test installs it)"
    t = Tmux(tmp_path / "tmux.sock")
    try:
        yield t
    finally:
        subprocess.run(["tmux", "-S", t.socket, "kill-server"],
                       capture_output=True, timeout=10, check=False)  # fmt: skip


def line_of(screen: str, name: str) -> str | None:
    return next((line for line in screen.splitlines() if name in line), None)


def row_index(screen: str, name: str) -> int:
    lines = screen.splitlines()
    return next(i for i, line in enumerate(lines) if name in line)


def cpu_of(screen: str, name: str) -> float | None:
    """The CPU % cell of ``name``'s row: the first ``NN.N%`` after the STATE column."""
    line = line_of(screen, name)
    found = None if line is None else CPU_CELL.search(line)
    return None if found is None else float(found.group(1))


def sorted_by(screen: str, title: str) -> bool:
    """The table's heading marks ``title`` as the sort column."""
    return any(f"{title} ▲" in line or f"{title} ▼" in line for line in screen.splitlines())


def pick_sort(tmux: Tmux, downs: int) -> None:
    """``s`` opens the list of columns; Home, ``downs`` times Down, Enter picks one."""
    tmux.keys("s")
    tmux.until(lambda s: "sort by" in s, "the sort list")
    tmux.keys("Home", *(["Down"] * downs), "Enter")


def test_dstats_in_a_real_terminal(
    docker_cli: DockerCLI, docker_host: str, tmux: Tmux, tmp_path: Path
) -> None:
    # named so that a sort by name puts the idle one first and a sort by CPU the busy one
    idle, busy = unique_name("aa-idle"), unique_name("zz-busy")
    label = f"watchdog.test.tmux={secrets.token_hex(6)}"
    docker_cli.start("--label", label, IMAGE, "sleep", "600", name=idle)
    docker_cli.start("--label", label, "--cpus", "0.5", IMAGE, "sh", "-c",
                     "while :; do :; done", name=busy)  # fmt: skip
    agent = serve(docker_host)
    try:
        url = agent.wait_url()
        modes = tmp_path / "stty-after"
        command = shlex.join([DSTATS, "--agent", url, "--filter", f"label={label}"])
        # the shell reports dstats' exit status and the terminal's modes once it ends;
        # COLUMNS and LINES (pytest's own terminal's, if set) would override the pane's size
        script = (f"unset COLUMNS LINES; TERM=xterm-256color {command}; echo DSTATS-EXIT=$?; "
                  f"stty -a > {shlex.quote(str(modes))}; sleep 120")  # fmt: skip
        tmux("new-session", "-d", "-s", "dstats", "-x", "200", "-y", "45", "sh", "-c", script)

        screen = tmux.until(
            lambda s: (cpu_of(s, busy) or 0.0) > 0.0 and line_of(s, idle) is not None,
            "both containers by name and a non-zero CPU on the busy one",
        )
        assert "connected" in screen, screen

        pick_sort(tmux, 0)  # NAME, A to Z: the idle one first
        screen = tmux.until(lambda s: sorted_by(s, "NAME"), "the table sorted by NAME")
        assert row_index(screen, idle) < row_index(screen, busy), screen

        pick_sort(tmux, 4)  # CPU %, largest first: the busy one first
        screen = tmux.until(lambda s: sorted_by(s, "CPU %"), "the table sorted by CPU %")
        assert row_index(screen, busy) < row_index(screen, idle), screen
        assert (cpu_of(screen, busy) or 0.0) > (cpu_of(screen, idle) or 0.0), screen

        tmux.keys("Home", "Enter")  # the cursor to the first row, then its container view
        screen = tmux.until(lambda s: f"Container {busy}" in s and "Processes" in s,
                            "the busy container's view with its processes")  # fmt: skip
        assert "CPUs 0.5" in screen, screen

        tmux.keys("Escape")
        tmux.until(lambda s: sorted_by(s, "CPU %"), "the table again")
        tmux.keys("q")
        screen = tmux.until(lambda s: "DSTATS-EXIT=" in s, "dstats ending")
        assert "DSTATS-EXIT=0" in screen, screen
        assert busy not in screen, f"the table is still on the screen:\n{screen}"
        assert tmux("display", "-p", "-t", "dstats", "#{alternate_on}").strip() == "0"
        deadline = time.monotonic() + 10
        while not modes.exists() or not modes.read_text():
            assert time.monotonic() < deadline, "stty never reported the terminal's modes"
            time.sleep(0.1)
        stty = modes.read_text().split()
        assert "echo" in stty and "icanon" in stty, stty  # not -echo / -icanon
    finally:
        agent.kill()
