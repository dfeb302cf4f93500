"""Every family ``/metrics`` serves, declared as data (the container ones after cAdvisor's
table in lib/metrics/prometheus.go).

One ``MetricSpec`` per container family: exposition name, help, type, extra label names and a getter
``(ContainerStats, ContainerRef | None) -> iterable of (extra label values, value)``. A
getter yields nothing for an absent value: no series, never a 0 sample.

Every container series also carries the base labels ``id``, ``name`` and ``image``
(exposition.py writes them, and says what they hold). Besides the per-container families
(``container_table``, ``info_spec``), the table declares the per-Snapshot families
(``SNAPSHOT_TABLE``), the series about every container Docker knows, stopped ones
included (``STATE_TABLE``, over the inventory's refs), the agent's own families whose
samples are known only at scrape time (``AGENT_TABLE``, and the Docker daemon's,
``DAEMON_TABLE``), the host's totals (``HOST_TABLE``) and the agent's own cost
(``PROCESS_TABLE``); ``every_family`` lists them all
(docs/metrics.md documents exactly these).

Where cAdvisor's semantics are kept on purpose:

- ``container_spec_memory_limit_bytes`` and ``container_threads_max`` are 0 for
  "unlimited" (cAdvisor's ``specMemoryValue``, runc's pids limit); with no memory or pids
  controller readable at all there is no series.
- ``container_spec_cpu_shares`` on cgroup v2 converts cpu.weight back to shares
  (``2 + (weight - 1) * 262142 / 9999``, cAdvisor's ``convertCPUWeightToCPULimit``).
- network series skip interfaces named ``lo*``, ``veth*`` and ``docker*`` (cAdvisor's
  ``ignoredDevicePrefixes``).
- ``container_memory_failcnt`` is a counter in cAdvisor, but a counter's samples end in
  ``_total`` in prometheus_client and OpenMetrics; the exact name wins, so it goes out as
  a gauge (only the TYPE line differs; ``rate()`` reads it the same).
- ``container_threads`` is pids.current (tasks, i.e. threads), as cAdvisor's comes from
  runc's ``PidsStats.Current``; ``container_processes`` would need a process count the
  Snapshot does not have, so there is none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any, Literal, NamedTuple

from watchdog_agent.model import (
    CgroupMode,
    ContainerRef,
    ContainerStats,
    DiskContainer,
    HostSample,
    ProcessCost,
    Snapshot,
)

from . import getters
from .getters import NS, DeviceName, Getter, RefGetter, Sample, major_minor, sample_field

MetricType = Literal["counter", "gauge"]
_INVALID_LABEL_CHARS = re.compile(r"[^a-zA-Z0-9_]")


class MetricSpec(NamedTuple):
    """One per-container family. ``name`` is the sample name (counters end in _total)."""

    name: str
    help: str
    type: MetricType
    labels: tuple[str, ...]  # extra label names, besides id, name and image
    get: Getter


class StateSpec(NamedTuple):
    """One family over the inventory: a series per container Docker knows."""

    name: str
    help: str
    type: MetricType
    labels: tuple[str, ...]  # extra label names, besides id, name and image
    get: RefGetter


class FamilySpec(NamedTuple):
    """One family of the agent's own, whose samples are known only at scrape time."""

    name: str
    help: str
    type: MetricType
    labels: tuple[str, ...]  # all its label names (no container labels)


class SnapshotSpec(NamedTuple):
    """One family with a single unlabelled series per Snapshot (agent self-metrics)."""

    name: str
    help: str
    type: MetricType
    get: Callable[[Snapshot], float | None]


class HostSpec(NamedTuple):
    """One family with a single unlabelled series per host sample."""

    name: str
    help: str
    type: MetricType
    get: Callable[[HostSample], float | None]


class ProcessSpec(NamedTuple):
    """One of prometheus_client's standard ``process_*`` families (the agent's own cost)."""

    name: str
    help: str
    type: MetricType
    get: Callable[[ProcessCost], float | None]


class DiskSpec(NamedTuple):
    """One family over the containers of Docker's disk sample (base labels id, name,
    image), rendered once per disk sample."""

    name: str
    help: str
    type: MetricType
    labels: tuple[str, ...]  # extra label names, besides id, name and image
    get: Callable[[DiskContainer, None], Iterable[Sample]]


