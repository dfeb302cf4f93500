"""Per-container network counters from /proc/<pid>/net/dev of a process in the container.

/proc/<pid>/net shows the network namespace of *that* process (proc(5)); the agent's own
/proc/net would show its own. Each namespace is read once per cycle, so containers that
share one (``--network container:X``, pods) get the same counters from one read, and a
container in the host's namespace (``--network host``) gets none: those are the host's
counters, not the container's.

Naming a namespace (``stat`` of /proc/<pid>/ns/net) takes ptrace access to the process,
which an agent that is not root lacks, while net/dev itself is readable by anyone. Then
Docker's word decides: a container whose NetworkMode is not ``host`` is read by its own
process (the namespace unnamed, so shared ones are read once per container); without
Docker's word nothing is read, rather than the host's counters by mistake.
"""

from __future__ import annotations

import os

from watchdog_agent.model import ContainerRef, NetInterface

from .fileio import FileReader
from .parse_proc import parse_net_dev


def netns_inode(proc_root: str, pid: int | str) -> int | None:
    try:
        return os.stat(f"{proc_root}/{pid}/ns/net").st_ino
    except OSError:
        return None


def own_network(ref: ContainerRef | None) -> bool:
    """Docker says the container does not use the host's network namespace."""
    return ref is not None and ref.network_mode is not None and ref.network_mode != "host"


class NetReader:
    """Reads net/dev once per namespace per cycle. ``begin_cycle`` resets the cache."""

    def __init__(self, proc_root: str) -> None:
        self.proc_root = proc_root
        self.host_netns = netns_inode(proc_root, 1)
        self._cycle: dict[int, tuple[NetInterface, ...] | None] = {}

    def begin_cycle(self) -> None:
        self._cycle = {}

    def read(self, f: FileReader, pid: int, netns: int) -> tuple[NetInterface, ...] | None:
        if netns == self.host_netns:
            return None
        if netns in self._cycle:
            return self._cycle[netns]
        value = f.memo(f"{self.proc_root}/{pid}/net/dev", parse_net_dev)[0]
        self._cycle[netns] = value
        return value
