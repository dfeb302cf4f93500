"""``GET /metrics``: the latest snapshot in cAdvisor's names, plus the agent's own.

A snapshot's families are rendered at most once, in a thread, started by the first scrape
that finds the snapshot new (one replaced before any scrape asked is never rendered).
Scrapes never queue behind that rendering: while it runs they get the previous snapshot's
bytes (one sampling interval older); only a scrape that finds nothing rendered yet (the
first one of the agent's life) waits for it. Every scrape writes the cached bytes, the few
families that change between passes (build info, sampling errors, event counters) and the
inventory's state series (rendered once per inventory change). Nobody scraping costs no
rendering; fifty scrapers of one snapshot cost one.

When ``Accept-Encoding`` allows gzip (Prometheus always asks for it) the answer is gzip
(``Content-Encoding: gzip``; ``Vary: Accept-Encoding`` on every answer): a snapshot is
compressed once per format, in the rendering's thread, and a scrape compresses only the
few families written per scrape. A rendering is made in the forms (plain, gzip text, gzip
OpenMetrics) the previous one was asked in; a form it lacks is made, in a thread, when
first asked for (a gzip-only Prometheus costs one compression and no plain copy).

The event counters come from ``EVENT_COUNTS``, which the app factory provides: this route
does not know where the events side keeps them.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import TypeVar

from aiohttp import web

from watchdog_agent.agent.diskareas import areas
from watchdog_agent.agent.malloctune import release_free_memory
from watchdog_agent.agent.wiring import Agent
from watchdog_agent.exporter.cache import Kind, MetricsCache
from watchdog_agent.exporter.disk import DiskMetrics
from watchdog_agent.exporter.exposition import negotiate
from watchdog_agent.exporter.gzipped import accept_encoding_values, wants_gzip
from watchdog_agent.exporter.scrape import Scrape
from watchdog_agent.exporter.states import InventoryMetrics
from watchdog_agent.model import Snapshot

from .keys import AGENT, EVENT_COUNTS

SCRAPE = web.AppKey("metrics_scrape", Scrape)
T = TypeVar("T")


class Renderer:
    """Renders each new snapshot once, in a thread, when a scrape first asks for it.

    A scrape waits for the rendering it started only when the last one is more than
    ``max_lag`` seconds of snapshots behind (Prometheus every 15 s against sampling
    every second: every scrape waits, and gets the latest snapshot); scrapes in quick
    succession (many scrapers) do not queue behind a rendering: they get the last one,
    at most ``max_lag`` older. The cache holds the rendered bytes, not the Snapshot: a
    replaced Snapshot is released at once.
    """

    TRIES = 3  # a new rendering may come in while a form of the last one is made

    def __init__(self, cache: MetricsCache, max_lag: float) -> None:
        self.cache = cache
        self.max_lag = max_lag
        self._task: asyncio.Task[None] | None = None
        self._forms: dict[Kind, asyncio.Task[None]] = {}
        self._rendered_at: float | None = None  # taken_at of the installed rendering

    async def ensure(self, snapshot: Snapshot | None, asking: Kind) -> None:
        """A rendering of ``snapshot`` started, if it is new, in the forms the last one
        was asked in and ``asking``'s; awaited when there is none yet or the last one
        lags the snapshot by more than ``max_lag``."""
        if snapshot is None or self.cache.rendered(snapshot):
            return
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._render(snapshot, asking), name="metrics-render")
        lagging = self._rendered_at is None or snapshot.taken_at - self._rendered_at > self.max_lag
        if not self.cache.ready or lagging:
            await asyncio.shield(self._task)

    async def ensure_form(self, kind: Kind) -> None:
        """The latest rendering at hand plain (``None``) or compressed in a format: made
        in a thread when it is not (inflated, or compressed, from a form that is)."""
        for _ in range(self.TRIES):
            if self.cache.has(kind):
                return
            task = self._forms.get(kind)
            if task is None or task.done():
                task = self._forms[kind] = asyncio.create_task(
                    asyncio.to_thread(self.cache.prepare, kind), name="metrics-form"
                )
            await asyncio.shield(task)

    async def _render(self, snapshot: Snapshot, asking: Kind) -> None:
        # built in the thread, installed here: the latest rendering changes on the loop only
        build = functools.partial(self.cache.build, snapshot, asking=asking)
        self.cache.install(await asyncio.to_thread(_then_release, build))
        self._rendered_at = snapshot.taken_at

    async def close(self) -> None:
        tasks = [task for task in (self._task, *self._forms.values()) if task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)


def _then_release(work: Callable[[], T]) -> T:
    """``work()``, then the free memory it left in the heap given back: a rendering
    frees megabytes of short-lived pieces (agent/malloctune.py)."""
    try:
        return work()
    finally:
        release_free_memory()


RENDERER = web.AppKey("metrics_renderer", Renderer)


async def metrics(request: web.Request) -> web.StreamResponse:
    renderer, scrape = request.app[RENDERER], request.app[SCRAPE]
    content_type, fmt = negotiate(request.headers.get("Accept"))
    gzip = wants_gzip(accept_encoding_values(request.headers.getall("Accept-Encoding", [])))
    await renderer.ensure(request.app[AGENT].store.latest, fmt if gzip else None)
    headers = {"Content-Type": content_type, "Vary": "Accept-Encoding"}
    if gzip:
        headers["Content-Encoding"] = "gzip"
    await renderer.ensure_form(fmt if gzip else None)
    scrape.count("gzip" if gzip else "identity")
    parts: list[bytes] | list[bytes | memoryview] = (
        scrape.gzip_parts(fmt) if gzip else scrape.parts(fmt)
    )
    # written chunk by chunk from the cached rendering: a scrape copies none of it
    resp = web.StreamResponse(headers=headers)
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
    # a scrape may get the rendering of a snapshot up to two passes older than the latest
    renderer = Renderer(cache, max_lag=2 * agent.settings.interval)
    app[SCRAPE] = Scrape(
        cache,
        sampling_errors=agent.sampling_errors,
        events=app[EVENT_COUNTS],
        states=InventoryMetrics(agent.refs, lambda: _inventory_version(agent)),
        host=lambda: agent.host,
        cost=lambda: agent.cost,
        daemon=agent.daemon_state,
        disk=DiskMetrics(
            lambda: None if agent.disk is None else agent.disk.latest,
            areas,
            known=agent.refs,
            version=lambda: _inventory_version(agent),
        ),
        count_scrapes=True,
        tasks=lambda: len(asyncio.all_tasks()),  # a scrape runs on the loop
    )
    app[RENDERER] = renderer
    app.on_cleanup.append(lambda _app: renderer.close())
    app.router.add_get("/metrics", metrics, allow_head=False)
