"""Argument parsing only: builds Settings and hands over to the command modules."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from watchdog_agent import __version__
from watchdog_agent.errors import UsageError, WatchdogError
from watchdog_agent.termsafe import escape

if TYPE_CHECKING:
    from watchdog_agent.collectors.cpuwindow import Window
    from watchdog_agent.config import Settings

# What a command needs is imported where it runs (asyncio, the settings, the collectors):
# a one-shot `stats --no-stream` begins its CPU window before those imports (main).

# commands that never log (nothing they import uses structlog), so they skip its import and
# set-up: a tenth of a second or more of a one-shot command's start
QUIET_COMMANDS = frozenset({"stats", "top", "version"})
# commands whose parser is built alone when named first (main)
FAST_PARSE = frozenset({"stats", "top", "version"})


def _docker_host(p: argparse.ArgumentParser) -> None:
    p.add_argument("--docker-host", help="Docker address (default: $DOCKER_HOST or the "
                   "standard unix socket)")  # fmt: skip


def _host_roots(p: argparse.ArgumentParser) -> None:
    """Options of the commands that read the kernel's files (stats, top, serve)."""
    p.add_argument("--proc-root", help="procfs to read (default /proc)")
    p.add_argument("--cgroup-root", help="cgroup mount to read (default /sys/fs/cgroup)")
    p.add_argument("--no-docker", action="store_true", default=None,
                   help="do not ask Docker: find containers by cgroup path")  # fmt: skip


def _common(p: argparse.ArgumentParser) -> None:
    """--docker-host plus the kernel-side options: for stats, top and serve (events
    only talks to Docker and takes --docker-host alone)."""
    _docker_host(p)
    _host_roots(p)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; ``only``: with that command's subparser alone (the rest
    are not imported), for a command named first (``main``): it parses and prints its
    help and errors alike, the top level's usage names COMMAND, not the list."""

    def want(name: str) -> bool:
        return only is None or only == name

    parser = argparse.ArgumentParser(
        prog="watchdog-agent",
        description="Monitoring and events agent for Docker hosts.",
    )
    parser.add_argument("--version", action="version", version=f"watchdog-agent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    if want("stats"):
        _stats_parser(sub)
    if want("top"):
        _top_parser(sub)
    if want("events"):
        _events_parser(sub)
    if want("serve"):
        _serve_parser(sub)
    if want("logs"):
        from watchdog_agent.commands import logs

        logs.add_parser(sub)
    if want("postmortem"):
        from watchdog_agent.commands import postmortem

        postmortem.add_parser(sub)
    if want("info"):
        from watchdog_agent.commands import info

        info.add_parser(sub)
    if want("df"):
        from watchdog_agent.commands import df

        df.add_parser(sub)
    if want("version"):
        sub.add_parser("version", help="print the version")
    return parser


def _stats_parser(sub: Any) -> None:
    from watchdog_agent.collectors.cpuwindow import WINDOW_HELP
    from watchdog_agent.commands import agentlink

    stats = sub.add_parser(
        "stats", help="live resource usage per container (docker stats)",
        epilog="Source: with --no-stream, the latest sample of a running agent (see "
        "--agent), read at once; without one, with --no-docker, or with filters other than "
        "name (a plain name), label, status and exited, this command samples on its own. A stream "
        "(without --no-stream) always samples on its own.",
    )  # fmt: skip
    stats.add_argument("containers", nargs="*", metavar="CONTAINER")
    stats.add_argument("-a", "--all", action="store_true", help="show all containers, "
                       "not only running ones")  # fmt: skip
    stats.add_argument("--no-stream", action="store_true", help="print one result and exit. "
                       "Sampled here, this result (and a stream's first) waits for one CPU "
                       "window: " + WINDOW_HELP.replace("%", "%%"))  # fmt: skip
    stats.add_argument("--format", choices=("table", "json"), default="table")
    stats.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                       help="docker ps filters (repeatable)")  # fmt: skip
    stats.add_argument("--interval", type=float, help="seconds between refreshes (default 1)")
    agentlink.add_arguments(stats, "with --no-stream, read the latest sample of the agent "
                            "there")  # fmt: skip
    _common(stats)


