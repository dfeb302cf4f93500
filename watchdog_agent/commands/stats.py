"""`watchdog-agent stats`: docker stats' columns, from the collectors.

``--no-stream`` reads the latest sample of a running agent that watches the same engine
(agentlink.choose) when the filters are ones the agent applies as Docker does; it samples
on its own otherwise (its first result then waits for one CPU window,
collectors/cpuwindow.py). A stream always samples on its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TextIO

from watchdog_agent.agent import gctune
from watchdog_agent.collectors import cpuwindow
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.commands import agentlink
from watchdog_agent.commands.agentlink import AgentOptions, AgentUnavailable, Link
from watchdog_agent.commands.textfmt import stats_table
from watchdog_agent.config import Settings
from watchdog_agent.errors import NotFound
from watchdog_agent.inventory.lookup import find_container
from watchdog_agent.inventory.sources import ContainerSource, Filters, open_source
from watchdog_agent.model import ContainerRef, Snapshot
from watchdog_agent.wire.fromjson import parse_time, ref_from_json, stats_from_json
from watchdog_agent.wire.tojson import stats_doc, unsampled

_CLEAR = "\x1b[2J\x1b[H"
# filters the agent's list applies as Docker does (inventory/psfilter.py); with others (id:
# Docker's regex over the id; ancestor: Docker follows the image graph; name as a regex)
# the one-shot command samples on its own
AGENT_FILTER_KEYS = frozenset({"name", "label", "status", "exited"})
_REGEX = re.compile(r"[.^$*+?()\[\]{}|\\]")


def select(refs: list[ContainerRef], wanted: Sequence[str]) -> list[ContainerRef]:
    """Containers named on the command line (full id, unique id prefix or name), in
    the order given; an argument matching nothing (or several) is an error."""
    if not wanted:
        return refs
    by_id = {r.id: r for r in refs}
    out: list[ContainerRef] = []
    for arg in wanted:
        ref = find_container(arg, by_id)
        if ref not in out:
            out.append(ref)
    return out


def render(
    refs: list[ContainerRef], snap: Snapshot, fmt: str, out: TextIO, clear: bool = False
) -> None:
    if fmt == "json":
        for r in refs:
            doc = stats_doc(r, snap.containers.get(r.id), snap.taken_at)
            out.write(json.dumps(doc) + "\n")
    else:
        rows = [snap.containers.get(r.id) or unsampled(r, snap.taken_at) for r in refs]
        out.write((_CLEAR if clear else "") + stats_table(rows) + "\n")
    out.flush()


async def run_stats(
    settings: Settings,
    containers: Sequence[str],
    all: bool,
    no_stream: bool,
    fmt: str,
    filters: Filters,
    out: TextIO | None = None,
    agent: AgentOptions | None = None,
    window: cpuwindow.Window | None = None,
) -> int:
    """``window``: a CPU window begun as the command started (cpuwindow.begin_discovered),
    taken over by the first result (closed here in any case)."""
    try:
        return await _run(settings, containers, all, no_stream, fmt, filters, out, agent, window)
    finally:
        if window is not None:
            window.close()


async def _run(
    settings: Settings,
    containers: Sequence[str],
    all: bool,
    no_stream: bool,
    fmt: str,
    filters: Filters,
    out: TextIO | None,
    agent: AgentOptions | None,
    window: cpuwindow.Window | None,
) -> int:
    out = sys.stdout if out is None else out  # bound per call, not at import
    if no_stream and agent is not None and not settings.no_docker and agent_filters(filters):
        link = await agentlink.choose(settings.docker_host, agent, instead="sampling here")
        if link is not None and await _from_agent(link, containers, all, fmt, filters, out):
            return 0
    layout = Layout(settings.cgroup_root)
    sampler = Sampler(settings.proc_root, layout.mode)
    source = await open_source(settings, layout, light=no_stream)
    try:
        # the first result (the only one with --no-stream) takes CPU % from the one-shot
        # window (collectors/cpuwindow.py); later frames from the sample before them
        clear = not no_stream and fmt != "json" and out.isatty()
        refs, targets = await _poll(source, containers, all, filters)
        render(refs, await first_snapshot(sampler, targets, window), fmt, out, clear)
        if no_stream:
            return 0
        gctune.tune_for_service()
        while True:
            await asyncio.sleep(settings.interval)
            refs, targets = await _poll(source, containers, all, filters)
            render(refs, sampler.sample(targets), fmt, out, clear)
    finally:
        sampler.close()
        await source.close()


async def first_snapshot(
    sampler: Sampler, targets: Mapping[str, Target], begun: cpuwindow.Window | None = None
) -> Snapshot:
    """A sample whose CPU % and throttled share come from one shared CPU window. The
    sample is taken inside the window, after its first reads (``begun``'s, or taken
    here), so the window's wait covers it."""
    locations = {k: t.location for k, t in targets.items()}
    window = cpuwindow.begin(locations) if begun is None else begun
    try:
        snap = sampler.sample(targets)
    except BaseException:
        window.close()
        raise
    readings = await cpuwindow.measure(locations, begun=window)
    rows = {k: cpuwindow.apply(row, readings.get(k)) for k, row in snap.containers.items()}
    return replace(snap, containers=rows)


