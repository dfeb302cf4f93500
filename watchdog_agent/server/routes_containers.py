"""/api/v1/containers: the list, one container, its stats (from the store) and its top.

Stats never come from Docker's stats endpoint: they are the sampler's latest Snapshot
(or its short history); a stream pushes each new sample.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from watchdog_agent.agent.snapshots import SnapshotSubscription
from watchdog_agent.agent.wiring import Agent
from watchdog_agent.collectors.proctree import build_tree, read_top
from watchdog_agent.errors import ContainerGone
from watchdog_agent.inventory.psfilter import PsFilter, parse_ps_filters
from watchdog_agent.model import (
    LIVE_STATES,
    ContainerRef,
    ContainerStats,
)
from watchdog_agent.wire.tojson import history_json, stats_doc, stats_json

from . import documents, params
from .httperrors import ApiError
from .keys import AGENT, STREAMS
from .resolve import resolve
from .streams import KEEPALIVE, Writer, choose_writer, next_or_tick, run_stream


def _ref(request: web.Request) -> tuple[Agent, ContainerRef]:
    agent = request.app[AGENT]
    return agent, resolve(request.match_info["id"], agent.refs())


def current_stats(agent: Agent) -> dict[str, ContainerStats]:
    """Latest stats of the containers that are still live (a stopped one's last sample,
    from before it stopped, is not current)."""
    latest = agent.store.latest
    if latest is None:
        return {}
    refs = agent.refs()
    return {
        cid: stats for cid, stats in latest.containers.items()
        if (ref := refs.get(cid)) is not None and ref.state in LIVE_STATES
    }  # fmt: skip


def listed(agent: Agent, everything: bool, ps: PsFilter) -> list[dict[str, Any]]:
    """The containers' document: the running ones (every one with ``everything``) that
    ``ps`` matches, each with its latest stats (/api/v1/containers and /api/v1/stats)."""
    refs = [
        r for r in agent.refs().values()
        if (everything or r.state == "running") and ps.matches(r)
    ]  # fmt: skip
    return documents.containers_json(refs, current_stats(agent))


async def list_containers(request: web.Request) -> web.Response:
    ps = parse_ps_filters(request.query.getall("filter", []))
    everything = params.flag(request.query, "all")
    return web.json_response(listed(request.app[AGENT], everything, ps))


async def get_container(request: web.Request) -> web.Response:
    agent, ref = _ref(request)
    return web.json_response(documents.container_json(ref, current_stats(agent).get(ref.id)))


async def get_stats(request: web.Request) -> web.StreamResponse:
    agent, ref = _ref(request)
    history = params.count(request.query, "history", agent.store.maxlen)
    if params.flag(request.query, "stream"):
        return await _stream_stats(request, agent, ref, history)
    if history is not None:
        return web.json_response([history_json(r) for r in agent.store.history(ref.id, history)])
    return web.json_response(stats_doc(ref, current_stats(agent).get(ref.id)))


async def _stream_stats(
    request: web.Request, agent: Agent, ref: ContainerRef, history: int | None
) -> web.StreamResponse:
    sub = agent.store.subscribe()
    try:
        with request.app[STREAMS].slot(sub.close):
            if history is None:  # the latest sample, whole
                latest = current_stats(agent).get(ref.id)
                first = [] if latest is None else [stats_json(latest)]
            else:  # kept samples (compact: no net_interfaces, no PSI totals)
                first = [history_json(r) for r in agent.store.history(ref.id, history)]

            async def produce(writer: Writer) -> None:
                for doc in first:
                    await writer.send("stats", json.dumps(doc))
                await _pump_stats(writer, agent, ref, sub)

            return await run_stream(choose_writer(request), sub.close, produce)
    finally:
        sub.close()


async def _pump_stats(
    writer: Writer, agent: Agent, ref: ContainerRef, sub: SnapshotSubscription
) -> None:
    """Each new sample of the container; ends when the container is removed."""
    while True:
        try:
            snapshot = await next_or_tick(sub, KEEPALIVE)
        except StopAsyncIteration:
            return
        if snapshot is None:
            if not await writer.keepalive():
                return
            continue
        stats = snapshot.containers.get(ref.id)
        if stats is not None:
            await writer.send("stats", json.dumps(stats_json(stats)))
        elif ref.id not in agent.refs():
            return


async def get_top(request: web.Request) -> web.Response:
    agent, ref = _ref(request)
    target = await agent.target_of(ref)
    if target is None:  # it exists (resolved above) but has no processes
        raise ApiError(409, "container is not running", {"id": ref.id})
    try:
        listed = await read_top(agent.settings.proc_root, target.location)
    except ContainerGone as exc:  # removed since the lookup: 404, named by its id
        raise ContainerGone(ref.id) from exc
    flat = listed.processes
    return web.json_response(documents.top_json(ref, flat, build_tree(flat), listed.unreadable))


def setup(app: web.Application) -> None:
    add = app.router.add_get
    add("/api/v1/containers", list_containers, allow_head=False)
    add("/api/v1/containers/{id}", get_container, allow_head=False)
    add("/api/v1/containers/{id}/stats", get_stats, allow_head=False)
    add("/api/v1/containers/{id}/top", get_top, allow_head=False)
