"""The single-container dashboard: everything about one container, with its starts,
restarts, OOM kills and exits as annotations."""

from __future__ import annotations

from common import CONTAINER, LEGEND, Annotation, Panels, target, thresholds, to_json, variables
from grafana_foundation_sdk.builders import dashboard as dash

UID = "watchdog-container"
FILE = "watchdog-container.json"
C = CONTAINER


def new(selector: str, condition: str = "") -> str:
    """Series that appeared (or came to meet ``condition``) within the step: a first
    start, a first exit, an OOM kill."""
    return f"({selector}{condition} unless {selector} offset $__interval{condition})"


ANNOTATIONS = (
    Annotation(
        "Starts",
        f"changes(container_start_time_seconds{{{C}}}[$__interval]) > 0"
        f" or {new(f'container_start_time_seconds{{{C}}}')}",
        "green",
        "start",
    ),
    Annotation(
        "Restarts",
        f"changes(watchdog_container_restarts{{{C}}}[$__interval]) > 0",
        "orange",
        "restart",
    ),
    Annotation(
        "OOM kills",
        f"increase(container_oom_events_total{{{C}}}[$__interval]) > 0"
        f" or {new(f'watchdog_container_oom_killed{{{C}}}', ' == 1')}",
        "red",
        "OOM kill",
    ),
    Annotation(
        "Exits",
        f"changes(watchdog_container_exit_code{{{C}}}[$__interval]) > 0"
        f" or {new(f'watchdog_container_exit_code{{{C}}}')}",
        "purple",
        "exit",
    ),
)


def summary(p: Panels, board: dash.Dashboard) -> None:
    board.with_row(p.row("State"))
    board.with_panel(
        p.table(
            "State",
            [target(f"watchdog_container_state{{{C}}} == 1", instant=True)],
            "none",
            width=6,
            height=4,
        )
    )
    board.with_panel(
        p.stat("Uptime", [target(f"time() - container_start_time_seconds{{{C}}}")], "s", width=3)
    )
    board.with_panel(
        p.stat(
            "Started",
            [target(f"1000 * container_start_time_seconds{{{C}}}")],
            "dateTimeAsIso",
            width=3,
        )
    )
    board.with_panel(
        p.stat(
            "Exit code",
            [target(f"watchdog_container_exit_code{{{C}}}")],
            "none",
            width=3,
            description="Of the last run; only while the container is not running.",
            limits=thresholds((None, "green"), (1, "red")),
        )
    )
    board.with_panel(
        p.stat(
            "Restarts",
            [target(f"watchdog_container_restarts{{{C}}}")],
            "none",
            width=3,
            limits=thresholds((None, "green"), (1, "orange")),
        )
    )
    board.with_panel(
        p.stat(
            "Last run OOM-killed",
            [target(f"watchdog_container_oom_killed{{{C}}}")],
            "none",
            width=3,
            limits=thresholds((None, "green"), (1, "red")),
        )
    )
    board.with_panel(
        p.stat(
            "Memory limit",
            [target(f"container_spec_memory_limit_bytes{{{C}}}")],
            "bytes",
            width=3,
            description="0: no limit.",
        )
    )
    cores = f"container_spec_cpu_quota{{{C}}} / container_spec_cpu_period{{{C}}}"
    board.with_panel(
        p.stat(
            "CPU limit",
            [target(cores), target(f"container_spec_cpu_shares{{{C}}}", f"{LEGEND} shares")],
            "none",
            width=6,
            height=4,
            description="Cores allowed by the CFS quota (none: no quota), and CPU shares.",
        )
    )
    board.with_panel(
        p.stat(
            "Threads limit",
            [target(f"container_threads_max{{{C}}}")],
            "none",
            width=3,
            description="0: no limit.",
        )
    )


def cpu(p: Panels, board: dash.Dashboard) -> None:
    board.with_row(p.row("CPU"))
    board.with_panel(
        p.series(
            "CPU",
            [
                target(
                    f"100 * sum by (instance, name) (rate(container_cpu_usage_seconds_total{{{C}}}"
                    "[$__rate_interval]))",
                    f"{LEGEND} total",
                ),
                target(
                    f"100 * rate(container_cpu_user_seconds_total{{{C}}}[$__rate_interval])",
                    f"{LEGEND} user",
                ),
                target(
                    f"100 * rate(container_cpu_system_seconds_total{{{C}}}[$__rate_interval])",
                    f"{LEGEND} system",
                ),
            ],
            "percent",
            description="docker stats' scale: 100 % is one core.",
        )
    )
    board.with_panel(
        p.series(
            "Throttling",
            [
                target(f"watchdog_container_cpu_throttled_ratio{{{C}}}", f"{LEGEND} periods"),
                target(
                    f"rate(container_cpu_cfs_throttled_seconds_total{{{C}}}[$__rate_interval])",
                    f"{LEGEND} seconds/s",
                ),
            ],
            "percentunit",
            description="Share of CFS periods throttled; throttled seconds per second.",
            limits=thresholds((None, "green"), (0.25, "orange"), (0.5, "red")),
        )
    )


