"""cgroup mode detection and where containers' cgroups live.

The mode is decided by which files exist under the (injectable) cgroup root, the same
outcome as runc's statfs test: ``<root>/cgroup.controllers`` only exists on a unified
(v2) mount, ``<root>/unified/cgroup.controllers`` on a hybrid host.
"""

from __future__ import annotations

import os

from watchdog_agent.model import CgroupLocation, CgroupMode

from .cgroupwalk import container_id_of, walk
from .parse_proc import CgroupLine

__all__ = ["Layout", "container_id_of", "detect_mode", "unified_root", "v1_mounts"]

# v1 controllers the readers use; the directory names differ between hosts
# ("cpu" and "cpuacct" apart, or "cpu,cpuacct" with symlinks).
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "blkio", "pids")


def detect_mode(cgroup_root: str) -> CgroupMode:
    if os.path.exists(os.path.join(cgroup_root, "cgroup.controllers")):
        return CgroupMode.V2
    if os.path.exists(os.path.join(cgroup_root, "unified", "cgroup.controllers")):
        return CgroupMode.HYBRID
    return CgroupMode.V1


def unified_root(cgroup_root: str, mode: CgroupMode) -> str | None:
    if mode is CgroupMode.V2:
        return cgroup_root
    if mode is CgroupMode.HYBRID:
        return os.path.join(cgroup_root, "unified")
    return None


def v1_mounts(cgroup_root: str) -> dict[str, str]:
    """controller -> its v1 mount directory, for the controllers the readers use."""
    mounts: dict[str, str] = {}
    try:
        names = sorted(os.listdir(cgroup_root))
    except OSError:
        return mounts
    for name in names:
        path = os.path.join(cgroup_root, name)
        if not os.path.isdir(path):
            continue
        for controller in name.split(","):
            if controller in V1_CONTROLLERS and controller not in mounts:
                mounts[controller] = path
    return mounts


class Layout:
    """The cgroup layout of one host: mode plus mount points. Built once at start."""

    def __init__(self, cgroup_root: str, mode: CgroupMode | None = None) -> None:
        self.root = cgroup_root
        self.mode = detect_mode(cgroup_root) if mode is None else mode
        self.unified = unified_root(cgroup_root, self.mode)
        self.v1 = v1_mounts(cgroup_root) if self.mode is not CgroupMode.V2 else {}

    def location(self, rel: str, v1_rel: dict[str, str] | None = None) -> CgroupLocation:
        """A location from a cgroup path relative to the hierarchy roots (``/docker/<id>``).
        ``v1_rel`` gives per-controller paths when they differ (from /proc/<pid>/cgroup)."""
        rel = rel.lstrip("/")
        unified = os.path.join(self.unified, rel) if self.unified is not None else None
        v1 = {
            ctrl: os.path.join(mount, (v1_rel or {}).get(ctrl, rel).lstrip("/"))
            for ctrl, mount in self.v1.items()
        }
        return CgroupLocation(mode=self.mode, unified=unified, v1=v1)

    def location_from_lines(self, lines: tuple[CgroupLine, ...]) -> CgroupLocation | None:
        """A process's location from its /proc/<pid>/cgroup lines."""
        unified_rel: str | None = None
        v1_rel: dict[str, str] = {}
        for line in lines:
            if line.hierarchy_id == 0 and not line.controllers:
                unified_rel = line.path
            for ctrl in line.controllers:
                if ctrl in V1_CONTROLLERS:
                    v1_rel[ctrl] = line.path
        if self.mode is CgroupMode.V2:
            return None if unified_rel is None else self.location(unified_rel)
        if not v1_rel:
            return None
        base = v1_rel.get("memory") or next(iter(v1_rel.values()))
        loc = self.location(base, v1_rel)
        if self.mode is CgroupMode.HYBRID and unified_rel is None:
            return CgroupLocation(mode=loc.mode, unified=None, v1=loc.v1)
        if unified_rel is not None and self.unified is not None:
            unified = os.path.join(self.unified, unified_rel.lstrip("/"))
            return CgroupLocation(mode=loc.mode, unified=unified, v1=loc.v1)
        return loc

    def discover(self) -> dict[str, CgroupLocation]:
        """Container cgroups found by path, without Docker: id -> location."""
        walk_root = self.unified if self.mode is CgroupMode.V2 else self._v1_walk_root()
        if walk_root is None:
            return {}
        found: dict[str, CgroupLocation] = {}
        for rel, cid in walk(walk_root, ""):
            if cid not in found:
                found[cid] = self.location(rel)
        return found

    def _v1_walk_root(self) -> str | None:
        for ctrl in ("memory", "cpuacct", "pids", "cpu", "blkio"):
            if ctrl in self.v1:
                return self.v1[ctrl]
        return self.unified
