"""The CPU window of a one-shot reading: `stats --no-stream`, the first frame of `stats`, `top`.

CPU % needs two reads of a container's CPU usage. Over a short wall-clock window a
quota-limited container reads anywhere between 46 and 58 % of a half-core limit: it runs
in bursts (the whole quota at the start of each CFS period, then nothing until the next),
so the window's phase decides how many bursts it holds. The kernel says where the periods
begin: ``nr_periods`` in cpu.stat counts the period timer's ticks. So:

- A container with a CFS quota is measured over ``PERIODS`` whole periods. Its cpu.stat
  is polled every ``POLL`` seconds; when ``nr_periods`` has moved, the usage read by the
  poll *before* (read before that period began) is the usage at that boundary, exactly
  so for a throttled container, which runs nothing between its throttling and the next
  boundary. The percentage is usage over the whole periods' length: a throttled
  ``--cpus 0.5`` loop reads ``PERIODS x quota / (PERIODS x period)``, 50.0 %. A boundary
  seen by a poll that came late (this process was not scheduled: the read before may
  have been taken in the container's burst) is not used, unless the first boundary's
  time and the period place it less than MAX_GAP after that read; the window waits for
  the next.
- A container without a quota (or whose period timer does not tick: an idle container
  stops it) is measured over ``WALL_WINDOW`` seconds of the monotonic clock, each read
  timed where it happens. Usage of a running task is brought up to date at every
  scheduler tick (4 ms at HZ=250), so the rate is within one tick per end: +-2 points of a
  core over 0.2 s. An idle container's usage does not move: 0.0.

All containers share one window (they are polled together), so 50 containers cost one
window, not 50. A one-shot command begins it before it knows its containers (``begin``,
``begin_discovered``: the first read of every container found by cgroup path), so its
imports, Docker's answers and its sample happen inside the window: a container without a
quota is then measured over 0.2 s or longer (each end timed where it is read), one with
a quota from the polls' start as above.

The denominator is elapsed time, so 100 % is one core (docker's scale); docker divides
by the host's /proc/stat ticks instead, which move in 10 ms steps and leave out steal time
on a virtual machine, too coarse for a 0.2 s window.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from watchdog_agent.errors import ContainerGone, WatchdogError
from watchdog_agent.model import CgroupLocation, CgroupMode, ContainerStats

from .fileio import FileReader
from .parse_cgroup import parse_cpu_max, parse_flat_keyed, parse_int, parse_v1_quota

PERIODS = 2  # whole CFS periods a quota-limited container is measured over
WALL_WINDOW = 0.2  # seconds, for the others
POLL = 0.002  # seconds between two polls of a quota-limited container's cpu.stat
MAX_GAP = 4 * POLL  # seconds: a boundary seen later than this after the previous read is skipped
MAX_PERIOD = 0.25  # seconds: a longer period (docker --cpu-period) uses the wall window
NS = 1_000_000_000

# `--help` text of the commands that take a one-shot reading
WINDOW_HELP = (
    f"CPU % is measured over {PERIODS} whole CFS periods for a container with a CPU quota "
    f"(the kernel's nr_periods marks where they begin: {PERIODS * 0.1:.1f} s at docker's "
    "100 ms period, after up to one period's wait for the first) and over "
    f"{WALL_WINDOW:.1f} s for the others; all containers share one window. 100 % is one core."
)


@dataclass(frozen=True, slots=True)
class Mark:
    """One read of a container's CPU counters."""

    usage_ns: int
    periods: int | None
    throttled: int | None
    monotonic: float
    extra: Any = None  # what the caller read along (top: each process's CPU time)


@dataclass(frozen=True, slots=True)
class CpuReading:
    """A container's CPU over the window: percent of one core, share of periods throttled."""

    percent: float | None
    throttled_percent: float | None
    seconds: float  # the length of the window the percent covers
    periods: int | None = None  # whole CFS periods it covers, when bounded by them
    start: Mark | None = None  # the two reads it comes from
    end: Mark | None = None


