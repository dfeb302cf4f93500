"""``GET /api/v1/stats``: every container's latest stats in one document per sample (what
``dstats`` shows), or ``?stream=1`` one such document per sampling pass.

A document is a whole snapshot: the containers (``/api/v1/containers``' objects, stats
inline; ``?all=1`` adds the stopped ones, ``?filter=`` as there), the host's totals, the
daemon's state and the agent's own cost, so a view needs one stream, not one request per
container. No I/O here: each is a conversion of the latest Snapshot.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from watchdog_agent.agent.snapshots import SnapshotSubscription
from watchdog_agent.agent.wiring import Agent
from watchdog_agent.model import ProcessCost
from watchdog_agent.wire.tojson import rfc3339

from . import documents, params
from .keys import AGENT, STREAMS
from .psfilter import PsFilter, parse_ps_filters
from .routes_containers import current_stats
from .streams import KEEPALIVE, Writer, choose_writer, next_or_tick, run_stream


def cost_json(cost: ProcessCost | None) -> dict[str, Any] | None:
    """The agent's own process (null: not read yet)."""
    if cost is None:
        return None
    return {
        "cpu_seconds_total": cost.cpu_seconds_total,
        "resident_memory_bytes": cost.resident_memory_bytes,
        "virtual_memory_bytes": cost.virtual_memory_bytes,
        "open_fds": cost.open_fds,
        "start_time_seconds": cost.start_time_seconds,
    }


def snapshot_doc(agent: Agent, everything: bool, ps: PsFilter) -> dict[str, Any]:
    latest = agent.store.latest
    refs = [
        r for r in agent.refs().values()
        if (everything or r.state == "running") and ps.matches(r)
    ]  # fmt: skip
    daemon = agent.daemon_state()
    host = agent.host
    data_root = None if daemon is None else daemon.data_root_fs
    return {
        "sampled_at": None if latest is None else rfc3339(latest.taken_at),
        "interval_seconds": agent.settings.interval,
        "containers": documents.containers_json(refs, current_stats(agent)),
        "host": None
        if host is None
        else documents.host_json(host, agent.settings.proc_root, data_root),
        "daemon": None if daemon is None else documents.daemon_json(daemon),
        "agent": cost_json(agent.cost),
    }


async def get_snapshot(request: web.Request) -> web.StreamResponse:
    agent = request.app[AGENT]
    ps = parse_ps_filters(request.query.getall("filter", []))
    everything = params.flag(request.query, "all")
    if not params.flag(request.query, "stream"):
        return web.json_response(snapshot_doc(agent, everything, ps))
    sub = agent.store.subscribe()
    try:
        with request.app[STREAMS].slot(sub.close):

            async def produce(writer: Writer) -> None:
                await writer.send("snapshot", json.dumps(snapshot_doc(agent, everything, ps)))
                await _pump(writer, agent, sub, everything, ps)

            return await run_stream(choose_writer(request), sub.close, produce)
    finally:
        sub.close()


async def _pump(
    writer: Writer, agent: Agent, sub: SnapshotSubscription, everything: bool, ps: PsFilter
) -> None:
    """One document per new snapshot until the store ends (shutdown) or the client goes."""
    while True:
        try:
            snapshot = await next_or_tick(sub, KEEPALIVE)
        except StopAsyncIteration:
            return
        if snapshot is None:
            if not await writer.keepalive():
                return
            continue
        await writer.send("snapshot", json.dumps(snapshot_doc(agent, everything, ps)))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/stats", get_snapshot, allow_head=False)
