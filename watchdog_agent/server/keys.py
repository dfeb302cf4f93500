"""Typed application keys shared by the app factory and the route modules."""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.exporter.scrape import EventCounts

from .streams import StreamRegistry

AGENT = web.AppKey("agent", Agent)
STREAMS = web.AppKey("streams", StreamRegistry)
# the events side's counters for /metrics, read at each scrape
EVENT_COUNTS = web.AppKey[Callable[[], EventCounts]]("event_counts")
