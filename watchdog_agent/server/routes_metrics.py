"""``GET /metrics``: the latest snapshot in cAdvisor's names, plus the agent's own.

A snapshot's families are rendered at most once, in a thread, by the first scrape that
sees it (scrapers arriving meanwhile wait for that one rendering); every other scrape
only writes cached bytes and adds the few counters that change between passes (events,
losses, gaps, errors). Nobody scraping costs nothing; fifty scrapers cost one render.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from aiohttp import web
from prometheus_client.metrics_core import Metric

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.exporter.collector import MetricsCache, SnapshotCollector
from watchdog_agent.exporter.exposition import Format, negotiate
from watchdog_agent.exporter.states import InventoryMetrics
from watchdog_agent.model import Snapshot

from .keys import AGENT

COLLECTOR = web.AppKey("metrics_collector", SnapshotCollector)


def event_families(agent: Agent) -> list[Metric]:
    """Events by type and action, events lost by slow subscribers, and gaps."""
    tap = None if agent.events is None else agent.events.tap
    out: list[Metric] = []
    events = Metric("watchdog_events", "Docker events received, by type and action.", "counter")
    for (type_, action), count in sorted(tap.counts.items() if tap is not None else ()):
        events.add_sample("watchdog_events_total", {"type": type_, "action": action}, count)
    out.append(events)
    for name, help_, value in _event_counters(agent):
        metric = Metric(name, help_, "counter")
        metric.add_sample(name + "_total", {}, value)
        out.append(metric)
    return out


def _event_counters(agent: Agent) -> Iterator[tuple[str, str, int]]:
    tap = None if agent.events is None else agent.events.tap
    yield ("watchdog_events_lost", "Events dropped for slow subscribers.", agent.bus.dropped_total)
    yield (
        "watchdog_events_gaps",
        "Stretches where the agent could not prove it saw every event.",
        0 if tap is None else tap.gaps,
    )
    yield (
        "watchdog_events_skipped_lines",
        "Malformed event lines skipped.",
        0 if tap is None else tap.skipped_lines,
    )


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


INVENTORY = web.AppKey("metrics_inventory", InventoryMetrics)


async def metrics(request: web.Request) -> web.StreamResponse:
    await request.app[RENDERER].ensure(request.app[AGENT].store.latest)
    content_type, fmt = negotiate(request.headers.get("Accept"))
    parts = request.app[COLLECTOR].render_last(fmt)
    extra = request.app[INVENTORY].render(fmt)
    parts.insert(len(parts) - 1 if fmt is Format.OPENMETRICS else len(parts), extra)  # before EOF
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
    agent = app[AGENT]
    cache = MetricsCache(refs=agent.refs, label_allowlist=agent.settings.metric_labels)
    renderer = Renderer(cache)
    collector = SnapshotCollector(
        lambda: agent.store.latest,  # the collect() path; scrapes use render_last
        cache=cache,
        errors_total=agent.sampling_errors,
        providers=[lambda: event_families(agent)],
    )
    app[COLLECTOR] = collector
    app[RENDERER] = renderer
    app[INVENTORY] = InventoryMetrics(agent.refs, lambda: _inventory_version(agent))
    app.on_cleanup.append(lambda _app: renderer.close())
    app.router.add_get("/metrics", metrics, allow_head=False)
