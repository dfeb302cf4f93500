"""``GET /metrics``: the latest snapshot in cAdvisor's names, plus the agent's own.

A snapshot's families are rendered at most once, in a thread, started by the first scrape
that finds the snapshot new (one replaced before any scrape asked is never rendered).
Scrapes never queue behind that rendering: while it runs they get the previous snapshot's
bytes (one sampling interval older); only a scrape that finds nothing rendered yet (the
first one of the agent's life) waits for it. Every scrape writes the cached bytes, the few
families that change between passes (build info, sampling errors, event counters) and the
inventory's state series (rendered once per inventory change). Nobody scraping costs no
rendering; fifty scrapers of one snapshot cost one.

The event counters come from ``EVENT_COUNTS``, which the app factory provides: this route
does not know where the events side keeps them.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from watchdog_agent.agent.diskareas import areas
from watchdog_agent.agent.wiring import Agent
from watchdog_agent.exporter.cache import MetricsCache
from watchdog_agent.exporter.disk import DiskMetrics
from watchdog_agent.exporter.exposition import negotiate
from watchdog_agent.exporter.scrape import Scrape
from watchdog_agent.exporter.states import InventoryMetrics
from watchdog_agent.model import Snapshot

from .keys import AGENT, EVENT_COUNTS

SCRAPE = web.AppKey("metrics_scrape", Scrape)


class Renderer:
    """Renders each new snapshot once, in a thread, when a scrape first asks for it.

    Scrapes never queue behind a rendering: while one runs they get the last rendering
    (one sampling interval older); only the very first scrape waits. The cache holds the
    rendered bytes, not the Snapshot: a replaced Snapshot is released at once.
    """

    def __init__(self, cache: MetricsCache) -> None:
        self.cache = cache
        self._task: asyncio.Task[None] | None = None

    async def ensure(self, snapshot: Snapshot | None) -> None:
        if snapshot is None or self.cache.rendered(snapshot):
            return
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._render(snapshot), name="metrics-render")
        if not self.cache.last():
            await asyncio.shield(self._task)

    async def _render(self, snapshot: Snapshot) -> None:
        await asyncio.to_thread(self.cache.render, snapshot)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


RENDERER = web.AppKey("metrics_renderer", Renderer)


async def metrics(request: web.Request) -> web.StreamResponse:
    await request.app[RENDERER].ensure(request.app[AGENT].store.latest)
    content_type, fmt = negotiate(request.headers.get("Accept"))
    parts = request.app[SCRAPE].parts(fmt)
    # written chunk by chunk from the cached rendering: a scrape copies none of it
    resp = web.StreamResponse(headers={"Content-Type": content_type})
    resp.content_length = sum(len(part) for part in parts)
    await resp.prepare(request)
    for part in parts:
        await resp.write(part)
    await resp.write_eof()
    return resp


def _inventory_version(agent: Agent) -> object:
    """Changes when the containers' states may have: Docker's inventory on its events,
    the discovered containers (no Docker) with each snapshot."""
    inventory = agent.inventory
    if inventory is not None:
        return (inventory.resyncs, inventory.updates)
    latest = agent.store.latest
    return None if latest is None else latest.taken_at


def setup(app: web.Application) -> None:
    """Needs ``AGENT`` and ``EVENT_COUNTS`` in the app."""
    agent = app[AGENT]
    cache = MetricsCache(refs=agent.refs, label_allowlist=agent.settings.metric_labels)
    renderer = Renderer(cache)
    app[SCRAPE] = Scrape(
        cache,
        sampling_errors=agent.sampling_errors,
        events=app[EVENT_COUNTS],
        states=InventoryMetrics(agent.refs, lambda: _inventory_version(agent)),
        host=lambda: agent.host,
        cost=lambda: agent.cost,
        daemon=agent.daemon_state,
        disk=DiskMetrics(lambda: None if agent.disk is None else agent.disk.latest, areas),
        tasks=lambda: len(asyncio.all_tasks()),  # a scrape runs on the loop
    )
    app[RENDERER] = renderer
    app.on_cleanup.append(lambda _app: renderer.close())
    app.router.add_get("/metrics", metrics, allow_head=False)
