"""``GET /metrics``: the latest snapshot in cAdvisor's names, plus the agent's own.

The snapshot's families are rendered once per sampling pass, in the sampling thread
(an ``after_sample`` hook), so a scrape only joins cached bytes and adds the few
counters that change between passes (events, losses, gaps, errors).
"""

from __future__ import annotations

from collections.abc import Iterator

from aiohttp import web
from prometheus_client.metrics_core import Metric

from watchdog_agent.agent import Agent
from watchdog_agent.exporter.collector import MetricsCache, SnapshotCollector

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


async def metrics(request: web.Request) -> web.Response:
    content_type, body = request.app[COLLECTOR].scrape(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type})


def setup(app: web.Application) -> None:
    agent = app[AGENT]
    cache = MetricsCache(refs=agent.refs)
    collector = SnapshotCollector(
        lambda: agent.store.latest,
        cache=cache,
        errors_total=agent.sampling_errors,
        providers=[lambda: event_families(agent)],
    )
    agent.after_sample.append(cache.render)  # render in the sampling thread
    app[COLLECTOR] = collector
    app.router.add_get("/metrics", metrics, allow_head=False)