@dataclass(slots=True)
class _Probe:
    usage_path: str
    usage_v2: bool  # cpu.stat usage_usec (else cpuacct.usage, ns)
    periods_path: str | None
    period_s: float | None  # the CFS period when a quota is set
    first: Mark | None = None
    last: Mark | None = None
    start: Mark | None = None  # the boundary read (pre-boundary usage)
    start_after: Mark | None = None  # the first read after that boundary
    last_cross: float | None = None  # when nr_periods was last seen to move
    result: CpuReading | None = None

    def read(self, f: FileReader) -> Mark | None:
        now = time.monotonic()
        if self.usage_v2:
            stat = f.get(self.usage_path, parse_flat_keyed)
            usec = None if stat is None else stat.get("usage_usec")
            usage = None if usec is None else usec * 1000
        else:
            stat = None
            usage = f.get(self.usage_path, parse_int)
        if usage is None:
            return None
        periods = throttled = None
        if self.periods_path is not None:
            pstat = stat if self.periods_path == self.usage_path else None
            if pstat is None:
                pstat = f.get(self.periods_path, parse_flat_keyed)
            if pstat is not None:
                periods, throttled = pstat.get("nr_periods"), pstat.get("nr_throttled")
        return Mark(usage, periods, throttled, now)


def _paths(loc: CgroupLocation) -> tuple[str, bool, str | None] | None:
    """Where a container's usage (and whether it is cgroup v2's cpu.stat) and its period
    counters are; None when its usage has no file."""
    if loc.mode is CgroupMode.V2:
        assert loc.unified is not None
        return loc.unified + "/cpu.stat", True, loc.unified + "/cpu.stat"
    cpu_v1 = loc.v1.get("cpu")
    periods = None if cpu_v1 is None else cpu_v1 + "/cpu.stat"
    if loc.unified is not None:
        return loc.unified + "/cpu.stat", True, periods
    if (acct := loc.v1.get("cpuacct")) is not None:
        return acct + "/cpuacct.usage", False, periods
    return None


def probe(f: FileReader, loc: CgroupLocation) -> _Probe | None:
    """Where a container's usage and period counters are, and its CFS period if it has
    a quota; None when its usage cannot be read."""
    paths = _paths(loc)
    if paths is None:
        return None
    quota: int | None = None
    period_us: int | None = None
    if loc.mode is CgroupMode.V2:
        assert loc.unified is not None
        qp = f.get(loc.unified + "/cpu.max", parse_cpu_max, keep=False)
        if qp is not None:
            quota, period_us = qp
    elif (cpu_v1 := loc.v1.get("cpu")) is not None:
        quota = f.get(cpu_v1 + "/cpu.cfs_quota_us", parse_v1_quota, keep=False)
        period_us = f.get(cpu_v1 + "/cpu.cfs_period_us", parse_int, keep=False)
    period = None
    if quota is not None and period_us and period_us / 1e6 <= MAX_PERIOD:
        period = period_us / 1e6
    return _Probe(*paths, period)


def _throttled(a: Mark, b: Mark) -> float | None:
    if None in (a.periods, b.periods, a.throttled, b.throttled):
        return None
    assert a.periods is not None and b.periods is not None
    assert a.throttled is not None and b.throttled is not None
    dp, dt = b.periods - a.periods, b.throttled - a.throttled
    if dp < 0 or dt < 0:
        return None
    return dt / dp * 100.0 if dp else 0.0


def _wall(a: Mark, b: Mark) -> CpuReading:
    seconds = b.monotonic - a.monotonic
    used = b.usage_ns - a.usage_ns
    percent = used / NS / seconds * 100.0 if seconds > 0 and used >= 0 else None
    return CpuReading(percent, _throttled(a, b), seconds, None, a, b)