def _top_parser(sub: Any) -> None:
    from watchdog_agent.collectors.cpuwindow import WINDOW_HELP
    from watchdog_agent.commands import agentlink

    top = sub.add_parser("top", help="a container's processes (host PID and in-container PID)",
                         epilog="Source: a running agent (see --agent), else (and with "
                         "--no-docker) /proc read here. Each process's %CPU covers the "
                         "container's CPU window. "
                         + WINDOW_HELP)  # fmt: skip
    top.add_argument("container", metavar="CONTAINER")
    top.add_argument("--format", choices=("table", "json", "tree", "tree-json"),
                     default="table")  # fmt: skip
    agentlink.add_arguments(top, "ask the agent there")
    _common(top)


def _events_parser(sub: Any) -> None:
    from watchdog_agent.commands import agentlink

    events = sub.add_parser("events", help="Docker events, filtered (docker events)")
    events.add_argument("-f", "--filter", action="append", default=[], metavar="KEY=VALUE",
                        help="docker events filters, repeatable; KEY!=VALUE excludes")  # fmt: skip
    events.add_argument("--since", help="replay from: RFC 3339, unix seconds, or a duration "
                        "such as 10m (before now)")  # fmt: skip
    events.add_argument("--until", help="stop at (same forms as --since)")
    events.add_argument("--journal", metavar="PATH", help="record every event to this SQLite "
                        "journal; with --since/--until, replay from it")  # fmt: skip
    agentlink.add_arguments(events, "with --since/--until, replay from the agent there")
    events.add_argument("--format", default="text",
                        help="text, json, or a template such as '{{.Action}} "
                        "{{.Actor.Attributes.name}}'")  # fmt: skip
    _docker_host(events)


def _serve_parser(sub: Any) -> None:
    serve = sub.add_parser("serve", help="run the agent: HTTP API, streams, events journal")
    serve.add_argument("--listen", metavar="HOST:PORT", help="address to serve on "
                       "(default 127.0.0.1:9338; port 0 picks a free one)")  # fmt: skip
    serve.add_argument("--interval", type=float, help="seconds between samples (default 1)")
    serve.add_argument("--disk-interval", type=float, metavar="SECONDS",
                       help="seconds between samples of Docker's disk use, /system/df "
                       "(default 300)")  # fmt: skip
    serve.add_argument("--resync-interval", type=float, metavar="SECONDS",
                       help="seconds between full re-lists of the containers, a backstop to "
                       "the events stream (default 60)")  # fmt: skip
    serve.add_argument("--journal", metavar="PATH", help="SQLite event journal (default "
                       "/var/lib/watchdog-agent/events.db as root, else under "
                       "$XDG_STATE_HOME); 'none' disables it")  # fmt: skip
    serve.add_argument("--history", type=int, metavar="N",
                       help="samples kept per container for ?history=N (default 300)")  # fmt: skip
    serve.add_argument("--max-streams", type=int, metavar="N",
                       help="concurrent streams; more answer 429 (default 64)")  # fmt: skip
    serve.add_argument("--max-connections", type=int, metavar="N",
                       help="open connections at most, and at most half the open-files "
                       "limit (default 512)")  # fmt: skip
    serve.add_argument("--header-timeout", type=float, metavar="SECONDS",
                       help="time for a request's headers to arrive (default 5)")  # fmt: skip
    serve.add_argument("--idle-timeout", type=float, metavar="SECONDS",
                       help="close a kept-alive connection idle this long "
                       "(default 30)")  # fmt: skip
    serve.add_argument("--auth-token-file", metavar="PATH", help="bearer tokens, one a "
                       "line; with it (or --basic-auth-file) every route needs auth")  # fmt: skip
    serve.add_argument("--basic-auth-file", metavar="PATH",
                       help="HTTP basic auth users, `user:bcrypt-hash` lines")  # fmt: skip
    serve.add_argument("--auth-exempt-health", action="store_true", default=None,
                       help="let /healthz and /readyz answer without auth")  # fmt: skip
    serve.add_argument("--tls-cert", metavar="PATH", help="serve HTTPS with this "
                       "certificate (PEM; needs --tls-key)")  # fmt: skip
    serve.add_argument("--tls-key", metavar="PATH", help="the certificate's private key (PEM)")
    serve.add_argument("--tls-client-ca", metavar="PATH", help="require client certificates "
                       "signed by this CA (PEM)")  # fmt: skip
    serve.add_argument("--metric-labels", metavar="KEY,KEY",
                       help="container labels to copy onto watchdog_container_info "
                       "(comma-separated; never onto data series)")  # fmt: skip
    serve.add_argument("--config", metavar="FILE", help="TOML file of settings "
                       "(flags and WATCHDOG_* variables take precedence)")  # fmt: skip
    _common(serve)


