"""One sampling pass over every target container, producing an immutable Snapshot.

The sampler is synchronous and owns its file descriptors; the server runs it off the
event loop (one pass per interval). A container that vanishes mid-read, or whose cgroup
holds no process any more, is left out of the snapshot (a gap), never reported as zeros.

What is read when (the cost of a pass; docs/metrics.md "How fresh each field is"):

- Every pass, every container (``readers.read_fast`` and the network): CPU usage,
  user/system and throttling, memory usage, block I/O and network counters. So every
  counter a rate is made of (here or by a client) is read when its sample is dated.
- The rest (``readers.read_slow``: memory.stat's breakdown and faults, memory.events,
  peaks, swap, pids, PSI) when CPU or memory usage moved since the previous pass, else
  kept from the previous read, at most ``full_every`` passes and ``full_seconds``
  seconds old (staggered between containers so that idle ones do not all come due in
  the same pass), and on every pass while one of its files fails (errors stay counted).
- Limits (cpu.max, memory.max, pids.max ...) after ``invalidate_limits`` (the agent
  calls it on a ``docker update`` event), when the target's ref (Docker's inspect
  document) says other limits, and at most ``limits_every`` passes and
  ``limits_seconds`` seconds old otherwise.
"""

from __future__ import annotations

import time
import zlib
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
from .rates import cpu_percent, derive, throttled_percent
from .readers import CLK_TCK, SampleFields, read_fast, read_limits, read_slow

NS = 1_000_000_000
# CgroupSample is built positionally from the readers' SampleFields (ten times cheaper
# than binding some forty keyword arguments); an absent field is None. Nothing is
# filtered: SampleFields has CgroupSample's fields and no other (mypy rejects any other
# key; tests/collectors/test_sampler.py checks the two declarations agree).
_SAMPLE_FIELDS = CgroupSample._fields


def _limits(ref: ContainerRef | None) -> tuple[object, ...]:
    if ref is None:
        return ()
    return (ref.memory_limit_bytes, ref.cpu_limit, ref.pids_limit)


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
    limits_age: int = 0  # passes since the limits were read
    limits_at: float = 0.0  # monotonic time they were read
    fields: SampleFields | None = None  # the slow group's last read, then this pass's
    skipped: int = 0  # passes since the slow group was read
    full_at: float = 0.0  # monotonic time it was read
    slow_errors: int = 0  # files of the slow group that failed at its last read
    stats: ContainerStats | None = None  # what the previous pass served
    stats_ref: ContainerRef | None = None  # ... with this ref's name and image


class Sampler:
    """Owns the descriptors and the previous sample of every target.

    ``full_every``/``full_seconds`` bound how old the slow group may get on a container
    that did not move (1 and 0: every pass reads everything); limits (they only change
    on ``docker update``) are read at once after ``invalidate_limits`` and otherwise at
    most ``limits_every`` passes and ``limits_seconds`` seconds apart.
    """

    def __init__(
        self,
        proc_root: str = "/proc",
        mode: CgroupMode = CgroupMode.V2,
        limits_every: int = 60,
        *,
        limits_seconds: float = 60.0,
        full_every: int = 10,
        full_seconds: float = 10.0,
    ) -> None:
        self.proc_root = proc_root
        self.mode = mode
        self.limits_every = limits_every
        self.limits_seconds = limits_seconds
        self.full_every = full_every
        self.full_seconds = full_seconds
        self.slow_reads = 0  # containers whose slow group was read, over every pass
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
            elif state.target.ref is not target.ref and _limits(state.target.ref) != _limits(
                target.ref
            ):  # Docker's word on the limits changed (docker update): read them now
                state.limits = None
            state.target = target
            errors_before = f.errors
            mono = time.monotonic()
            now = time.time()
            try:
                fields = self._read(f, state, mono)
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
            prev, stats = state.prev, state.stats
            if (
                prev is not None
                and stats is not None
                and state.stats_ref is target.ref
                and sample[3:-3] == prev[3:-3]
            ):  # nothing moved: only the times and the rates over them are new
                stats = ContainerStats._make(
                    (cid, now, sample, stats[3], stats[4], cpu_percent(prev, sample), stats[6],
                     stats[7], throttled_percent(prev, sample), *stats[9:])
                )  # fmt: skip
            else:
                stats = derive(prev, sample, target.ref)
            out[cid] = state.stats = stats
            state.stats_ref = target.ref
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

    def _read(self, f: FileReader, state: _State, mono: float) -> SampleFields | None:
        loc = state.target.location
        fast, moved = read_fast(f, loc)
        fields = state.fields
        if (
            fields is None
            or moved
            or state.slow_errors
            or state.skipped >= self.full_every
            or mono - state.full_at >= self.full_seconds
        ):
            errors = f.errors
            fields = read_slow(f, loc)
            if fields is None:
                return None
            self.slow_reads += 1
            state.slow_errors = f.errors - errors
            if state.fields is None:  # first read: stagger when idle ones come due
                lag = zlib.crc32(state.target.id.encode()) % max(1, self.full_every)
                state.skipped = lag
                state.full_at = mono - lag * self.full_seconds / max(1, self.full_every)
            else:
                state.skipped, state.full_at = 0, mono
            state.fields = fields
        state.skipped += 1
        fields.update(fast)
        if (
            state.limits is None
            or state.limits_age >= self.limits_every
            or mono - state.limits_at >= self.limits_seconds
        ):
            if state.limits is None:  # first read: stagger the backstop too
                lag = zlib.crc32(state.target.id.encode()) % max(1, self.limits_every)
                state.limits_age = lag
                state.limits_at = mono - lag * self.limits_seconds / max(1, self.limits_every)
            else:
                state.limits_age, state.limits_at = 0, mono
            state.limits = read_limits(f, loc)
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
        else:  # fields outlive the pass: what is not read now is absent, not the last value
            fields["net"] = fields["netns"] = None
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
            state.limits = state.fields = None
        else:
            del self._states[cid]
