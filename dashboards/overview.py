"""The overview dashboard: every host's totals, every container's resources and
lifecycle, Docker's disk use and events, and what the agent itself costs."""

from __future__ import annotations

from common import (
    CONTAINER,
    HOST,
    LEGEND,
    Panels,
    state_mappings,
    target,
    thresholds,
    to_json,
    variables,
)
from grafana_foundation_sdk.builders import dashboard as dash

UID = "watchdog-overview"
FILE = "watchdog-overview.json"
HOST_LEGEND = "{{instance}}"
# only the agents' own process_* series (not Prometheus' or another exporter's)
AGENTS = "and on (instance, job) watchdog_build_info"
NOT_RUNNING = 'state!="running"'


def rate(family: str, selector: str = CONTAINER, by: str = "instance, name") -> str:
    return f"sum by ({by}) (rate({family}{{{selector}}}[$__rate_interval]))"


def hosts(p: Panels, board: dash.Dashboard) -> None:
    board.with_row(p.row("Hosts"))
    used = thresholds((None, "green"), (0.8, "orange"), (0.9, "red"))
    board.with_panel(
        p.stat(
            "CPUs",
            [target(f"machine_cpu_cores{{{HOST}}}", HOST_LEGEND)],
            "none",
            description="Logical CPUs online.",
            width=3,
        )
    )
    board.with_panel(
        p.stat(
            "Host CPU",
            [target(f"watchdog_host_cpu_percent{{{HOST}}}", HOST_LEGEND)],
            "percent",
            description="docker stats' scale: 100 % is one core.",
            width=3,
        )
    )
    board.with_panel(
        p.stat(
            "Memory available",
            [target(f"watchdog_host_memory_available_bytes{{{HOST}}}", HOST_LEGEND)],
            "bytes",
            description="MemAvailable, against machine_memory_bytes in the graph below.",
            width=3,
        )
    )
    board.with_panel(
        p.stat("Load 1m", [target(f"watchdog_host_load1{{{HOST}}}", HOST_LEGEND)], "none", width=3)
    )
    board.with_panel(
        p.stat(
            "Running containers",
            [
                target(
                    f'sum by (instance) (watchdog_container_state{{{HOST}, state="running"}})',
                    HOST_LEGEND,
                )
            ],
            "none",
            width=3,
        )
    )
    stopped = (
        f"sum by (instance) (watchdog_container_state{{{HOST}, {NOT_RUNNING}}})"
        f" or on (instance) (0 * watchdog_sampled_containers{{{HOST}}})"
    )
    board.with_panel(
        p.stat(
            "Stopped containers",
            [target(stopped, HOST_LEGEND)],
            "none",
            description="Containers Docker knows that are not running.",
            width=3,
        )
    )
    root = (
        f"1 - watchdog_docker_data_root_free_bytes{{{HOST}}}"
        f" / watchdog_docker_data_root_size_bytes{{{HOST}}}"
    )
    board.with_panel(
        p.stat(
            "Data root used",
            [target(root, HOST_LEGEND)],
            "percentunit",
            description="Filesystem holding Docker's data root.",
            width=3,
            limits=used,
        )
    )
    board.with_panel(
        p.stat(
            "Docker",
            [target(f"watchdog_docker_up{{{HOST}}}", HOST_LEGEND)],
            "none",
            description="The agent's last ping of the engine (every 5 s).",
            width=3,
            limits=thresholds((None, "red"), (1, "green")),
            mappings=state_mappings({"0": ("down", "red"), "1": ("up", "green")}),
        )
    )
    board.with_panel(
        p.series(
            "Host CPU",
            [
                target(f"watchdog_host_cpu_percent{{{HOST}}}", HOST_LEGEND),
                target(f"100 * machine_cpu_cores{{{HOST}}}", "{{instance}} all cores"),
            ],
            "percent",
            width=8,
        )
    )
    board.with_panel(
        p.series(
            "Host memory",
            [
                target(f"watchdog_host_memory_available_bytes{{{HOST}}}", "{{instance}} available"),
                target(f"machine_memory_bytes{{{HOST}}}", "{{instance}} total"),
            ],
            "bytes",
            width=8,
        )
    )
    board.with_panel(
        p.series(
            "Load",
            [
                target(f"watchdog_host_load{n}{{{HOST}}}", f"{{{{instance}}}} {n}m")
                for n in (1, 5, 15)
            ],
            "none",
            width=8,
        )
    )