def _settings(args: argparse.Namespace) -> Settings:
    from watchdog_agent.config import settings_from

    interval = getattr(args, "interval", None)
    if interval is not None and interval <= 0:
        raise UsageError("--interval must be positive")
    return settings_from(
        docker_host=args.docker_host,
        proc_root=getattr(args, "proc_root", None),
        cgroup_root=getattr(args, "cgroup_root", None),
        interval=interval,
        no_docker=getattr(args, "no_docker", None),
    )


def _serve_settings(args: argparse.Namespace) -> Settings:
    from watchdog_agent.config import load_settings

    names = ("docker_host", "proc_root", "cgroup_root", "no_docker", "listen", "interval",
             "journal", "history", "max_streams", "max_connections",
             "header_timeout", "idle_timeout", "auth_token_file", "basic_auth_file",
             "auth_exempt_health", "tls_cert", "tls_key", "tls_client_ca",
             "metric_labels", "disk_interval", "resync_interval")  # fmt: skip
    return load_settings({n: getattr(args, n) for n in names}, config_file=args.config)


def _early_window(argv: list[str]) -> Window | None:
    """For ``stats --no-stream`` named so: the CPU window begun before the parser and the
    imports, on the cgroup root the command line or ``WATCHDOG_CGROUP_ROOT`` names (else
    the default); the command takes it over if its settings name the same root."""
    if argv[:1] != ["stats"] or "--no-stream" not in argv:
        return None
    root = os.environ.get("WATCHDOG_CGROUP_ROOT") or "/sys/fs/cgroup"
    for at, arg in enumerate(argv):
        if arg == "--cgroup-root" and at + 1 < len(argv):
            root = argv[at + 1]
        elif arg.startswith("--cgroup-root="):
            root = arg.partition("=")[2]
    from watchdog_agent.collectors.cgroupwalk import first_reads

    reads = first_reads(root)  # before importing the rest (the standard library only)
    from watchdog_agent.collectors.cpuwindow import begin_discovered

    return begin_discovered(root, reads)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    early = _early_window(argv)
    try:
        return _main(argv, early)
    finally:
        if early is not None:
            early.close()


def _main(argv: list[str], early: Window | None) -> int:
    # the command named first needs only its own subparser (and its module's imports)
    parser = build_parser(argv[0] if argv and argv[0] in FAST_PARSE else None)
    args = parser.parse_args(argv)
    if args.command not in QUIET_COMMANDS:
        from watchdog_agent import logsetup

        logsetup.configure()
    try:
        if args.command == "version":
            print(f"watchdog-agent {__version__}")
            return 0
        import asyncio

        if args.command == "stats":
            # a one-shot result's CPU window is begun on the containers found by cgroup
            # path (early, or now): the imports and Docker's answers happen inside it
            from watchdog_agent.collectors.cpuwindow import begin_discovered

            settings = _settings(args)
            window = early if early is not None and early.root == settings.cgroup_root else None
            if window is None and args.no_stream:
                window = begin_discovered(settings.cgroup_root)
            try:
                from watchdog_agent.commands.agentlink import options_from
                from watchdog_agent.commands.stats import run_stats
                from watchdog_agent.inventory.sources import parse_filters

                filters = parse_filters(args.filter)
                return asyncio.run(
                    run_stats(settings, args.containers, args.all, args.no_stream,
                              args.format, filters, agent=options_from(args), window=window)
                )  # fmt: skip
            finally:
                if window is not None:
                    window.close()
        if args.command == "top":
            from watchdog_agent.commands.agentlink import options_from
            from watchdog_agent.commands.top import run_top

            return asyncio.run(run_top(_settings(args), args.container, args.format,
                                       agent=options_from(args)))  # fmt: skip
        if args.command == "events":
            from watchdog_agent.commands.agentlink import options_from
            from watchdog_agent.commands.events import run_events

            settings = _settings(args)
            return asyncio.run(
                run_events(
                    settings, args.filter, args.since, args.until, args.format, args.journal,
                    agent=options_from(args),
                )
            )  # fmt: skip
        if args.command == "serve":
            from watchdog_agent.commands.serve import run_serve

            return asyncio.run(run_serve(_serve_settings(args)))
        if hasattr(args, "run_command"):  # logs, postmortem, info: their parsers name it
            return int(asyncio.run(args.run_command(args)))
        parser.print_help()
        return 2
    except UsageError as exc:
        print(f"watchdog-agent: {escape(str(exc))}", file=sys.stderr)
        return 2
    except WatchdogError as exc:
        print(f"watchdog-agent: {escape(str(exc))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