def _step(p: _Probe, cur: Mark, periods: int, wall: float) -> None:
    """Advance one container's window with a new read; sets ``p.result`` when done."""
    first, last = p.first, p.last
    assert first is not None and last is not None
    p.last = cur
    if p.period_s is None or cur.periods is None or last.periods is None:
        if cur.monotonic - first.monotonic >= wall:
            p.result = _wall(first, cur)
        return
    if cur.periods < last.periods:  # counters reset (cgroup recreated): start over
        p.first, p.start = cur, None
        return
    # a boundary counts only when the read before it is recent: a poll that came late (this
    # process not scheduled) may have read the usage before the container's burst ended
    crossed = cur.periods > last.periods
    usable = crossed and cur.monotonic - last.monotonic <= MAX_GAP
    if crossed:
        p.last_cross = cur.monotonic
    if p.start is None:
        if usable:
            p.start, p.start_after = last, cur
        elif (
            cur.monotonic - (p.last_cross or first.monotonic) >= 1.5 * p.period_s  # idle timer
            or cur.monotonic - first.monotonic >= (periods + 2) * p.period_s  # all seen late
        ):
            p.period_s = None  # the wall window, from the first read
        return
    assert p.start.periods is not None and p.start_after is not None
    n = last.periods - p.start.periods if crossed else 0
    if n and not usable:
        # the period timer keeps its phase: this boundary came n periods after the first,
        # which was at most at start_after; a read before it within MAX_GAP is good too
        usable = p.start_after.monotonic + n * p.period_s - last.monotonic <= MAX_GAP
    n = n if usable else 0
    if n >= periods:
        elapsed = last.monotonic - p.start.monotonic
        if elapsed > (n + 0.5) * p.period_s:  # the timer stopped between: time it
            p.result = _wall(p.start, last)
            return
        used = last.usage_ns - p.start.usage_ns
        seconds = n * p.period_s
        percent = used / NS / seconds * 100.0 if used >= 0 else None
        p.result = CpuReading(percent, _throttled(p.start_after, cur), seconds, n, p.start, last)
    elif cur.monotonic - p.start.monotonic >= (periods + 2) * p.period_s:
        p.result = _wall(p.start, cur)  # the timer stopped, or boundaries seen late: timed


class Window:
    """A window begun before the containers are known for sure (``begin``): the first read
    of every container found so far, so the wait overlaps with the rest of a one-shot
    command (imports, Docker's list, the sample). ``measure`` takes it over: a container
    without a quota whose usage file is the same keeps its first read (its window is then
    0.2 s or longer, each end timed where it was read); a container with a quota starts
    its periods when the polls start, as without a begun window; any other is read then.
    Owns its reader: ``measure`` closes it, and so does ``close`` (idempotent)."""

    def __init__(self, root: str | None = None) -> None:
        self.root = root  # the cgroup root its containers were found under (begin_discovered)
        self.reader = FileReader()
        self.early: dict[str, _Probe] = {}

    def close(self) -> None:
        self.early.clear()
        self.reader.close()

    def take(
        self, locations: Mapping[str, CgroupLocation], extra: Callable[[str], Any] | None
    ) -> dict[str, _Probe]:
        """Probes with their first read for these containers (see the class)."""
        probes: dict[str, _Probe] = {}
        for cid, loc in locations.items():
            p = self.early.get(cid) if extra is None else None
            if p is not None and (p.usage_path, p.usage_v2, p.periods_path) != _paths(loc):
                p = None  # not the cgroup read before
            if p is not None and p.period_s is None:
                probes[cid] = p  # a wall-clock window: its first read stands
                continue
            try:  # a quota's periods start with the polls: read again
                p = probe(self.reader, loc) if p is None else p
                mark = None if p is None else _read(self.reader, p, cid, extra)
            except ContainerGone:
                continue
            if p is not None and mark is not None:
                p.first = p.last = mark
                probes[cid] = p
        self.early.clear()
        return probes


