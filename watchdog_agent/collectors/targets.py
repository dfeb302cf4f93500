"""Turn what is known about containers into sampling targets.

With Docker, a running container's cgroup is found from /proc/<State.Pid>/cgroup, so
any cgroup driver or parent works. Without Docker, containers are discovered by path.

An agent in a cgroup namespace of its own (a container on a cgroup v2 host: Docker's
default there, and a pod's) reads other processes' cgroup paths relative to its own
namespace root, as ``/../<sibling>`` (cgroup_namespaces(7)): those paths cannot be joined
onto the cgroup mount, so such a container is found by path, by its id, like the
discovery without Docker does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from watchdog_agent.errors import ContainerGone
from watchdog_agent.model import CgroupLocation, ContainerRef

from .cgroupfs import Layout
from .fileio import FileReader
from .parse_proc import CgroupLine, parse_pid_cgroup
from .sampler import Target

Discovered = Callable[[], Mapping[str, CgroupLocation]]


def outside_namespace(lines: tuple[CgroupLine, ...]) -> bool:
    """True when a path lies outside the reader's cgroup namespace (``/..`` first)."""
    return any(line.path == "/.." or line.path.startswith("/../") for line in lines)


def target_for(
    layout: Layout, proc_root: str, ref: ContainerRef, discovered: Discovered | None = None
) -> Target | None:
    """The target of a running container, or None when it has no process to anchor on.
    ``discovered`` gives the containers found by path (one walk, shared by a pass)."""
    if ref.pid is None:
        return None
    try:  # read once: no descriptor kept, and no reader shared between threads
        lines = FileReader(keep=0).get(f"{proc_root}/{ref.pid}/cgroup", parse_pid_cgroup, False)
    except ContainerGone:
        return None
    if lines is None:
        return None  # exited since it was listed (normal flow), or unreadable
    if outside_namespace(lines):
        location = (discovered or layout.discover)().get(ref.id)
    else:
        location = layout.location_from_lines(lines)
    if location is None:
        return None
    return Target(id=ref.id, location=location, pid=ref.pid, ref=ref)


class TargetCache:
    """Keeps targets per (container id, init PID) so /proc/<pid>/cgroup is read once."""

    def __init__(self, layout: Layout, proc_root: str) -> None:
        self.layout = layout
        self.proc_root = proc_root
        self._known: dict[tuple[str, int], Target] = {}

    def targets(self, refs: Iterable[ContainerRef]) -> dict[str, Target]:
        out: dict[str, Target] = {}
        keep: dict[tuple[str, int], Target] = {}
        found: list[Mapping[str, CgroupLocation]] = []

        def discovered() -> Mapping[str, CgroupLocation]:
            if not found:  # walked at most once per pass, and only when needed
                found.append(self.layout.discover())
            return found[0]

        for ref in refs:
            if ref.pid is None:
                continue
            key = (ref.id, ref.pid)
            target = self._known.get(key)
            if target is None or target.ref != ref:
                located = target_for(self.layout, self.proc_root, ref, discovered)
                if located is None:
                    continue
                target = located
            keep[key] = target
            out[ref.id] = target
        self._known = keep
        return out


def discovered_targets(layout: Layout) -> dict[str, Target]:
    """Targets found by cgroup path alone (no Docker): reported by id."""
    return {
        cid: Target(id=cid, location=loc, ref=ContainerRef(id=cid))
        for cid, loc in layout.discover().items()
    }
