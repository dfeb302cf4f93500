"""``GET /api/v1/host``: the host's totals from the latest host sample (no I/O here)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from watchdog_agent.agent.wiring import Agent

from . import documents
from .httperrors import ApiError
from .keys import AGENT


def host_doc(agent: Agent) -> dict[str, Any] | None:
    """The host document of the latest host sample, with the data root's filesystem as
    the daemon sampler last measured it (None: no host sample yet)."""
    sample = agent.host
    if sample is None:
        return None
    daemon = agent.daemon_state()
    data_root = None if daemon is None else daemon.data_root_fs
    return documents.host_json(sample, agent.settings.proc_root, data_root)


async def host(request: web.Request) -> web.Response:
    doc = host_doc(request.app[AGENT])
    if doc is None:
        raise ApiError(503, "not ready", "no host sample yet")
    return web.json_response(doc)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/host", host, allow_head=False)