def begin(
    locations: Mapping[str, CgroupLocation],
    root: str | None = None,
    reads: Mapping[str, tuple[int, float]] | None = None,
) -> Window:
    """A window with the first read of these containers: pass it to ``measure`` once the
    containers are known for sure. ``reads``: usage file -> (usage in ns, monotonic time)
    read earlier still (cgroupwalk.first_reads); a container without a quota whose usage
    file is there starts its window at that read (its period counters, which do not move
    without a quota, come from the read here)."""
    window = Window(root)
    try:
        window.early = window.take(locations, None)
    except BaseException:
        window.close()
        raise
    for p in window.early.values():
        raw = None if reads is None or p.period_s is not None else reads.get(p.usage_path)
        if raw is not None and p.first is not None and raw[0] <= p.first.usage_ns:
            p.first = p.last = replace(p.first, usage_ns=raw[0], monotonic=raw[1])
    return window


def begin_discovered(
    cgroup_root: str, reads: Mapping[str, tuple[int, float]] | None = None
) -> Window | None:
    """A window begun on every container found by cgroup path under ``cgroup_root``
    (cgroupfs.Layout.discover: no Docker needed), as a one-shot command starts, with the
    earlier ``reads`` (``begin``); None when the tree cannot be read (the command then
    begins its window when it knows its containers)."""
    from .cgroupfs import Layout

    try:
        return begin(Layout(cgroup_root).discover(), cgroup_root, reads)
    except WatchdogError:
        return None


async def measure(
    locations: Mapping[str, CgroupLocation],
    periods: int = PERIODS,
    wall: float = WALL_WINDOW,
    poll: float = POLL,
    extra: Callable[[str], Any] | None = None,
    begun: Window | None = None,
) -> dict[str, CpuReading]:
    """Every container's CPU over one shared window (module docstring); a container that
    vanishes or cannot be read is left out (a gap). ``extra(id)``, when given, is read
    with each read of that container and kept on its Mark (``start.extra``, ``end.extra``
    of the result: the same two moments as the container's usage). ``begun``: a window
    whose first reads were taken earlier (``begin``), closed here.

    The polls run in a worker thread, off the event loop (the server's `top` route calls
    this too); the window is bounded (a few periods at most), so the thread always ends.
    """
    import asyncio  # here: a command begins its window before importing asyncio (begin)

    return await asyncio.to_thread(measure_sync, locations, periods, wall, poll, extra, begun)


def measure_sync(
    locations: Mapping[str, CgroupLocation],
    periods: int = PERIODS,
    wall: float = WALL_WINDOW,
    poll: float = POLL,
    extra: Callable[[str], Any] | None = None,
    begun: Window | None = None,
) -> dict[str, CpuReading]:
    """``measure``, blocking the calling thread for the window."""
    window = Window() if begun is None else begun
    f = window.reader
    try:
        probes = window.take(locations, extra)
        pending = dict(probes)
        while pending:
            quota = any(p.period_s is not None for p in pending.values())
            delay = poll if quota else max(0.0, wall - (time.monotonic() - _oldest(pending)))
            time.sleep(delay)
            now = time.monotonic()
            for cid, p in list(pending.items()):
                if p.period_s is None and p.first is not None and now - p.first.monotonic < wall:
                    continue  # a wall-clock window: nothing to poll before its end
                try:
                    cur = _read(f, p, cid, extra)
                except ContainerGone:
                    cur = None
                if cur is None:
                    del pending[cid], probes[cid]
                    continue
                _step(p, cur, periods, wall)
                if p.result is not None:
                    del pending[cid]
        return {cid: p.result for cid, p in probes.items() if p.result is not None}
    finally:
        window.close()


def _read(f: FileReader, p: _Probe, cid: str, extra: Callable[[str], Any] | None) -> Mark | None:
    mark = p.read(f)
    if mark is None or extra is None:
        return mark
    return replace(mark, extra=extra(cid))


def _oldest(probes: Mapping[str, _Probe]) -> float:
    return min(p.first.monotonic for p in probes.values() if p.first is not None)


def apply(stats: ContainerStats, reading: CpuReading | None) -> ContainerStats:
    """The row with the window's CPU % and throttled share (a gap where there is none)."""
    if reading is None:
        return stats._replace(cpu_percent=None, cpu_throttled_percent=None)
    return stats._replace(
        cpu_percent=reading.percent, cpu_throttled_percent=reading.throttled_percent
    )
