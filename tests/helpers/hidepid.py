"""A real "process there but unreadable": a procfs mounted with ``hidepid=noaccess`` and a
reader that is not root.

Under ``hidepid=noaccess`` (proc(5)) every /proc/<pid> directory stays listed, but a user
may read the files of its own processes only: the kernel answers EPERM for the others.
That is what an agent that runs as a plain user meets on a hardened host, and it is the
case ``top`` must count instead of dropping.

The procfs is mounted in a private mount namespace (``unshare --mount``), so nothing
outside the command sees it, and the command then runs as ``nobody``. The option's
``noaccess`` spelling exists since Linux 5.8, where every procfs mount has options of its
own; older kernels share the options of all the mounts of one PID namespace (mounting
there would change the host's /proc), and they reject the spelling, so the mount fails
and the tests that need it skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

NOBODY = 65534

_IN_NAMESPACE = (
    'mount -t proc -o hidepid=noaccess proc "$0" && '
    f'exec setpriv --reuid={NOBODY} --regid={NOBODY} --clear-groups -- "$@"'
)


def as_nobody_on_hidepid(mountpoint: str, argv: Sequence[str]) -> list[str]:
    """``argv`` run as nobody, with a ``hidepid=noaccess`` procfs at ``mountpoint``."""
    return ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", _IN_NAMESPACE, mountpoint, *argv]  # fmt: skip


@contextmanager
def hidepid_mountpoint() -> Iterator[str]:
    """An empty directory nobody may enter (pytest's tmp_path is root's alone)."""
    path = tempfile.mkdtemp(prefix="wdP-", dir="/tmp")
    try:
        os.chmod(path, 0o755)
        yield path
    finally:
        os.rmdir(path)


def unavailable(mountpoint: str) -> str | None:
    """Why the case cannot be made here (a reason to skip), or None."""
    if os.geteuid() != 0:
        return "needs root: to mount a procfs and to run a command as nobody"
    for tool in ("unshare", "setpriv"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    probe = subprocess.run(
        as_nobody_on_hidepid(mountpoint, ["true"]),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if probe.returncode != 0:
        return f"cannot mount a hidepid=noaccess procfs here: {probe.stderr.strip()}"
    return None


def run_as_nobody(
    mountpoint: str, argv: Sequence[str], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        as_nobody_on_hidepid(mountpoint, argv),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
        cwd="/",
    )