async def _poll(
    source: ContainerSource, containers: Sequence[str], all: bool, filters: Filters
) -> tuple[list[ContainerRef], dict[str, Target]]:
    refs, targets = await source.poll(all=all or bool(containers), filters=filters)
    chosen = select(refs, containers)
    ids = {r.id for r in chosen}
    return chosen, {k: t for k, t in targets.items() if k in ids}


# -- through a running agent --------------------------------------------------------------


def agent_filters(filters: Filters) -> bool:
    """Whether the agent's list applies these filters as Docker would."""
    return all(
        key in AGENT_FILTER_KEYS and not (key == "name" and any(map(_REGEX.search, values)))
        for key, values in filters.items()
    )


async def _from_agent(
    link: Link,
    containers: Sequence[str],
    all: bool,
    fmt: str,
    filters: Filters,
    out: TextIO,
) -> bool:
    """Print the agent's latest sample of the containers; False (the caller samples on its
    own) when the agent stopped answering, or does not know a container named here yet."""
    every = all or bool(containers) or "status" in filters  # Docker: status implies -a
    params = [("all", "1")] if every else []
    params += [("filter", f"{key}={value}") for key, values in filters.items() for value in values]
    try:
        docs = await link.get_json("/api/v1/containers", params)
        if not isinstance(docs, list) or any(not _is_container(d) for d in docs):
            raise AgentUnavailable(link.url, "GET /api/v1/containers: not a container list")
        rows = {d["id"]: (ref_from_json(d), d.get("stats")) for d in docs}
        refs = sorted((ref for ref, _ in rows.values()), key=_newest_first)
        chosen = select(refs, containers)
    except AgentUnavailable as exc:
        agentlink.note_stderr(f"{exc}; sampling here")
        return False
    except NotFound:  # perhaps created a moment ago: Docker has the last word
        return False
    served = [rows[ref.id][1] for ref in chosen]
    at = max((t for doc in served if (t := _sampled_at(doc)) is not None), default=time.time())
    if fmt == "json":
        for ref, doc in zip(chosen, served, strict=True):
            row = doc if isinstance(doc, dict) else stats_doc(ref, None, at)
            out.write(json.dumps(row) + "\n")  # the API's values, unchanged
    else:
        table = [
            stats_from_json(doc) if isinstance(doc, dict) else unsampled(ref, at)
            for ref, doc in zip(chosen, served, strict=True)
        ]
        out.write(stats_table(table) + "\n")
    out.flush()
    return True


def _is_container(doc: Any) -> bool:
    return isinstance(doc, dict) and isinstance(doc.get("id"), str)


def _newest_first(ref: ContainerRef) -> tuple[float, str]:
    """Docker's order for its container list: the most recently created first."""
    return -(ref.created or 0.0), ref.id


def _sampled_at(doc: Any) -> float | None:
    return parse_time(doc.get("sampled_at")) if isinstance(doc, dict) else None