def family_name(name: str, type_: str) -> str:
    """prometheus_client's (and OpenMetrics') family name: a counter without _total."""
    return name[:-6] if type_ == "counter" else name


def label_name(key: str) -> str:
    """A container label key as an info-series label name: ``label_`` + [a-zA-Z0-9_]."""
    return "label_" + _INVALID_LABEL_CHARS.sub("_", key)


# ---------------------------------------------------------------------------- the tables


def _spec(name: str, help_: str, type_: MetricType, get: Getter, *labels: str) -> MetricSpec:
    return MetricSpec(name, help_, type_, labels, get)


def container_table(
    mode: CgroupMode, device_name: DeviceName = major_minor
) -> tuple[MetricSpec, ...]:
    """The per-container families for a host in ``mode`` (v2 converts cpu.weight)."""
    f = sample_field
    c: MetricType = "counter"
    g: MetricType = "gauge"
    shares = getters.shares_v2 if mode is CgroupMode.V2 else f("cpu_weight")
    cpu_total = ("total",)
    cpu, mem, io = "due to CPU congestion", "due to memory congestion", "due to IO congestion"
    return (
        _spec("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.",
              c, f("cpu_usage_ns", NS, cpu_total), "cpu"),
        _spec("container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.",
              c, f("cpu_user_ns", NS)),
        _spec("container_cpu_system_seconds_total",
              "Cumulative system cpu time consumed in seconds.", c, f("cpu_system_ns", NS)),
        _spec("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.",
              c, f("cpu_periods")),
        _spec("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.",
              c, f("cpu_throttled_periods")),
        _spec("container_cpu_cfs_throttled_seconds_total",
              "Total time duration the container has been throttled.", c,
              f("cpu_throttled_ns", NS)),
        _spec("container_memory_usage_bytes",
              "Current memory usage in bytes, including all memory regardless of when it was "
              "accessed", g, f("memory_usage_bytes")),
        _spec("container_memory_working_set_bytes",
              "Current working set in bytes (usage minus inactive_file).", g, getters.working_set),
        _spec("container_memory_rss", "Size of RSS in bytes.", g, f("memory_rss_bytes")),
        _spec("container_memory_cache", "Number of bytes of page cache memory.", g,
              f("memory_cache_bytes")),
        _spec("container_memory_swap", "Container swap usage in bytes.", g,
              f("memory_swap_bytes")),
        _spec("container_memory_mapped_file", "Size of memory mapped files in bytes.", g,
              f("memory_mapped_file_bytes")),
        _spec("container_memory_total_active_file_bytes", "Current total active file in bytes.",
              g, f("memory_active_file_bytes")),
        _spec("container_memory_total_inactive_file_bytes",
              "Current total inactive file in bytes.", g, f("memory_inactive_file_bytes")),
        _spec("container_memory_failcnt", "Number of memory usage hits limits", g,
              f("memory_failcnt")),
        _spec("container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", g,
              f("memory_peak_bytes")),
        _spec("container_memory_failures_total", "Cumulative count of memory allocation failures.",
              c, getters.memory_failures, "failure_type", "scope"),
        _spec("container_oom_events_total",
              "Count of out of memory events observed for the container", c, f("oom_kills")),
        _spec("container_spec_memory_limit_bytes", "Memory limit for the container (0: none).", g,
              getters.or_zero_when_unlimited("memory_limit_bytes", "memory_usage_bytes")),
        _spec("container_spec_cpu_quota", "CPU quota of the container.", g, f("cpu_quota_us")),
        _spec("container_spec_cpu_period", "CPU period of the container.", g, f("cpu_period_us")),
        _spec("container_spec_cpu_shares", "CPU share of the container.", g, shares),
        _spec("container_network_receive_bytes_total", "Cumulative count of bytes received",
              c, getters.net("rx_bytes"), "interface"),
        _spec("container_network_receive_packets_total", "Cumulative count of packets received",
              c, getters.net("rx_packets"), "interface"),
        _spec("container_network_receive_packets_dropped_total",
              "Cumulative count of packets dropped while receiving", c,
              getters.net("rx_dropped"), "interface"),
        _spec("container_network_receive_errors_total",
              "Cumulative count of errors encountered while receiving", c,
              getters.net("rx_errors"), "interface"),
        _spec("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted",
              c, getters.net("tx_bytes"), "interface"),
        _spec("container_network_transmit_packets_total",
              "Cumulative count of packets transmitted", c, getters.net("tx_packets"),
              "interface"),
        _spec("container_network_transmit_packets_dropped_total",
              "Cumulative count of packets dropped while transmitting", c,
              getters.net("tx_dropped"), "interface"),
        _spec("container_network_transmit_errors_total",
              "Cumulative count of errors encountered while transmitting", c,
              getters.net("tx_errors"), "interface"),
        _spec("container_blkio_device_usage_total", "Blkio Device bytes usage", c,
              getters.blkio(device_name), "device", "major", "minor", "operation"),
        _spec("container_fs_reads_bytes_total", "Cumulative count of bytes read", c,
              getters.fs(device_name, "read_bytes"), "device"),
        _spec("container_fs_writes_bytes_total", "Cumulative count of bytes written", c,
              getters.fs(device_name, "write_bytes"), "device"),
        _spec("container_fs_reads_total", "Cumulative count of reads completed", c,
              getters.fs(device_name, "read_ios"), "device"),
        _spec("container_fs_writes_total", "Cumulative count of writes completed", c,
              getters.fs(device_name, "write_ios"), "device"),
        _spec("container_threads", "Number of threads running inside the container", g,
              f("pids_current")),
        _spec("container_threads_max",
              "Maximum number of threads allowed inside the container, infinity if value is "
              "zero", g, getters.or_zero_when_unlimited("pids_limit", "pids_current")),
        *(
            _spec(f"container_pressure_{res}_{kind}_seconds_total", help_, c,
                  getters.psi(res, line))
            for res, what in (("cpu", cpu), ("memory", mem), ("io", io))
            for kind, line, help_ in (
                ("waiting", "some",
                 f"Total time duration tasks in the container have waited {what} (PSI some)."),
                ("stalled", "full",
                 f"Total time duration no tasks in the container could make progress {what} "
                 "(PSI full)."),
            )
        ),
        _spec("container_start_time_seconds",
              "Start time of the container since unix epoch in seconds.", g, getters.start_time),
        _spec("container_last_seen", "Last time a container was seen by the exporter", g,
              getters.last_seen),
        _spec("watchdog_container_cpu_throttled_ratio",
              "Share of CFS periods in which the container was throttled, last sampling "
              "interval (0-1).", g, getters.throttled_ratio),
    )  # fmt: skip


