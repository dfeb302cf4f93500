"""`watchdog-agent info`: the Docker daemon as ``docker info`` shows it (versions,
drivers, data root and its filesystem, registries, counts, Docker's own warnings).

From a running agent that watches the same engine (agentlink.choose: its
``GET /api/v1/info``, ``daemon``), else straight from Docker (``GET /info`` and
``/version``, statvfs of the data root through ``<proc-root>/1/root``). ``--format json``
prints the API's ``daemon`` object; the table escapes every string (termsafe): warnings,
names and options come from the daemon's configuration, untrusted text for a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Mapping
from typing import Any, TextIO

from watchdog_agent.collectors.fsusage import measure_data_root
from watchdog_agent.commands import agentlink
from watchdog_agent.commands.agentlink import AgentOptions
from watchdog_agent.commands.textfmt import MISSING, binary_size
from watchdog_agent.config import load_settings
from watchdog_agent.docker.lite import LiteDockerClient
from watchdog_agent.errors import UsageError
from watchdog_agent.model import DaemonState
from watchdog_agent.server.documents import daemon_json
from watchdog_agent.termsafe import escape, escape_json


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "info", help="the Docker daemon's configuration and data root (docker info)",
        description="Show the Docker daemon's version, storage, logging and cgroup drivers, "
        "data root and the filesystem holding it, registry mirrors, insecure registries, "
        "live-restore, runtime, security options, container and image counts and Docker's "
        "own warnings.",
    )  # fmt: skip
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--docker-host", help="Docker address (default: $DOCKER_HOST or the "
                   "standard unix socket)")  # fmt: skip
    p.add_argument("--proc-root", help="procfs whose PID 1 sees the data root, without an "
                   "agent (default /proc)")  # fmt: skip
    agentlink.add_arguments(p, "ask the agent there")
    p.set_defaults(run_command=_run)


async def _run(args: argparse.Namespace) -> int:
    settings = load_settings({"docker_host": args.docker_host, "proc_root": args.proc_root})
    doc = await daemon_doc(settings.docker_host, settings.proc_root, agentlink.options_from(args))
    show(doc, args.format, sys.stdout)
    return 0


async def daemon_doc(docker_host: str, proc_root: str, options: AgentOptions) -> dict[str, Any]:
    """The API's ``daemon`` object: from the agent when it has one, else from Docker."""
    link = await agentlink.choose(docker_host, options)
    if link is not None:
        doc = (link.info or {}).get("daemon")
        if isinstance(doc, dict) and doc.get("sampled_at") is not None:
            return doc
        if link.info is not None and "daemon" not in link.info:
            agentlink.note_stderr(f"the agent at {link.url} does not report the daemon "
                                  f"(an older agent); reading Docker at {docker_host}")  # fmt: skip
        elif isinstance(doc, dict) and doc.get("up") is False and options.explicit:
            return doc  # named with --agent: its view, even if it never read /info
    return await from_docker(docker_host, proc_root)


async def from_docker(docker_host: str, proc_root: str) -> dict[str, Any]:
    client = LiteDockerClient(docker_host)
    try:
        info = await client.daemon_info()
    finally:
        await client.close()
    fs = None
    if info.data_root is not None:
        fs = await asyncio.to_thread(measure_data_root, proc_root, info.data_root)
    now = time.time()
    return daemon_json(DaemonState(True, now, info, now, fs))


def show(doc: Mapping[str, Any], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(escape_json(json.dumps(doc)) + "\n")
    elif fmt == "table":
        out.write(render(doc))
    else:
        raise UsageError(f"unknown format {fmt!r}")
    out.flush()


def _text(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _fs(fs: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    if fs is None:
        return [("Data Root Filesystem", MISSING)]
    inodes = MISSING
    if fs.get("inodes_total") is not None:
        inodes = f"{fs['inodes_total']} ({_text(fs.get('inodes_free'))} free)"
    return [
        ("Data Root Filesystem", _text(fs.get("path"))),
        ("  Size", binary_size(fs.get("size_bytes"))),
        ("  Used", binary_size(fs.get("used_bytes"))),
        ("  Available", binary_size(fs.get("free_bytes"))),
        ("  Inodes", inodes),
    ]


def render(doc: Mapping[str, Any]) -> str:
    """``docker info``'s server section, as "Key: value" lines; lists one item a line."""
    counts = ", ".join(
        f"{k} {_text(doc.get('containers_' + k))}" for k in ("running", "paused", "stopped")
    )
    rows: list[tuple[str, str]] = [
        ("Up", _text(doc.get("up"))),
        ("Sampled At", _text(doc.get("sampled_at"))),
        ("Server Version", _text(doc.get("version"))),
        ("API Version", _text(doc.get("api_version"))),
        ("ID", _text(doc.get("id"))),
        ("Name", _text(doc.get("name"))),
        ("Operating System", _text(doc.get("os"))),
        ("Kernel Version", _text(doc.get("kernel_version"))),
        ("Storage Driver", _text(doc.get("storage_driver"))),
        ("Logging Driver", _text(doc.get("logging_driver"))),
        ("Cgroup Driver", _text(doc.get("cgroup_driver"))),
        ("Cgroup Version", _text(doc.get("cgroup_version"))),
        ("Default Runtime", _text(doc.get("default_runtime"))),
        ("Live Restore Enabled", _text(doc.get("live_restore"))),
        ("Containers", f"{_text(doc.get('containers'))} ({counts})"),
        ("Images", _text(doc.get("images"))),
        ("Docker Root Dir", _text(doc.get("data_root_dir"))),
        *_fs(doc.get("data_root")),
    ]
    width = max(len(k) for k, _ in rows) + 2
    lines = [f" {k + ':':<{width}}{v}" for k, v in rows]
    for title, key in (
        ("Registry Mirrors", "registry_mirrors"),
        ("Insecure Registries", "insecure_registries"),
        ("Security Options", "security_options"),
        ("Warnings", "warnings"),
    ):
        items = doc.get(key)
        if items is None:
            lines.append(f" {title + ':':<{width}}{MISSING}")
        elif items:
            lines.append(f" {title}:")
            lines += [f"  {escape(str(item))}" for item in items]
        else:
            lines.append(f" {title + ':':<{width}}(none)")
    return "\n".join(lines) + "\n"
