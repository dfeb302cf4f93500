"""`watchdog-agent postmortem CONTAINER`: what the agent stored about a container's death.

From a running agent that watches the same engine (agentlink.choose), else from the
post-mortem store the agent keeps next to its event journal (agent/postmortem/store.py), read-only.
Both work after the container was removed: ``CONTAINER`` is an id, a name (the latest
container of that name) or a unique id prefix. ``--format json`` prints the API's
document unchanged; text shows every container-sourced string escaped (termsafe).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any, TextIO
from urllib.parse import quote

from watchdog_agent.agent.postmortem.store import PostMortemStore, store_path
from watchdog_agent.commands import agentlink
from watchdog_agent.commands.agentlink import AgentError, AgentOptions
from watchdog_agent.commands.pmtext import render
from watchdog_agent.config import load_settings
from watchdog_agent.errors import NotFound, UsageError, WatchdogError


def add_parser(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "postmortem", help="a dead container's post-mortem, also after its removal",
        description="Show what the agent stored when a container died: exit code, OOM "
        "kill, signal, its last minute of samples, processes, last log lines and events.",
    )  # fmt: skip
    p.add_argument("container", metavar="CONTAINER", help="id, name or id prefix")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--journal", metavar="PATH",
                   help="without an agent, read the post-mortems stored next to this event "
                   "journal (default: the agent's default journal)")  # fmt: skip
    p.add_argument("--docker-host", help="Docker address, to check that the agent watches "
                   "it (default: $DOCKER_HOST or the standard unix socket)")  # fmt: skip
    agentlink.add_arguments(p, "ask the agent there")
    p.set_defaults(run_command=_run)


async def _run(args: argparse.Namespace) -> int:
    settings = load_settings({"docker_host": args.docker_host, "journal": args.journal})
    options = agentlink.options_from(args)
    doc = await find(args.container, options, settings.docker_host, settings.journal)
    show(doc, args.format, sys.stdout)
    return 0


async def find(
    ident: str, options: AgentOptions, docker_host: str, journal: str | None
) -> dict[str, Any]:
    """The latest post-mortem document for ``ident``: from the agent, else the store."""
    path = store_path(journal)
    instead = f"reading the post-mortem store {path}" if path else "no post-mortem store"
    link = await agentlink.choose(docker_host, options, instead=instead)
    if link is not None:
        try:
            doc = await link.get_json(f"/api/v1/containers/{quote(ident, safe='')}/postmortem")
        except AgentError as exc:
            if exc.status == 404:
                raise NotFound(ident, "no post-mortem") from exc
            raise
        if not isinstance(doc, dict):
            raise UsageError(f"the agent at {link.url} answered something that is not an object")
        return doc
    if path is None or not os.path.isfile(path):
        where = f"no post-mortem store at {path}" if path else "no journal (--journal none)"
        raise WatchdogError(f"no agent to ask and {where}: cannot look up {ident}")
    return await asyncio.to_thread(_from_store, path, ident)


def _from_store(path: str, ident: str) -> dict[str, Any]:
    store = PostMortemStore(path)
    store.open_readonly()
    try:
        ids = store.lookup(ident)
        if len(ids) > 1:
            shown = ", ".join(i[:12] for i in ids[:10])
            raise NotFound(ident, f"ambiguous container (matches {shown})")
        doc = store.latest(ids[0]) if ids else None
    finally:
        store.close()
    if doc is None:
        raise NotFound(ident, "no post-mortem")
    return doc


def show(doc: dict[str, Any], fmt: str, out: TextIO) -> None:
    if fmt == "json":
        out.write(json.dumps(doc) + "\n")
    else:
        out.write(render(doc))
    out.flush()
