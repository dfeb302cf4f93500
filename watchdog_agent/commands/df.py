"""`watchdog-agent df [-v] [--format table|json]`: Docker's disk use by area, with the
columns and numbers of ``docker system df`` (and ``-v``).

From a running agent that watches the same engine (``GET /api/v1/disk``, agentlink.choose),
which asks Docker again unless ``--cached`` (at most once every few seconds, see
agent/disksampler.py), else from Docker's ``/system/df`` directly. ``--format json``
prints the API's document (sizes in bytes, names exactly as Docker sent them).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from watchdog_agent.commands import agentlink
from watchdog_agent.commands.agentlink import AgentOptions
from watchdog_agent.config import load_settings
from watchdog_agent.errors import UsageError

# build_parser() imports this module for every command: what df alone needs (the disk
# sampler's module brings structlog, which stats and top must never import) is imported
# when df runs


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "df", help="Docker's disk use by area (docker system df)",
        description="Images, containers, local volumes and build cache: how many, how many "
        "in use, their size and what could be reclaimed, as docker system df computes them.",
    )  # fmt: skip
    p.add_argument("-v", "--verbose", action="store_true",
                   help="every image, container, volume and build-cache record")  # fmt: skip
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--cached", action="store_true",
                   help="from an agent, its last sample (taken every --disk-interval "
                   "seconds) without asking Docker again")  # fmt: skip
    p.add_argument("--docker-host", help="Docker address (default: $DOCKER_HOST or the "
                   "standard unix socket)")  # fmt: skip
    agentlink.add_arguments(p, "ask the agent there")
    p.set_defaults(run_command=_run)


async def _run(args: argparse.Namespace) -> int:
    settings = load_settings({"docker_host": args.docker_host})
    doc = await disk_doc(settings.docker_host, agentlink.options_from(args), args.verbose,
                         args.cached)  # fmt: skip
    show(doc, args.format, args.verbose, sys.stdout)
    return 0


async def disk_doc(
    docker_host: str, options: AgentOptions, verbose: bool, cached: bool = False
) -> dict[str, Any]:
    """The disk document: from the agent when one watches this engine, else Docker."""
    link = await agentlink.choose(docker_host, options)
    if link is not None:
        params = [("verbose", "1" if verbose else "0"), ("refresh", "0" if cached else "1")]
        doc = await link.get_json("/api/v1/disk", params)
        if not isinstance(doc, dict) or not isinstance(doc.get("areas"), list):
            raise UsageError(f"the agent at {link.url} answered something that is not a disk "
                             "document")  # fmt: skip
        return doc
    from watchdog_agent.agent.diskareas import areas
    from watchdog_agent.agent.disksampler import fetch_disk_usage
    from watchdog_agent.docker.lite import LiteDockerClient
    from watchdog_agent.wire.diskjson import disk_json

    client = LiteDockerClient(docker_host)
    try:
        usage = await fetch_disk_usage(client)
    finally:
        await client.close()
    return disk_json(usage, areas(usage), verbose)


def show(doc: dict[str, Any], fmt: str, verbose_rows: bool, out: TextIO) -> None:
    from watchdog_agent.commands.dftext import summary, verbose

    if fmt == "json":
        out.write(json.dumps(doc) + "\n")
    else:
        out.write(verbose(doc) if verbose_rows else summary(doc))
    out.flush()
