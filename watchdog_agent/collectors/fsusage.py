"""The filesystem holding Docker's data root, as ``df`` sees it (statvfs; blocking: call
it from a thread).

The data root is measured through ``<proc_root>/1/root<DockerRootDir>``, the data root as
PID 1 of the host sees it, so an agent in a container with the host's /proc mounted
measures the host's filesystem, not its own. Where PID 1's root cannot be read (no
CAP_SYS_PTRACE, or a sandbox whose PID 1 is not the host's init: on these machines
/proc/1/root answers EACCES even to root) and the reader uses /proc itself, it measures
``DockerRootDir`` as it sees it; ``FsUsage.path`` says which path was measured.
"""

from __future__ import annotations

import os

from watchdog_agent.model import FsUsage

HOST_PROC = "/proc"


def data_root_path(proc_root: str, data_root: str) -> str:
    """The data root as the host's PID 1 sees it (/proc/1/root/var/lib/docker)."""
    return os.path.join(proc_root, "1", "root", data_root.lstrip("/"))


def fs_usage(path: str) -> FsUsage:
    """statvfs(3) of ``path`` as df computes it (raises OSError)."""
    st = os.statvfs(path)
    frsize = st.f_frsize or st.f_bsize
    return FsUsage(
        path=path,
        size_bytes=st.f_blocks * frsize,
        used_bytes=(st.f_blocks - st.f_bfree) * frsize,
        free_bytes=st.f_bavail * frsize,
        inodes_total=st.f_files or None,  # 0: no inode table (btrfs, ...): not known
        inodes_free=st.f_ffree if st.f_files else None,
    )


def measure_data_root(proc_root: str, data_root: str) -> FsUsage | None:
    """The data root's filesystem, through PID 1's root; None when it cannot be read."""
    try:
        return fs_usage(data_root_path(proc_root, data_root))
    except OSError:
        if os.path.normpath(proc_root) != HOST_PROC:
            return None
    try:  # the reader's own /proc: it sees the host's paths as they are
        return fs_usage(data_root)
    except OSError:
        return None
