"""Immutable value types: the only types that cross package boundaries.

Absent, zero and unlimited are different values: ``None`` always means "not known" or
"unlimited" as the field's doc says, never 0.

Most types are frozen slotted dataclasses. The records built for every container on
every sampling pass (CgroupSample, ContainerStats and their parts) are NamedTuples,
equally immutable: a frozen dataclass sets each field through object.__setattr__, and
that cost 11.7 µs for one CgroupSample on these machines against 0.8 µs for a
NamedTuple built positionally (bench/sampling.py measures the whole pass).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

# container states (Docker's State.Status) in which the container has processes
LIVE_STATES = frozenset({"running", "paused", "restarting"})


class CgroupMode(enum.StrEnum):
    """How the host mounts cgroups."""

    V2 = "v2"  # unified: one cgroup2 hierarchy at the cgroup root
    HYBRID = "hybrid"  # v1 controllers plus a cgroup2 mount at <root>/unified
    V1 = "v1"  # legacy: v1 controllers only


@dataclass(frozen=True, slots=True)
class CgroupLocation:
    """Where one container's cgroup lives: absolute directories."""

    mode: CgroupMode
    unified: str | None  # the cgroup2 directory (v2, or hybrid's unified mount)
    v1: Mapping[str, str] = field(default_factory=dict)  # controller -> directory


@dataclass(frozen=True, slots=True)
class ContainerRef:
    """What the agent knows of a container besides its numbers."""

    id: str
    name: str | None = None  # without the leading "/"; None when Docker is not reachable
    image: str | None = None  # the reference the user asked for (Config.Image)
    image_id: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    state: str | None = None  # created, running, paused, restarting, exited, removing, dead
    pid: int | None = None  # host PID of the init process; None when not running
    started_at: float | None = None  # unix seconds
    created: float | None = None  # unix seconds
    tty: bool | None = None
    restart_count: int | None = None
    exit_code: int | None = None
    oom_killed: bool | None = None
    # limits as configured in Docker (HostConfig); None: no limit set. The sampled
    # numbers read the kernel's own limit files instead.
    memory_limit_bytes: int | None = None
    cpu_limit: float | None = None  # in CPUs (NanoCpus, or CpuQuota / CpuPeriod)
    pids_limit: int | None = None
    network_mode: str | None = None  # HostConfig.NetworkMode: host, none, container:<id>, ...


class PsiLine(NamedTuple):
    avg10: float
    avg60: float
    avg300: float
    total_usec: int


class Pressure(NamedTuple):
    some: PsiLine | None
    full: PsiLine | None


class NetInterface(NamedTuple):
    name: str
    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_dropped: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_dropped: int


class IoDevice(NamedTuple):
    major: int
    minor: int
    read_bytes: int | None  # None: the file did not say (never 0)
    write_bytes: int | None
    read_ios: int | None = None
    write_ios: int | None = None


class CgroupSample(NamedTuple):
    """Raw counters of one container at one moment, from either cgroup mode.

    Every field but the identity and times may be None: the file was absent or could not
    be read this cycle (``errors`` counts the latter).
    """

    container_id: str
    monotonic: float  # time.monotonic() when the read started
    wall: float  # time.time() when the read started
    # CPU (nanoseconds)
    cpu_usage_ns: int | None = None
    cpu_user_ns: int | None = None
    cpu_system_ns: int | None = None
    cpu_periods: int | None = None
    cpu_throttled_periods: int | None = None
    cpu_throttled_ns: int | None = None
    cpu_quota_us: int | None = None  # None: no quota
    cpu_period_us: int | None = None
    cpu_weight: int | None = None  # v2 cpu.weight, or v1 cpu.shares
    # memory (bytes)
    memory_usage_bytes: int | None = None  # memory.current / memory.usage_in_bytes (with cache)
    memory_limit_bytes: int | None = None  # None: unlimited or unknown
    memory_high_bytes: int | None = None
    memory_peak_bytes: int | None = None
    memory_swap_bytes: int | None = None
    memory_failcnt: int | None = None
    memory_rss_bytes: int | None = None  # v2 anon, v1 total_rss
    memory_cache_bytes: int | None = None  # v2 file, v1 total_cache
    memory_mapped_file_bytes: int | None = None
    memory_inactive_file_bytes: int | None = None
    memory_active_file_bytes: int | None = None
    memory_shmem_bytes: int | None = None  # v2 shmem, v1 total_shmem (tmpfs, /dev/shm, IPC)
    memory_kernel_bytes: int | None = None  # v2 kernel (or its parts), v1 memory.kmem.usage
    memory_pgfault: int | None = None  # memory.stat pgfault (v1 and v2 alike)
    memory_pgmajfault: int | None = None  # memory.stat pgmajfault
    oom_kills: int | None = None
    # pids (tasks)
    pids_current: int | None = None
    pids_limit: int | None = None  # None: unlimited
    pids_peak: int | None = None
    # block I/O, pressure, network
    io: tuple[IoDevice, ...] | None = None
    psi_cpu: Pressure | None = None
    psi_memory: Pressure | None = None
    psi_io: Pressure | None = None
    net: tuple[NetInterface, ...] | None = None
    netns: int | None = None  # inode of the network namespace the counters came from
    # host CPU at the same moment, for docker-stats CPU %
    system_cpu_ns: int | None = None
    online_cpus: int | None = None
    errors: int = 0


