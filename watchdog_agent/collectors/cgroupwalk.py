"""Container cgroups found by path, and the first CPU read of each: the standard library
only, so a one-shot command can take those reads before it imports anything else
(cpuwindow.begin_discovered takes them over). cgroupfs.Layout.discover walks the same way.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator

_ID = r"[0-9a-f]{64}"
# basename patterns of container cgroups, tried in order: the leaf name each runtime and
# cgroup driver gives a container, then a bare id
_LEAF_PATTERNS = (
    re.compile(rf"^docker-({_ID})\.scope$"),  # Docker, systemd driver
    re.compile(rf"^libpod-({_ID})\.scope$"),  # podman
    re.compile(rf"^cri-containerd-({_ID})\.scope$"),  # containerd CRI, systemd
    re.compile(rf"^crio-({_ID})\.scope$"),  # CRI-O, systemd
    re.compile(rf"^({_ID})$"),  # cgroupfs driver (/docker/<id>), custom parent, kubepods
)


def container_id_of(basename: str) -> str | None:
    """The container id a cgroup directory name stands for, or None."""
    for pattern in _LEAF_PATTERNS:
        match = pattern.match(basename)
        if match:
            return match.group(1)
    return None


def walk(top: str, rel: str) -> Iterator[tuple[str, str]]:
    """(relative path, id) of container directories; does not descend into them."""
    try:
        entries = list(os.scandir(top + rel))
    except OSError:
        return
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False) or entry.name.endswith(".mount"):
            continue
        child = f"{rel}/{entry.name}"
        cid = container_id_of(entry.name)
        if cid is not None:
            yield child, cid
        else:
            yield from walk(top, child)


def first_reads(cgroup_root: str) -> dict[str, tuple[int, float]]:
    """The unified hierarchy's ``cpu.stat`` of every container found by path -> (usage in
    ns, ``time.monotonic()`` just before the read); empty on a host without one (cgroup v1
    only: the window reads those containers when it begins) or where nothing is found."""
    if os.path.exists(os.path.join(cgroup_root, "cgroup.controllers")):
        top = cgroup_root
    elif os.path.exists(os.path.join(cgroup_root, "unified", "cgroup.controllers")):
        top = os.path.join(cgroup_root, "unified")
    else:
        return {}
    reads: dict[str, tuple[int, float]] = {}
    for rel, _ in walk(top, ""):
        path = os.path.join(top, rel.lstrip("/"), "cpu.stat")
        now = time.monotonic()
        try:
            with open(path, "rb") as f:
                data = f.read(4096)
        except OSError:
            continue  # gone, or unreadable: the window reads it again (and says so)
        usage = _USAGE.search(data)
        if usage is not None:
            reads[path] = (int(usage.group(1)) * 1000, now)
    return reads


_USAGE = re.compile(rb"^usage_usec (\d+)$", re.MULTILINE)
