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
from watchdog_agent.inventory.psfilter import PsFilter, parse_ps_filters
from watchdog_agent.model import ProcessCost, Snapshot
from watchdog_agent.wire.tojson import rfc3339

from . import documents, params
from .keys import AGENT, STREAMS
from .routes_containers import listed
from .routes_host import host_doc
from .streams import KEEPALIVE, Writer, choose_writer, next_or_tick, run_stream


def _whole(value: float | None) -> int | None:
    return None if value is None else int(value)


def cost_json(cost: ProcessCost | None) -> dict[str, Any] | None:
    """The agent's own process, as its process_* metrics read it (null: not read yet;
    a null field: not readable here). Bytes and descriptors are whole numbers."""
    if cost is None:
        return None
    return {
        "cpu_seconds_total": cost.cpu_seconds_total,
        "resident_memory_bytes": _whole(cost.resident_memory_bytes),
        "virtual_memory_bytes": _whole(cost.virtual_memory_bytes),
        "open_fds": _whole(cost.open_fds),
        "max_fds": _whole(cost.max_fds),
        "start_time_seconds": cost.start_time_seconds,
    }


def snapshot_doc(agent: Agent, everything: bool, ps: PsFilter) -> dict[str, Any]:
    """The document of the latest snapshot (``sampled_at`` null before the first pass)."""
    latest = agent.store.latest
    daemon = agent.daemon_state()
    return {
        "sampled_at": None if latest is None else rfc3339(latest.taken_at),
        "interval_seconds": agent.settings.interval,
        "containers": listed(agent, everything, ps),
        "host": host_doc(agent),
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
                await _pump(writer, agent, sub, everything, ps)

            return await run_stream(choose_writer(request), sub.close, produce)
    finally:
        sub.close()


async def _pump(
    writer: Writer, agent: Agent, sub: SnapshotSubscription, everything: bool, ps: PsFilter
) -> None:
    """The latest snapshot's document (none before the first pass), then one per new
    snapshot until the store ends (shutdown) or the client goes.

    A document is built from the store's latest snapshot, so one queued behind a newer
    one (a slow reader) is skipped: a reader that falls behind gets the newest state, not
    stale documents, and never two documents of the same pass.
    """
    sent: Snapshot | None = None
    snapshot = agent.store.latest
    while True:
        if snapshot is not None and snapshot is agent.store.latest and snapshot is not sent:
            await writer.send("snapshot", json.dumps(snapshot_doc(agent, everything, ps)))
            sent = snapshot
        try:
            snapshot = await next_or_tick(sub, KEEPALIVE)
        except StopAsyncIteration:
            return
        if snapshot is None and not await writer.keepalive():
            return


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/stats", get_snapshot, allow_head=False)