class ContainerStats(NamedTuple):
    """One container's numbers with rates, as served (JSON names: wire/tojson.py)."""

    id: str
    sampled_at: float
    sample: CgroupSample
    name: str | None = None
    image: str | None = None
    cpu_percent: float | None = None
    cpu_usage_seconds_total: float | None = None
    cpu_throttled_seconds_total: float | None = None
    cpu_throttled_percent: float | None = None  # share of CFS periods throttled, last interval
    memory_usage_bytes: int | None = None  # docker stats semantics: usage - inactive_file
    memory_working_set_bytes: int | None = None
    memory_limit_bytes: int | None = None
    memory_percent: float | None = None
    pids: int | None = None
    pids_limit: int | None = None
    net_rx_bytes: int | None = None  # all interfaces but lo
    net_tx_bytes: int | None = None
    blk_read_bytes: int | None = None
    blk_write_bytes: int | None = None


class PsiAvg(NamedTuple):
    """PSI averages (percent) without the stall total: what the history keeps."""

    avg10: float
    avg60: float
    avg300: float


class PressureAvg(NamedTuple):
    some: PsiAvg | None
    full: PsiAvg | None


class HistoryRow(NamedTuple):
    """One kept sample of a container (agent/history.py): ContainerStats's numbers without the
    raw CgroupSample, PSI averages without totals, no per-interface network counters."""

    id: str
    name: str | None
    image: str | None
    sampled_at: float
    cpu_percent: float | None
    cpu_usage_seconds_total: float | None
    cpu_throttled_seconds_total: float | None
    cpu_throttled_percent: float | None
    memory_usage_bytes: int | None
    memory_working_set_bytes: int | None
    memory_limit_bytes: int | None
    memory_percent: float | None
    pids: int | None
    pids_limit: int | None
    net_rx_bytes: int | None
    net_tx_bytes: int | None
    blk_read_bytes: int | None
    blk_write_bytes: int | None
    psi_cpu: PressureAvg | None
    psi_memory: PressureAvg | None
    psi_io: PressureAvg | None


@dataclass(frozen=True, slots=True, weakref_slot=True)
class Snapshot:
    """The result of one sampling pass over every container (weakly referenced by the
    /metrics cache, which must not keep a replaced Snapshot alive)."""

    taken_at: float  # unix seconds
    mode: CgroupMode
    containers: Mapping[str, ContainerStats]
    duration_seconds: float = 0.0
    errors: int = 0  # files that could not be read in this pass
    gone: tuple[str, ...] = ()  # containers that vanished during this pass


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """One process of a container, with host and in-container identities."""

    pid: int  # host PID (as seen by the agent's procfs)
    ppid: int
    ns_pid: int | None  # PID inside the container's PID namespace
    ns_ppid: int | None  # parent's PID inside the container (None: parent outside it)
    user: str
    uid: int | None
    state: str
    threads: int | None  # None only when read from an agent's JSON that lacked it
    cpu_seconds: float | None
    cpu_percent: float | None
    rss_bytes: int | None
    started_at: float | None  # unix seconds
    cmd: str
    children: tuple[ProcessInfo, ...] = ()


