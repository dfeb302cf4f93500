"""One sampling pass over every target container, producing an immutable Snapshot.

The sampler is synchronous and owns its file descriptors; the server runs it off the
event loop (one pass per interval). A container that vanishes mid-read, or whose cgroup
holds no process any more, is left out of the snapshot (a gap), never reported as zeros.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

from watchdog_agent.errors import ContainerGone
from watchdog_agent.model import (
    CgroupLocation,
    CgroupMode,
    CgroupSample,
    ContainerRef,
    ContainerStats,
    Snapshot,
)

from .fileio import FileReader
from .network import NetReader, netns_inode, own_network
from .parse_cgroup import parse_pid_list
from .parse_proc import SystemCpu, parse_proc_stat
from .rates import derive
from .readers import CLK_TCK, SampleFields, read_limits, read_v1, read_v2

NS = 1_000_000_000
# CgroupSample is built positionally from the readers' SampleFields (ten times cheaper
# than binding some forty keyword arguments); an absent field is None. Nothing is
# filtered: SampleFields has CgroupSample's fields and no other (mypy rejects any other
# key; tests/collectors/test_sampler.py checks the two declarations agree).
_SAMPLE_FIELDS = CgroupSample._fields


@dataclass(frozen=True, slots=True)
class Target:
    """A container to sample: where its cgroup is and, when known, a PID inside it."""

    id: str
    location: CgroupLocation
    pid: int | None = None
    ref: ContainerRef | None = None


@dataclass(slots=True)
class _State:
    target: Target
    prev: CgroupSample | None = None
    net_pid: int | None = None
    netns: int | None = None
    limits: SampleFields | None = None
    limits_age: int = 0


class Sampler:
    """Owns the descriptors and the previous sample of every target.

    Limits (cpu.max, memory.max, pids.max ...) only change on ``docker update``: they are
    read every ``limits_every`` passes, and at once after ``invalidate_limits``.
    """

    def __init__(
        self, proc_root: str = "/proc", mode: CgroupMode = CgroupMode.V2, limits_every: int = 10
    ) -> None:
        self.proc_root = proc_root
        self.mode = mode
        self.limits_every = limits_every
        self.files = FileReader()
        self.net = NetReader(proc_root)
        self._states: dict[str, _State] = {}
        self.passes = 0
        self.errors_total = 0

    def close(self) -> None:
        self.files.close()
        self._states.clear()

    def invalidate_limits(self, cid: str) -> None:
        state = self._states.get(cid)
        if state is not None:
            state.limits = None

    def system_cpu(self, f: FileReader) -> SystemCpu | None:
        return f.get(self.proc_root + "/stat", parse_proc_stat)

    def sample(self, targets: Mapping[str, Target]) -> Snapshot:
        started = time.monotonic()
        wall = time.time()
        f = self.files
        errors_at_start = f.errors
        self.net.begin_cycle()
        host = self.system_cpu(f)
        system_ns = None if host is None else host.total_ticks * (NS // CLK_TCK)
        online = None if host is None else host.online_cpus
        for cid in [c for c in self._states if c not in targets]:
            self._forget(cid)
        out: dict[str, ContainerStats] = {}
        gone: list[str] = []
        for cid, target in targets.items():
            state = self._states.get(cid)
            if state is None or state.target.location != target.location:
                if state is not None:
                    self._forget(cid)
                state = self._states[cid] = _State(target)
            elif state.target.pid != target.pid:  # restarted: new init, maybe new netns
                self._forget(cid, keep_state=True)
            state.target = target
            errors_before = f.errors
            mono = time.monotonic()
            now = time.time()
            try:
                fields = self._read(f, state)
            except ContainerGone:
                fields = None
            if fields is None:
                gone.append(cid)
                self._forget(cid, keep_state=True)
                continue
            fields["container_id"] = cid
            fields["monotonic"] = mono
            fields["wall"] = now
            fields["system_cpu_ns"] = system_ns
            fields["online_cpus"] = online
            fields["errors"] = f.errors - errors_before  # CgroupSample's one non-None default
            sample = CgroupSample._make(map(fields.get, _SAMPLE_FIELDS))
            out[cid] = derive(state.prev, sample, target.ref)
            state.prev = sample
        self.passes += 1
        errors = f.errors - errors_at_start
        self.errors_total += errors
        return Snapshot(
            taken_at=wall,
            mode=self.mode,
            containers=out,
            duration_seconds=time.monotonic() - started,
            errors=errors,
            gone=tuple(gone),
        )

    def _read(self, f: FileReader, state: _State) -> SampleFields | None:
        loc = state.target.location
        fields = read_v2(f, loc) if loc.mode is CgroupMode.V2 else read_v1(f, loc)
        if fields is None:
            return None
        if state.limits is None or state.limits_age >= self.limits_every:
            state.limits = read_limits(f, loc)
            state.limits_age = 0
        state.limits_age += 1
        fields.update(state.limits)
        if state.netns is None:
            pid = state.target.pid or self._first_pid(f, loc)
            if pid is not None:
                state.net_pid, state.netns = pid, netns_inode(self.proc_root, pid)
                if state.netns is None and own_network(state.target.ref):
                    state.netns = -pid  # not an inode: one namespace per process, unnamed
        if state.net_pid is not None and state.netns is not None:
            fields["net"] = self.net.read(f, state.net_pid, state.netns)
            fields["netns"] = state.netns if state.netns > 0 else None
        return fields

    def _first_pid(self, f: FileReader, loc: CgroupLocation) -> int | None:
        d = loc.unified or next(iter(loc.v1.values()), None)
        if d is None:
            return None
        pids = f.get(d + "/cgroup.procs", parse_pid_list)
        return min(pids) if pids else None

    def _forget(self, cid: str, keep_state: bool = False) -> None:
        state = self._states.get(cid)
        if state is None:
            return
        loc = state.target.location
        for d in (loc.unified, *loc.v1.values()):
            if d is not None:
                self.files.forget(d + "/")
        if state.net_pid is not None:
            self.files.forget(f"{self.proc_root}/{state.net_pid}/")
        if keep_state:
            state.net_pid = state.netns = None
            state.limits = None
        else:
            del self._states[cid]
