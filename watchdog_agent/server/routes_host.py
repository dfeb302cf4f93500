"""``GET /api/v1/host``: the host's totals from the latest host sample (no I/O here)."""

from __future__ import annotations

from aiohttp import web

from . import documents
from .httperrors import ApiError
from .keys import AGENT


async def host(request: web.Request) -> web.Response:
    agent = request.app[AGENT]
    sample = agent.host
    if sample is None:
        raise ApiError(503, "not ready", "no host sample yet")
    daemon = agent.daemon_state()
    data_root = None if daemon is None else daemon.data_root_fs
    return web.json_response(documents.host_json(sample, agent.settings.proc_root, data_root))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/host", host, allow_head=False)