@dataclass(frozen=True, slots=True)
class Event:
    """One Docker event, in Docker's own shape (``docker events --format '{{json .}}'``).

    ``status``/``id``/``from_`` are the legacy fields daemons send to API < 1.52 clients;
    they are kept as received so the JSON form matches Docker's line for line.
    """

    type: str  # Type: container, image, network, volume, daemon, plugin, ...
    action: str  # Action: may carry a suffix, "exec_start: sh -c ..." / "health_status: healthy"
    actor_id: str  # Actor.ID: empty for prune
    attributes: Mapping[str, str]  # Actor.Attributes
    scope: str  # "local" or "swarm"
    time: int  # unix seconds
    time_nano: int  # unix nanoseconds
    status: str | None = None
    id: str | None = None
    from_: str | None = None

    @property
    def key(self) -> tuple[int, str, str, str]:
        """Identity for de-duplication across a resume (``since`` is inclusive)."""
        return (self.time_nano, self.type, self.action, self.actor_id)


@dataclass(frozen=True, slots=True)
class Gap:
    """A stretch of time in which the agent cannot prove it saw every event."""

    start_nano: int  # last event known to be seen (or the agent's last contact)
    end_nano: int  # when continuity was re-established
    reason: str  # "daemon-restart", "disconnected", "buffer-overrun", "agent-down", ...


@dataclass(frozen=True, slots=True)
class Lost:
    """Told to one slow subscriber: this many events were dropped for it."""

    count: int


class LogLine(NamedTuple):
    """One line of a container's log, decoded from Docker's logs stream."""

    stream: str  # "stdout", "stderr", or "system" (the Engine's own error, frame type 3)
    time: str | None  # RFC 3339 as Docker sent it (only with timestamps), else None
    line: str  # without the newline (and without a TTY's "\r")


@dataclass(frozen=True, slots=True)
class PostMortem:
    """What the agent saw of a container around its death (a ``die`` or ``oom`` event)."""

    container_id: str
    name: str | None
    image: str | None
    action: str  # the event that triggered the capture: "die" or "oom"
    died_at_nano: int  # the event's timeNano
    exit_code: int | None  # None: still running (an oom that did not stop it) or unknown
    oom_killed: bool | None  # State.OOMKilled (None: the container was already gone)
    signal: int | None  # the last `kill` event's signal, else exit code - 128 when > 128
    started_at: float | None  # unix seconds
    samples: tuple[HistoryRow, ...]  # the last minute before death, oldest first
    processes: tuple[ProcessInfo, ...]  # the last process list read (flat)
    processes_at: float | None  # unix seconds when it was read
    logs: tuple[LogLine, ...]  # the last log lines (Docker logs tail)
    events: tuple[Event, ...]  # its recent events, oldest first
    captured_at: float  # unix seconds
    errors: tuple[str, ...] = ()  # parts that could not be captured, and why


@dataclass(frozen=True, slots=True)
class HostSample:
    """The host's totals at one moment (collectors/host.py), read under --proc-root.
    ``None`` is a gap: the file was missing or unreadable, never 0."""

    taken_at: float  # unix seconds
    hostname: str | None  # the agent's UTS namespace: the host's with --uts=host or no container
    kernel: str | None  # the running kernel's release (shared by every container)
    os: str | None  # os-release PRETTY_NAME of the host's root, when reachable
    boot_time: float | None  # unix seconds
    cpus: int | None  # logical CPUs online
    cpu_percent: float | None  # since the previous sample; 100 = one core (docker stats)
    load1: float | None
    load5: float | None
    load15: float | None
    memory_total_bytes: int | None
    memory_available_bytes: int | None  # MemAvailable
    memory_used_bytes: int | None  # total - available (procps-ng 4 free)
    swap_total_bytes: int | None
    swap_used_bytes: int | None
    swap_free_bytes: int | None

    @property
    def cpu_fraction(self) -> float | None:
        """Host CPU use as a fraction of all cores (0-1)."""
        if self.cpu_percent is None or not self.cpus:
            return None
        return self.cpu_percent / (100.0 * self.cpus)


