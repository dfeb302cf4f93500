"""Gone or unreadable: a process whose /proc files cannot be read is left out only when it
has exited; one that is there but cannot be read is counted (``ProcessList.unreadable``).

The decision runs on real processes (one that exited, a zombie, and, under a
``hidepid=noaccess`` procfs, a root process read by nobody) and, for the layouts a host
does not make on demand (a /proc/<pid> directory without its stat, a file that fails
with another error, an unparsable stat), on a copied tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.hidepid import NOBODY, hidepid_mountpoint, run_as_nobody, unavailable

from watchdog_agent.collectors.proctree import process_gone, read_processes


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    """A ``sleep 300`` that has finished its exec: Popen returns once the child forked, and
    until the exec is done its cmdline may read empty (the process then shows as
    ``[sleep]``, as kernel threads do; seen once in CI)."""
    proc = subprocess.Popen(["sleep", "300"])
    try:
        deadline = time.monotonic() + 10
        cmdline = Path(f"/proc/{proc.pid}/cmdline")
        while cmdline.read_bytes() != b"sleep\x00300\x00":
            assert time.monotonic() < deadline, cmdline.read_bytes()
            time.sleep(0.01)
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _copy_process(src: int, proc_root: Path, pid: int) -> Path:
    """/proc/<src>'s stat, status and cmdline, as the files of ``pid`` in a copied tree."""
    base = proc_root / str(pid)
    base.mkdir(parents=True)
    for name in ("stat", "status", "cmdline"):
        (base / name).write_bytes(Path(f"/proc/{src}/{name}").read_bytes())
    return base


def test_gone_only_when_the_pid_stat_is_gone(tmp_path: Path) -> None:
    _copy_process(os.getpid(), tmp_path, 10)
    (tmp_path / "12").mkdir()  # a directory outliving its files (psutil issue 2418)
    assert process_gone(str(tmp_path), 10) is False
    assert process_gone(str(tmp_path), 11) is True  # no /proc/11 at all
    assert process_gone(str(tmp_path), 12) is True


def test_a_copied_tree_counts_what_it_cannot_read(tmp_path: Path) -> None:
    shutil.copyfile("/proc/stat", tmp_path / "stat")
    me = os.getpid()
    _copy_process(me, tmp_path, 20)
    status_a_directory = _copy_process(me, tmp_path, 21)
    (status_a_directory / "status").unlink()
    (status_a_directory / "status").mkdir()  # reading it fails: EISDIR, not ENOENT
    garbled = _copy_process(me, tmp_path, 23)
    (garbled / "stat").write_bytes(b"23 (truncated")
    (tmp_path / "24").mkdir()  # its files gone: the process has exited
    listed = read_processes(str(tmp_path), [20, 21, 22, 23, 24])
    assert [p.pid for p in listed.processes] == [20]
    assert listed.unreadable == 2  # 21 and 23; 22 and 24 are gone


def test_a_process_that_exited_is_gone_and_a_zombie_is_read(
    sleeper: subprocess.Popen[bytes],
) -> None:
    alive = read_processes("/proc", [sleeper.pid])
    assert [(p.pid, p.cmd) for p in alive.processes] == [(sleeper.pid, "sleep 300")]
    assert alive.unreadable == 0
    sleeper.kill()
    os.waitid(os.P_PID, sleeper.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
    zombie = read_processes("/proc", [sleeper.pid])
    assert [(p.pid, p.state, p.cmd) for p in zombie.processes] == [(sleeper.pid, "Z", "[sleep]")]
    assert zombie.unreadable == 0
    sleeper.wait()  # reaped: /proc/<pid> is gone
    assert process_gone("/proc", sleeper.pid) is True
    gone = read_processes("/proc", [sleeper.pid])
    assert gone.processes == [] and gone.unreadable == 0


_READ_AS_NOBODY = """
import json, sys
from watchdog_agent.collectors.proctree import process_gone, read_processes
root, pids = sys.argv[1], [int(p) for p in sys.argv[2:]]
listed = read_processes(root, pids)
print(json.dumps({
    "listed": [[p.pid, p.uid, p.cmd] for p in listed.processes],
    "unreadable": listed.unreadable,
    "gone": [pid for pid in pids if process_gone(root, pid)],
}))
"""


def test_a_root_process_under_hidepid_is_unreadable_not_gone(
    sleeper: subprocess.Popen[bytes],
) -> None:
    """Real EPERM from the kernel: nobody reads its own sleep, not root's; a reaped PID
    is gone. psutil's os.path.exists test would call root's sleep gone (the stat of
    /proc/<pid>/stat fails with EPERM there too)."""
    with hidepid_mountpoint() as mountpoint:
        reason = unavailable(mountpoint)
        if reason is not None:
            pytest.skip(reason)
        ids = f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"
        own = subprocess.Popen(["setpriv", *ids, "--", "sleep", "301"])
        reaped = subprocess.Popen(["true"])
        reaped.wait()
        try:
            pids = sorted([sleeper.pid, own.pid, reaped.pid])
            proc = run_as_nobody(
                mountpoint, [sys.executable, "-c", _READ_AS_NOBODY, mountpoint, *map(str, pids)]
            )
            as_root = read_processes("/proc", pids)
        finally:
            own.kill()
            own.wait()
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen["listed"] == [[own.pid, NOBODY, "sleep 301"]]
    assert seen["unreadable"] == 1  # root's sleep
    assert seen["gone"] == [reaped.pid]
    # the same processes read by root from the ordinary /proc: both there, none unreadable
    assert [p.pid for p in as_root.processes] == sorted([sleeper.pid, own.pid])
    assert as_root.unreadable == 0