def memory(p: Panels, board: dash.Dashboard) -> None:
    board.with_row(p.row("Memory"))
    parts = (
        "usage_bytes",
        "working_set_bytes",
        "rss",
        "cache",
        "swap",
        "mapped_file",
        "total_active_file_bytes",
        "total_inactive_file_bytes",
    )
    board.with_panel(
        p.series(
            "Memory",
            [
                *(target(f"container_memory_{part}{{{C}}}", f"{LEGEND} {part}") for part in parts),
                target(f"container_spec_memory_limit_bytes{{{C}}} > 0", f"{LEGEND} limit"),
            ],
            "bytes",
        )
    )
    board.with_panel(
        p.series(
            "Memory limit hits and OOM events",
            [
                target(f"container_memory_failcnt{{{C}}}", f"{LEGEND} failcnt"),
                target(
                    f"increase(container_oom_events_total{{{C}}}[$__rate_interval])",
                    f"{LEGEND} OOM events",
                ),
            ],
            "none",
        )
    )


def io(p: Panels, board: dash.Dashboard) -> None:
    board.with_row(p.row("Network, block I/O, tasks"))
    board.with_panel(
        p.series(
            "Network",
            [
                target(
                    f"sum by (instance, name) (rate(container_network_{way}_bytes_total{{{C}}}"
                    f"[$__rate_interval]))",
                    f"{LEGEND} {way}",
                )
                for way in ("receive", "transmit")
            ],
            "Bps",
            width=8,
        )
    )
    board.with_panel(
        p.series(
            "Network drops and errors",
            [
                target(
                    f"sum by (instance, name) (rate(container_network_{way}_{what}_total{{{C}}}"
                    f"[$__rate_interval]))",
                    f"{LEGEND} {way} {what}",
                )
                for way in ("receive", "transmit")
                for what in ("packets_dropped", "errors")
            ],
            "pps",
            width=8,
        )
    )
    board.with_panel(
        p.series(
            "Block I/O",
            [
                target(
                    f"sum by (instance, name) (rate(container_fs_{op}_bytes_total{{{C}}}"
                    f"[$__rate_interval]))",
                    f"{LEGEND} {op}",
                )
                for op in ("reads", "writes")
            ],
            "Bps",
            width=8,
        )
    )
    board.with_panel(
        p.series(
            "Tasks",
            [
                target(f"container_threads{{{C}}}", f"{LEGEND} tasks"),
                target(f"container_threads_max{{{C}}} > 0", f"{LEGEND} limit"),
            ],
            "none",
            width=8,
        )
    )
    board.with_panel(
        p.series(
            "Pressure (PSI)",
            [
                target(
                    f"rate(container_pressure_{kind}_{how}_seconds_total{{{C}}}[$__rate_interval])",
                    f"{LEGEND} {kind} {how}",
                )
                for kind in ("cpu", "memory", "io")
                for how in ("waiting", "stalled")
            ],
            "percentunit",
            width=8,
            description="waiting: some task stalled (PSI some); stalled: all (PSI full).",
        )
    )
    board.with_panel(
        p.series("Writable layer", [target(f"container_fs_usage_bytes{{{C}}}")], "bytes", width=8)
    )


def build() -> tuple[str, str]:
    """(file name, JSON) of the single-container dashboard."""
    p = Panels()
    board = (
        dash.Dashboard("watchdog: container")
        .uid(UID)
        .tags(["watchdog", "docker"])
        .description("One container: resources, limits, state and lifecycle.")
        .time("now-1h", "now")
        .refresh("30s")
        .variables(variables(multi_container=False))
        .annotations([a.builder() for a in ANNOTATIONS])
    )
    for section in (summary, cpu, memory, io):
        section(p, board)
    return FILE, to_json(board, ANNOTATIONS)
