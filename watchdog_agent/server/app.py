"""The app factory: routes, the error middleware, the agent's lifecycle, stream shutdown.

``create_app`` does no I/O: everything starts in the agent's ``cleanup_ctx`` entries when
a runner sets the app up, and stops in reverse when it cleans up. At shutdown (before
the server waits for handlers), every open stream is ended, so a SIGTERM never waits on
a client that keeps a stream open.
"""

from __future__ import annotations

from aiohttp import web

from watchdog_agent.agent import Agent
from watchdog_agent.config import Settings

from . import routes_containers, routes_events, routes_meta, routes_metrics
from .errors import error_middleware
from .keys import AGENT, STREAMS
from .streams import StreamRegistry

MAX_REQUEST_BYTES = 64 * 1024  # the API is read-only: no request needs a body


def create_app(settings: Settings, agent: Agent | None = None) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_REQUEST_BYTES)
    agent = Agent(settings) if agent is None else agent
    app[AGENT] = agent
    app[STREAMS] = StreamRegistry(settings.max_streams)
    app.cleanup_ctx.extend(agent.contexts())
    app.on_shutdown.append(_end_streams)
    routes_meta.setup(app)
    routes_containers.setup(app)
    routes_events.setup(app)
    routes_metrics.setup(app)
    return app


async def _end_streams(app: web.Application) -> None:
    app[STREAMS].close_all()
