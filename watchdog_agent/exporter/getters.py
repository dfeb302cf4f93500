"""The getters of the metric table: (ContainerStats, ContainerRef | None) -> samples, and
for the series about every container Docker knows, (ContainerRef, None) -> samples.

A sample is (extra label values, value). A getter yields nothing for an absent value (no
series, never a 0 sample). Each factory decides at construction what to read, so the
per-container call is a field read and a None check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter

from watchdog_agent.model import LIVE_STATES, ContainerRef, ContainerStats, DiskContainer

Sample = tuple[tuple[str, ...], float]
Getter = Callable[[ContainerStats, ContainerRef | None], Iterable[Sample]]
RefGetter = Callable[[ContainerRef, None], Iterable[Sample]]  # the second argument: no sample
DeviceName = Callable[[int, int], str]

NO_LABELS: tuple[str, ...] = ()
NS = 1_000_000_000  # ints: exact division of large nanosecond counters
USEC = 1_000_000
IGNORED_INTERFACES = ("lo", "veth", "docker")  # cAdvisor's ignoredDevicePrefixes


def major_minor(major: int, minor: int) -> str:
    """The ``device`` label when no device name is known (cAdvisor leaves it empty,
    which would merge two devices into one ``container_fs_*{device}`` series)."""
    return f"{major}:{minor}"


def cpu_weight_to_shares(weight: int) -> int | None:
    """cgroup v2 cpu.weight [1, 10000] to v1 cpu.shares (cAdvisor's conversion)."""
    if not 1 <= weight <= 10_000:
        return None
    return 2 + (weight - 1) * 262_142 // 9_999


def one(value: float | None) -> Iterable[Sample]:
    return () if value is None else ((NO_LABELS, value),)


def sample_field(field: str, divisor: int | None = None, labels: tuple[str, ...] = ()) -> Getter:
    """A CgroupSample field, optionally divided (ns -> s); ``labels`` are fixed values."""
    read = attrgetter(field)
    if divisor is None:

        def get(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
            v = read(s.sample)
            return () if v is None else ((labels, v),)

    else:

        def get(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
            v = read(s.sample)
            return () if v is None else ((labels, v / divisor),)

    return get


def or_zero_when_unlimited(limit: str, controller: str) -> Getter:
    """A limit where None means unlimited (-> 0, as cAdvisor), unless the controller's
    usage is unknown too (-> no series: we cannot tell unlimited from unreadable)."""
    read_limit, read_usage = attrgetter(limit), attrgetter(controller)

    def get(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
        v = read_limit(s.sample)
        if v is not None:
            return ((NO_LABELS, v),)
        return () if read_usage(s.sample) is None else ((NO_LABELS, 0),)

    return get


def net(field: str) -> Getter:
    """One NetInterface counter per interface (label ``interface``), cAdvisor's set."""
    read = attrgetter(field)

    def get(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
        ifaces = s.sample.net
        if ifaces is None:
            return ()
        return [
            ((i.name,), read(i))
            for i in ifaces
            if not i.name.lower().startswith(IGNORED_INTERFACES)
        ]

    return get


def psi(resource: str, line: str) -> Getter:
    """A PSI ``some``/``full`` total of ``resource`` (cpu, memory, io), µs -> s."""
    read = attrgetter(f"psi_{resource}")
    pick = attrgetter(line)

    def get(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
        pressure = read(s.sample)
        total = None if pressure is None else pick(pressure)
        return () if total is None else ((NO_LABELS, total.total_usec / USEC),)

    return get


def shares_v2(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
    weight = s.sample.cpu_weight
    return () if weight is None else one(cpu_weight_to_shares(weight))


def throttled_ratio(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
    pct = s.cpu_throttled_percent
    return () if pct is None else ((NO_LABELS, pct / 100.0),)


def start_time(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
    return () if r is None else one(r.started_at)


def last_seen(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
    return ((NO_LABELS, s.sampled_at),)


def working_set(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
    return one(s.memory_working_set_bytes)


def blkio(device_name: DeviceName) -> Getter:
    def get(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
        out: list[Sample] = []
        for d in s.sample.io or ():
            dev, major, minor = device_name(d.major, d.minor), str(d.major), str(d.minor)
            if d.read_bytes is not None:
                out.append(((dev, major, minor, "Read"), d.read_bytes))
            if d.write_bytes is not None:
                out.append(((dev, major, minor, "Write"), d.write_bytes))
        return out

    return get


def fs(device_name: DeviceName, field: str) -> Getter:
    read = attrgetter(field)

    def get(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
        out: list[Sample] = []
        for d in s.sample.io or ():
            v = read(d)
            if v is not None:
                out.append(((device_name(d.major, d.minor),), v))
        return out

    return get


def memory_failures(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
    """pgfault / pgmajfault from memory.stat (the same key in v1 and v2, as cAdvisor)."""
    sample = s.sample
    out: list[Sample] = []
    if sample.memory_pgfault is not None:
        out.append((("pgfault", "container"), sample.memory_pgfault))
    if sample.memory_pgmajfault is not None:
        out.append((("pgmajfault", "container"), sample.memory_pgmajfault))
    return out


# ---------------------------------------------------------------- over the inventory's refs


def state(r: ContainerRef, _: None) -> Iterable[Sample]:
    return (((r.state,), 1),) if r.state else ()


def exit_code(r: ContainerRef, _: None) -> Iterable[Sample]:
    """The last run's exit code, once the container is not running."""
    return () if r.state in LIVE_STATES else one(r.exit_code)


def restarts(r: ContainerRef, _: None) -> Iterable[Sample]:
    return one(r.restart_count)


def oom_killed(r: ContainerRef, _: None) -> Iterable[Sample]:
    return () if r.oom_killed is None else ((NO_LABELS, 1 if r.oom_killed else 0),)


def fs_usage(c: DiskContainer, _: None) -> Iterable[Sample]:
    """A container's writable layer from the disk sample (Docker's SizeRw)."""
    return one(c.size_rw)