def info_spec(allowlist: Sequence[str]) -> MetricSpec:
    """``watchdog_container_info``: 1 per container, with the allow-listed container labels
    as ``label_<sanitized key>`` (empty when a container lacks one). Labels never go on
    the data series."""
    keys = tuple(dict.fromkeys(allowlist))
    names = tuple(label_name(k) for k in keys)
    if len(set(names)) != len(names):
        raise ValueError(f"label allow-list keys collide once sanitized: {sorted(keys)}")
    empty: dict[str, Any] = {}

    def get(s: ContainerStats, r: ContainerRef | None) -> Iterable[Sample]:
        labels = empty if r is None else r.labels
        return ((tuple(labels.get(k, "") for k in keys), 1),)

    return MetricSpec(
        "watchdog_container_info",
        "Container metadata: 1 per sampled container, with its allow-listed labels.",
        "gauge",
        names,
        get,
    )


SNAPSHOT_TABLE = (
    SnapshotSpec("watchdog_sampling_duration_seconds",
                 "Wall time of the sampling pass behind the latest snapshot.", "gauge",
                 attrgetter("duration_seconds")),
    SnapshotSpec("watchdog_last_sample_timestamp_seconds",
                 "Unix time at which the latest snapshot was taken.", "gauge",
                 attrgetter("taken_at")),
    SnapshotSpec("watchdog_sampled_containers", "Containers in the latest snapshot.", "gauge",
                 lambda snap: len(snap.containers)),
)  # fmt: skip

