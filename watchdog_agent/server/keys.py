"""Typed application keys shared by the app factory and the route modules."""

from __future__ import annotations

from aiohttp import web

from watchdog_agent.agent.wiring import Agent

from .streams import StreamRegistry

AGENT = web.AppKey("agent", Agent)
STREAMS = web.AppKey("streams", StreamRegistry)
