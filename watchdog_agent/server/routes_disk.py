"""``GET /api/v1/disk``: Docker's disk use by area, as ``docker system df`` computes it.

The answer is the disk sampler's cached sample (agent/disksampler.py, every
``--disk-interval`` seconds); ``?refresh=1`` asks Docker again, at most once every few
seconds (sooner gets the last sample; concurrent refreshes share one request);
``?verbose=1`` adds the rows of ``docker system df -v``. Before the first sample the
request waits for it.
"""

from __future__ import annotations

from aiohttp import web

from watchdog_agent.agent.diskareas import areas
from watchdog_agent.wire.diskjson import disk_json

from . import params
from .httperrors import ApiError
from .keys import AGENT


async def disk(request: web.Request) -> web.Response:
    verbose = params.flag(request.query, "verbose")
    refresh = params.flag(request.query, "refresh")
    sampler = request.app[AGENT].disk
    if sampler is None:
        raise ApiError(503, "docker unavailable", "the agent runs without Docker (--no-docker)")
    usage = await (sampler.refresh() if refresh else sampler.current())
    return web.json_response(disk_json(usage, areas(usage), verbose))


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/disk", disk, allow_head=False)