STATE_TABLE = (
    StateSpec("watchdog_container_state", "1 for the container's current state.", "gauge",
              ("state",), getters.state),
    StateSpec("watchdog_container_exit_code", "Exit code of the container's last run.", "gauge",
              (), getters.exit_code),
    StateSpec("watchdog_container_restarts", "Restarts by Docker (its RestartCount).", "gauge",
              (), getters.restarts),
    StateSpec("watchdog_container_oom_killed", "1 when the last run ended in the OOM killer.",
              "gauge", (), getters.oom_killed),
)  # fmt: skip

BUILD_INFO = FamilySpec(
    "watchdog_build_info", "Agent build: 1, labelled by version.", "gauge", ("version",)
)
SAMPLING_ERRORS = FamilySpec(
    "watchdog_sampling_errors_total", "Files that could not be read while sampling.", "counter", ()
)
EVENTS = FamilySpec(
    "watchdog_events_total", "Docker events received, by type and action.", "counter",
    ("type", "action"),
)  # fmt: skip
EVENTS_LOST = FamilySpec(
    "watchdog_events_lost_total", "Events dropped for slow subscribers.", "counter", ()
)
EVENTS_GAPS = FamilySpec(
    "watchdog_events_gaps_total", "Stretches where the agent could not prove it saw every event.",
    "counter", (),
)  # fmt: skip
EVENTS_SKIPPED = FamilySpec(
    "watchdog_events_skipped_lines_total", "Malformed event lines skipped.", "counter", ()
)
# Docker's disk use by area (the slow disk sample, /system/df), ``type`` one of
# model.DISK_AREAS; and each container's writable layer from the same sample
DISK_BYTES = FamilySpec(
    "watchdog_docker_disk_bytes", "Bytes Docker uses, by area (docker system df's SIZE).",
    "gauge", ("type",),
)  # fmt: skip
DISK_RECLAIMABLE = FamilySpec(
    "watchdog_docker_disk_reclaimable_bytes",
    "Bytes docker system df counts as reclaimable, by area.", "gauge", ("type",),
)  # fmt: skip
DOCKER_OBJECTS = FamilySpec(
    "watchdog_docker_objects", "Images, containers, local volumes and build-cache records.",
    "gauge", ("type",),
)  # fmt: skip
DOCKER_OBJECTS_ACTIVE = FamilySpec(
    "watchdog_docker_objects_active", "Objects in use, by area (docker system df's ACTIVE).",
    "gauge", ("type",),
)  # fmt: skip
DISK_TABLE = (DISK_BYTES, DISK_RECLAIMABLE, DOCKER_OBJECTS, DOCKER_OBJECTS_ACTIVE)
DISK_CONTAINER_TABLE = (
    DiskSpec("container_fs_usage_bytes",
             "Bytes of the container's writable layer (Docker's SizeRw), from the disk "
             "sample.", "gauge", (), getters.fs_usage),
)  # fmt: skip

# written when the server counts its scrapes (not by a bare Scrape: the oracle has none)
METRICS_SCRAPES = FamilySpec(
    "watchdog_metrics_scrapes_total",
    "Scrapes of /metrics answered, by content coding (gzip or identity).", "counter",
    ("encoding",),
)  # fmt: skip

AGENT_TABLE = (BUILD_INFO, SAMPLING_ERRORS, EVENTS, EVENTS_LOST, EVENTS_GAPS, EVENTS_SKIPPED)
# the agent's health under faults (tests/faults/): written after AGENT_TABLE's families
# when the server knows them (a journal's errors only with --journal)
JOURNAL_ERRORS = FamilySpec(
    "watchdog_journal_errors_total",
    "Event batches the journal could not store (disk full, I/O error); they still reached "
    "live subscribers, and a gap marks them in the journal.", "counter", (),
)  # fmt: skip
AGENT_TASKS = FamilySpec(
    "watchdog_agent_tasks", "Live asyncio tasks in the agent (requests and streams included).",
    "gauge", (),
)  # fmt: skip

