"""`watchdog-agent top`: a container's process tree with host and in-container PIDs.

From a running agent that watches the same engine (``GET /api/v1/containers/{id}/top``,
agentlink.choose), else read here from /proc; the same table either way, and with
``--format json``/``tree-json`` the agent's lists unchanged.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO
from urllib.parse import quote

from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.proctree import build_tree, read_top
from watchdog_agent.collectors.sampler import Target
from watchdog_agent.commands import agentlink
from watchdog_agent.commands.agentlink import AgentError, AgentOptions, AgentUnavailable, Link
from watchdog_agent.commands.stats import select
from watchdog_agent.commands.textfmt import top_footer, top_table, top_tree, unreadable_note
from watchdog_agent.config import Settings
from watchdog_agent.errors import NotFound
from watchdog_agent.inventory.sources import open_source
from watchdog_agent.wire.fromjson import process_from_json, unreadable_from_json
from watchdog_agent.wire.tojson import process_json


async def find_target(settings: Settings, layout: Layout, ident: str) -> Target:
    source = await open_source(settings, layout, light=True)
    try:
        refs, targets = await source.poll(all=True)
        ref = select(refs, [ident])[0]
        target = targets.get(ref.id)
        if target is None:
            raise NotFound(ident, "container is not running")
        return target
    finally:
        await source.close()


async def run_top(
    settings: Settings,
    ident: str,
    fmt: str,
    out: TextIO | None = None,
    agent: AgentOptions | None = None,
) -> int:
    out = sys.stdout if out is None else out  # bound per call, not at import
    if agent is not None and not settings.no_docker:
        link = await agentlink.choose(settings.docker_host, agent, instead="reading /proc here")
        doc = None if link is None else await _from_agent(link, ident)
        if doc is not None and link is not None:
            try:
                shown = _agent_text(doc, fmt)
            except (AttributeError, KeyError, TypeError, ValueError) as exc:
                agentlink.note_stderr(
                    f"the agent at {link.url} answered a process list this version cannot"
                    f" read ({type(exc).__name__}); reading /proc here"
                )
            else:
                out.write(shown)
                _tell_unreadable(fmt, len(doc["processes"]), unreadable_from_json(doc), out)
                out.flush()
                return 0
    layout = Layout(settings.cgroup_root)
    target = await find_target(settings, layout, ident)
    listed = await read_top(settings.proc_root, target.location)
    flat = listed.processes
    if fmt == "json":
        out.write(json.dumps([process_json(p) for p in flat]) + "\n")
    elif fmt == "tree-json":
        out.write(json.dumps([process_json(p, nested=True) for p in build_tree(flat)]) + "\n")
    elif fmt == "tree":
        out.write(top_tree(build_tree(flat)) + "\n")
    else:
        out.write(top_table(flat) + "\n")
    _tell_unreadable(fmt, len(flat), listed.unreadable, out)
    return 0


def _tell_unreadable(fmt: str, listed: int, unreadable: int | None, out: TextIO) -> None:
    """The footer under a text table; with the JSON formats (stdout: the list alone) a
    note on stderr, when some process could not be read."""
    if fmt not in ("json", "tree-json"):
        out.write(top_footer(listed, unreadable) + "\n")
    elif unreadable:
        agentlink.note_stderr(unreadable_note(unreadable))


async def _from_agent(link: Link, ident: str) -> dict[str, Any] | None:
    """The agent's top document; None (read here instead) when the agent stopped
    answering or does not know the container (perhaps created a moment ago)."""
    try:
        doc = await link.get_json(f"/api/v1/containers/{quote(ident, safe='')}/top")
    except AgentUnavailable as exc:
        agentlink.note_stderr(f"{exc}; reading /proc here")
        return None
    except AgentError as exc:
        if exc.status == 409:  # not running, or an ambiguous prefix: as the path here says
            raise NotFound(ident, exc.error) from exc
        if exc.status in (400, 404):  # an ident the API does not take, or not known yet
            return None
        raise
    lists = isinstance(doc, dict) and all(
        isinstance(doc.get(k), list) for k in ("processes", "tree")
    )
    if not lists:
        agentlink.note_stderr(
            f"the agent at {link.url} answered no process list; reading /proc here"
        )
        return None
    return dict(doc)


def _agent_text(doc: dict[str, Any], fmt: str) -> str:
    """What ``top`` prints for the agent's document (before the footer)."""
    if fmt == "json":
        return json.dumps(doc["processes"]) + "\n"
    if fmt == "tree-json":
        return json.dumps(doc["tree"]) + "\n"
    if fmt == "tree":
        return top_tree([process_from_json(p) for p in doc["tree"]]) + "\n"
    return top_table([process_from_json(p) for p in doc["processes"]]) + "\n"
