"""A dockerd of the test's own (never the shared engine): started, stopped and started
again on the same state, with the same no-network flags as the shared one."""

from __future__ import annotations

import contextlib
import io
import os
import secrets
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from helpers.dockercli import IMAGE
from watchdog_agent.events.timeparse import to_docker_since

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
# the test image's commands (busybox_tar: scripts/test and private engines import it)
APPLETS = (
    "sh sleep cat echo head dd yes ps top nc ping seq wc kill true false env id mkdir rm "
    "ls grep tail"
)
PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
Key = tuple[int, str, str, str]  # an event's identity: timeNano, Type, Action, Actor.ID


def poll(cond: Callable[[], bool], timeout: float, what: str, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def busybox_tar() -> bytes:
    """The test image as a tar for ``docker import``: Debian's static busybox and a link
    to it for each of APPLETS. scripts/test imports it into the suite's engine."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in (".", "bin"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        tar.add("/bin/busybox", "bin/busybox")
        for applet in APPLETS.split():
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
    return buf.getvalue()


class PrivateEngine:
    """A dockerd of our own under /tmp/wdr-<hex> (short: unix socket paths are limited)."""

    def __init__(self, extra_args: Sequence[str] = ()) -> None:
        self.extra_args = tuple(extra_args)  # more dockerd flags (never network ones)
        self.root = Path(f"/tmp/wdr-{secrets.token_hex(4)}")
        self.root.mkdir()
        self.host = f"unix://{self.root}/d.sock"
        self.pidfile = self.root / "d.pid"
        self.proc: subprocess.Popen[bytes] | None = None
        self.session_label = f"watchdog.test.session={secrets.token_hex(6)}"

    def docker(
        self, *args: str, check: bool = True, timeout: float = 60, stdin: bytes | None = None
    ) -> subprocess.CompletedProcess[bytes]:
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONTEXT"}
        env["DOCKER_HOST"] = self.host
        return subprocess.run(
            [DOCKER, *args], env=env, input=stdin, capture_output=True, timeout=timeout,
            check=check,
        )  # fmt: skip

    def answers(self) -> bool:
        try:
            return self.docker("version", check=False, timeout=10).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def start(self) -> None:
        """Start dockerd on the state of any previous start; return once it answers."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.root / "dockerd.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            [
                "dockerd", "-H", self.host, "--data-root", f"{self.root}/data",
                "--exec-root", f"{self.root}/exec", "--pidfile", str(self.pidfile),
                "--bridge=none", "--iptables=false", "--ip6tables=false",
                "--ip-forward=false", "--ip-masq=false",
                "--cgroup-parent=/watchdog-restart-test", *self.extra_args,
            ],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, "PATH": PATH}, start_new_session=True,
        )  # fmt: skip
        log.close()
        proc = self.proc

        def up() -> bool:
            if proc.poll() is not None:
                tail = (self.root / "dockerd.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"dockerd exited {proc.returncode}:\n{tail}")
            return self.answers()

        poll(up, 60, "the private engine to answer", step=0.2)

    def stop(self) -> None:
        """SIGTERM through the pidfile, then wait for the process to end."""
        if self.proc is None or self.proc.poll() is not None:
            return
        pid = int(self.pidfile.read_text().strip())
        assert pid == self.proc.pid
        os.kill(pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=45)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL dockerd, as a crash or the OOM killer would: its containerd goes with it,
        the containers' shims (and, with --live-restore, the containers) stay."""
        assert self.proc is not None and self.proc.poll() is None, "not running"
        children = _children(self.proc.pid)  # its containerd
        self.proc.kill()
        self.proc.wait(timeout=10)
        # a new dockerd starts a new containerd on the same socket: wait for the old one
        poll(lambda: not any(os.path.exists(f"/proc/{c}") for c in children), 20,
             "the killed dockerd's containerd to exit")  # fmt: skip

    def import_busybox(self) -> None:
        """The test image, the one scripts/test imports (``busybox_tar``)."""
        self.docker("import", "-", IMAGE, stdin=busybox_tar())

    def remove_containers(self) -> None:
        ids = self.docker("ps", "-aq", "--filter", f"label={self.session_label}", check=False)
        if ids.returncode == 0 and ids.stdout.split():
            self.docker("rm", "-f", *ids.stdout.decode().split(), check=False)

    def events(self, since: int, until: int) -> list[str]:
        """What Docker reports for the window (``docker events --format '{{json .}}'``)."""
        out = self.docker(
            "events", "--since", to_docker_since(since), "--until", to_docker_since(until),
            "--format", "{{json .}}",
        )  # fmt: skip
        return out.stdout.decode().splitlines()

    def destroy(self) -> None:
        """Stop, then remove the state unless something is still mounted under it."""
        self.stop()
        with open("/proc/self/mountinfo") as f:
            mounted = [ln for ln in f if f" {self.root}/" in ln]
        if not mounted:
            shutil.rmtree(self.root, ignore_errors=True)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    return out


def require_dockerd() -> None:
    """Skip (fail under CI=true) where a private engine cannot run."""
    if shutil.which("dockerd", path=PATH) is None or os.geteuid() != 0:
        msg = "a private engine needs dockerd and root"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


@contextlib.contextmanager
def started_engine(extra_args: Sequence[str] = ()) -> Iterator[PrivateEngine]:
    """A private engine, started, with the test image; stopped and removed after."""
    require_dockerd()
    eng = PrivateEngine(extra_args)
    try:
        eng.start()
        eng.import_busybox()
        yield eng
    finally:
        if eng.proc is not None and eng.proc.poll() is None:
            eng.remove_containers()
        eng.destroy()


def key_of(msg: dict[str, object]) -> Key:
    """The identity of one line of ``PrivateEngine.events`` (decoded), as the journal keys
    events."""
    actor = msg["Actor"]
    assert isinstance(actor, dict)
    t, typ, act = msg["timeNano"], msg["Type"], msg["Action"]
    assert isinstance(t, int) and isinstance(typ, str) and isinstance(act, str)
    return (t, typ, act, str(actor["ID"]))