# the host's totals (cAdvisor's machine_* names and help; cAdvisor also labels them with
# boot_id, machine_id and system_uuid, which the agent does not read) from the latest
# HostSample
HOST_TABLE = (
    HostSpec("machine_cpu_cores", "Number of logical CPU cores.", "gauge", attrgetter("cpus")),
    HostSpec("machine_memory_bytes", "Amount of memory installed on the machine.", "gauge",
             attrgetter("memory_total_bytes")),
    HostSpec("watchdog_host_cpu_percent",
             "Host CPU use over the last host sampling interval (100 = one core).", "gauge",
             attrgetter("cpu_percent")),
    HostSpec("watchdog_host_load1", "Host load average over 1 minute.", "gauge",
             attrgetter("load1")),
    HostSpec("watchdog_host_load5", "Host load average over 5 minutes.", "gauge",
             attrgetter("load5")),
    HostSpec("watchdog_host_load15", "Host load average over 15 minutes.", "gauge",
             attrgetter("load15")),
    HostSpec("watchdog_host_memory_available_bytes",
             "Host memory available for new work without swapping (MemAvailable).", "gauge",
             attrgetter("memory_available_bytes")),
)  # fmt: skip

# the agent's own cost: prometheus_client's ProcessCollector names, types and help, in
# its order (tests compare them with the library's own)
PROCESS_TABLE = (
    ProcessSpec("process_virtual_memory_bytes", "Virtual memory size in bytes.", "gauge",
                attrgetter("virtual_memory_bytes")),
    ProcessSpec("process_resident_memory_bytes", "Resident memory size in bytes.", "gauge",
                attrgetter("resident_memory_bytes")),
    ProcessSpec("process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.", "gauge",
                attrgetter("start_time_seconds")),
    ProcessSpec("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
                "counter", attrgetter("cpu_seconds_total")),
    ProcessSpec("process_open_fds", "Number of open file descriptors.", "gauge",
                attrgetter("open_fds")),
    ProcessSpec("process_max_fds", "Maximum number of open file descriptors.", "gauge",
                attrgetter("max_fds")),
)  # fmt: skip

# the Docker daemon (agent/daemoninfo.py's latest DaemonState), known at scrape time
DOCKER_INFO = FamilySpec(
    "watchdog_docker_info", "Docker daemon: 1, labelled by its version and drivers.", "gauge",
    ("version", "storage_driver", "logging_driver", "cgroup_driver", "cgroup_version"),
)  # fmt: skip
DOCKER_UP = FamilySpec(
    "watchdog_docker_up", "1 when the Docker engine answered the last ping, 0 when not.",
    "gauge", (),
)  # fmt: skip
DOCKER_MIRRORS = FamilySpec(
    "watchdog_docker_registry_mirrors", "Registry mirrors the Docker daemon is configured with.",
    "gauge", (),
)  # fmt: skip
DATA_ROOT_SIZE = FamilySpec(
    "watchdog_docker_data_root_size_bytes",
    "Size of the filesystem holding Docker's data root.", "gauge", (),
)  # fmt: skip
DATA_ROOT_FREE = FamilySpec(
    "watchdog_docker_data_root_free_bytes",
    "Bytes available to unprivileged users on the filesystem holding Docker's data root.",
    "gauge", (),
)  # fmt: skip
DAEMON_TABLE = (DOCKER_INFO, DOCKER_UP, DOCKER_MIRRORS, DATA_ROOT_SIZE, DATA_ROOT_FREE)


def every_family(
    allowlist: Sequence[str] = (),
) -> list[MetricSpec | SnapshotSpec | StateSpec | FamilySpec | HostSpec | ProcessSpec | DiskSpec]:
    """Every family ``/metrics`` can serve, on any host (cgroup v2 and v1 tables merged by
    name), in the order a scrape writes them."""
    per_container: dict[str, MetricSpec] = {}
    for mode in CgroupMode:
        per_container.update((s.name, s) for s in container_table(mode))
    return [*per_container.values(), info_spec(allowlist), *SNAPSHOT_TABLE, *AGENT_TABLE,
            JOURNAL_ERRORS, METRICS_SCRAPES, AGENT_TASKS, *DAEMON_TABLE, *HOST_TABLE,
            *PROCESS_TABLE, *STATE_TABLE, *DISK_CONTAINER_TABLE, *DISK_TABLE]  # fmt: skip