def containers(p: Panels, board: dash.Dashboard) -> None:
    board.with_row(p.row("Containers"))
    near = thresholds((None, "green"), (0.8, "orange"), (0.95, "red"))
    cpu = f"100 * {rate('container_cpu_usage_seconds_total')}"
    board.with_panel(
        p.series(
            "CPU", [target(cpu)], "percent", description="docker stats' scale: 100 % is one core."
        )
    )
    limit = (
        f"container_memory_working_set_bytes{{{CONTAINER}}}"
        f" / (container_spec_memory_limit_bytes{{{CONTAINER}}} > 0)"
    )
    board.with_panel(
        p.series(
            "Memory against limit",
            [target(limit)],
            "percentunit",
            description="Working set / memory limit, for containers with a limit.",
            limits=near,
        )
    )
    board.with_panel(
        p.series(
            "Memory working set",
            [target(f"container_memory_working_set_bytes{{{CONTAINER}}}")],
            "bytes",
        )
    )
    board.with_panel(
        p.series(
            "Network",
            [
                target(rate("container_network_receive_bytes_total"), f"{LEGEND} rx"),
                target(rate("container_network_transmit_bytes_total"), f"{LEGEND} tx"),
            ],
            "Bps",
        )
    )
    board.with_panel(
        p.series(
            "Block I/O",
            [
                target(rate("container_fs_reads_bytes_total"), f"{LEGEND} read"),
                target(rate("container_fs_writes_bytes_total"), f"{LEGEND} write"),
            ],
            "Bps",
        )
    )
    board.with_panel(
        p.series(
            "PIDs",
            [target(f"container_threads{{{CONTAINER}}}")],
            "none",
            description="Tasks in the container (docker stats' PIDS).",
        )
    )
    board.with_panel(
        p.series(
            "Pressure (PSI some)",
            [
                target(rate(f"container_pressure_{kind}_waiting_seconds_total"), f"{LEGEND} {kind}")
                for kind in ("cpu", "memory", "io")
            ],
            "percentunit",
            description="Share of time some task waited for CPU, memory or I/O.",
        )
    )
    board.with_panel(
        p.series(
            "CPU throttling",
            [target(f"watchdog_container_cpu_throttled_ratio{{{CONTAINER}}}")],
            "percentunit",
            description="Share of CFS periods throttled (last sampling interval).",
            limits=thresholds((None, "green"), (0.25, "orange"), (0.5, "red")),
        )
    )


def lifecycle(p: Panels, board: dash.Dashboard) -> None:
    board.with_row(p.row("Lifecycle"))
    oom = (
        "sum by (instance, name) "
        f"(increase(container_oom_events_total{{{CONTAINER}}}[$__rate_interval]))"
    )
    board.with_panel(
        p.series(
            "OOM events",
            [target(oom)],
            "none",
            width=8,
            description="OOM kills inside running containers.",
        )
    )
    board.with_panel(
        p.table(
            "Last run ended in an OOM kill",
            [target(f"watchdog_container_oom_killed{{{CONTAINER}}} == 1", instant=True)],
            "none",
            width=8,
        )
    )
    board.with_panel(
        p.series(
            "Restarts",
            [target(f"watchdog_container_restarts{{{CONTAINER}}}")],
            "none",
            width=8,
            description="Docker's RestartCount.",
        )
    )
    board.with_panel(
        p.table(
            "Exit codes of stopped containers",
            [target(f"watchdog_container_exit_code{{{CONTAINER}}}", instant=True)],
            "none",
            width=12,
            limits=thresholds((None, "green"), (1, "red")),
        )
    )
    board.with_panel(
        p.series(
            "Throttled time",
            [target(rate("container_cpu_cfs_throttled_seconds_total"))],
            "s",
            width=12,
            description="Seconds per second the container's tasks were throttled.",
        )
    )


def docker(p: Panels, board: dash.Dashboard) -> None:
    board.with_row(p.row("Docker: disk and events"))
    board.with_panel(
        p.series(
            "Disk use by area",
            [target(f"watchdog_docker_disk_bytes{{{HOST}}}", "{{instance}} {{type}}")],
            "bytes",
            width=8,
            stack=True,
        )
    )
    board.with_panel(
        p.series(
            "Reclaimable",
            [target(f"watchdog_docker_disk_reclaimable_bytes{{{HOST}}}", "{{instance}} {{type}}")],
            "bytes",
            width=8,
        )
    )
    board.with_panel(
        p.series(
            "Writable layers",
            [target(f"container_fs_usage_bytes{{{CONTAINER}}}")],
            "bytes",
            width=8,
        )
    )
    board.with_panel(
        p.series(
            "Docker events by action",
            [
                target(
                    rate("watchdog_events_total", HOST, "instance, type, action"),
                    "{{instance}} {{type}} {{action}}",
                )
            ],
            "ops",
            width=12,
        )
    )
    lost = (
        f"increase(watchdog_events_gaps_total{{{HOST}}}[$__rate_interval])",
        f"increase(watchdog_events_lost_total{{{HOST}}}[$__rate_interval])",
    )
    board.with_panel(
        p.series(
            "Event gaps and losses",
            [target(lost[0], "{{instance}} gaps"), target(lost[1], "{{instance}} lost")],
            "none",
            width=12,
            description="A gap: a stretch where the agent could not prove it saw every event.",
            limits=thresholds((None, "green"), (1, "red")),
        )
    )


def agent(p: Panels, board: dash.Dashboard) -> None:
    board.with_row(p.row("The agent's own cost"))
    cpu = f"100 * rate(process_cpu_seconds_total{{{HOST}}}[$__rate_interval]) {AGENTS}"
    board.with_panel(p.series("Agent CPU", [target(cpu, HOST_LEGEND)], "percent", width=8))
    board.with_panel(
        p.series(
            "Agent memory",
            [target(f"process_resident_memory_bytes{{{HOST}}} {AGENTS}", HOST_LEGEND)],
            "bytes",
            width=8,
        )
    )
    board.with_panel(
        p.series(
            "Sampling pass",
            [target(f"watchdog_sampling_duration_seconds{{{HOST}}}", HOST_LEGEND)],
            "s",
            width=8,
            description="Wall time of the sampling pass behind the latest snapshot.",
        )
    )


def build() -> tuple[str, str]:
    """(file name, JSON) of the overview dashboard."""
    p = Panels()
    board = (
        dash.Dashboard("watchdog: overview")
        .uid(UID)
        .tags(["watchdog", "docker"])
        .description("Every host and container the watchdog agents report.")
        .time("now-1h", "now")
        .refresh("30s")
        .variables(variables(multi_container=True))
    )
    for section in (hosts, containers, lifecycle, docker, agent):
        section(p, board)
    return FILE, to_json(board)