class ProcessCost(NamedTuple):
    """The agent's own process, as prometheus_client's standard process_* series read it."""

    virtual_memory_bytes: float | None
    resident_memory_bytes: float | None
    start_time_seconds: float | None
    cpu_seconds_total: float | None
    open_fds: float | None
    max_fds: float | None


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """Docker's ``GET /info`` (and ``/version``), as ``docker info`` shows it. None: the
    daemon did not say (older daemons lack some keys), never 0 or empty."""

    id: str | None
    name: str | None  # the daemon host's name
    version: str | None  # ServerVersion ("20.10.24+dfsg1")
    api_version: str | None  # the Engine API version the daemon speaks (/version)
    os: str | None  # OperatingSystem
    kernel_version: str | None
    storage_driver: str | None  # Driver
    logging_driver: str | None
    cgroup_driver: str | None
    cgroup_version: str | None  # "1" or "2", as Docker writes it
    data_root: str | None  # DockerRootDir
    registry_mirrors: tuple[str, ...] | None
    insecure_registries: tuple[str, ...] | None  # as `docker info` lists them
    live_restore: bool | None
    default_runtime: str | None
    security_options: tuple[str, ...] | None
    containers: int | None
    containers_running: int | None
    containers_paused: int | None
    containers_stopped: int | None
    images: int | None
    warnings: tuple[str, ...] | None  # Docker's own, e.g. "WARNING: IPv4 forwarding is disabled"


@dataclass(frozen=True, slots=True)
class FsUsage:
    """One filesystem as statvfs(3) and ``df`` see it. None: not reported (a filesystem
    without an inode table reports 0 inodes; that is "not known", as df's "-")."""

    path: str  # the path that was measured
    size_bytes: int  # df "1B-blocks": f_blocks * f_frsize
    used_bytes: int  # df "Used": (f_blocks - f_bfree) * f_frsize
    free_bytes: int  # df "Available": f_bavail * f_frsize (what non-root users may write)
    inodes_total: int | None  # df -i "Inodes"
    inodes_free: int | None  # df -i "IFree"


@dataclass(frozen=True, slots=True)
class DaemonState:
    """The agent's latest view of the daemon: whether it answers now, the last ``/info``
    it gave (kept while it is down: ``sampled_at`` says how old) and the filesystem that
    holds its data root (None until measured, or when it cannot be read)."""

    up: bool  # the engine answered its last ping
    checked_at: float  # unix time of that ping
    info: DaemonInfo | None  # None until the first /info
    sampled_at: float | None  # unix time of ``info``
    data_root_fs: FsUsage | None


# -- disk use by area (Docker's GET /system/df) ------------------------------------------

DISK_AREAS = ("images", "containers", "volumes", "build_cache")


@dataclass(frozen=True, slots=True)
class DiskImage:
    """One image of ``/system/df``. Docker's -1 ("not computed") is None."""

    id: str  # "sha256:..."
    repo_tags: tuple[str, ...]
    created: int | None  # unix seconds
    size: int | None  # the image with its parents (VirtualSize on old APIs)
    shared_size: int | None  # bytes in layers other images also use
    containers: int | None  # containers using it


@dataclass(frozen=True, slots=True)
class DiskContainer:
    """One container of ``/system/df`` (a ``docker ps -s`` row)."""

    id: str
    names: tuple[str, ...]  # without the leading "/"
    image: str | None
    image_id: str | None
    command: str | None
    created: int | None  # unix seconds
    state: str | None
    status: str | None  # "Up 2 minutes", "Exited (0) 3 hours ago"
    size_rw: int | None  # its writable layer
    size_root_fs: int | None  # the writable layer plus the image
    local_volumes: int  # mounts of local-driver volumes


@dataclass(frozen=True, slots=True)
class DiskVolume:
    """One (local) volume of ``/system/df``; size and links None when not computed."""

    name: str
    driver: str | None
    size: int | None
    links: int | None  # containers that reference it (Docker's RefCount)


@dataclass(frozen=True, slots=True)
class BuildCacheRecord:
    """One build-cache record of ``/system/df``."""

    id: str
    type: str | None
    size: int
    created: float | None  # unix seconds
    last_used: float | None  # unix seconds; None: never used
    usage_count: int
    in_use: bool
    shared: bool


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """One answer of ``/system/df``, and when it was taken."""

    layers_size: int  # every image layer, counted once
    images: tuple[DiskImage, ...]
    containers: tuple[DiskContainer, ...]
    volumes: tuple[DiskVolume, ...]
    build_cache: tuple[BuildCacheRecord, ...]
    sampled_at: float  # unix seconds when the answer arrived
    duration_seconds: float  # how long Docker took to answer


@dataclass(frozen=True, slots=True)
class DiskArea:
    """One row of ``docker system df``: an area's objects, the active ones, bytes and
    reclaimable bytes, computed as the docker CLI (20.10) computes them."""

    type: str  # one of DISK_AREAS
    total: int
    active: int
    size: int
    reclaimable: int
    reclaimable_percent: int | None  # as docker prints it; None when it prints none
