"""/api/v1/containers/{id}/postmortem: the latest post-mortem of a container.

``{id}`` names a container the agent knows now (id, unique prefix, name: as everywhere);
one it does not know (removed) is looked up among the stored post-mortems by id, by
name (the latest container of that name) or by unique id prefix. 404 when there is none.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from watchdog_agent.errors import NotFound

from .httperrors import ApiError
from .keys import AGENT
from .resolve import MAX_LISTED, check_ident, resolve


async def postmortem(request: web.Request) -> web.Response:
    agent = request.app[AGENT]
    ident = check_ident(request.match_info["id"])
    store = agent.postmortems.store if agent.postmortems is not None else None
    if store is None:
        raise ApiError(503, "not ready", "post-mortems are not open yet")
    try:
        ids = [resolve(ident, agent.refs()).id]
    except NotFound:
        ids = await asyncio.to_thread(store.lookup, ident)
    if len(ids) > 1:
        detail = {"id": ident, "matches": ids[:MAX_LISTED], "count": len(ids)}
        raise ApiError(409, "ambiguous container", detail)
    doc = await asyncio.to_thread(store.latest, ids[0]) if ids else None
    if doc is None:
        raise ApiError(404, "no post-mortem", {"id": ident})
    return web.json_response(doc)


def setup(app: web.Application) -> None:
    app.router.add_get("/api/v1/containers/{id}/postmortem", postmortem, allow_head=False)
