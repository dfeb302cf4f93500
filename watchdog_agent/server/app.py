"""The app factory: routes, the error middleware, the agent's lifecycle, stream shutdown.

``create_app`` does no I/O but read the credential files (a bad one is a startup error):
everything starts in the agent's ``cleanup_ctx`` entries when a runner sets the app up,
and stops in reverse when it cleans up. At shutdown (before the server waits for
handlers), every open stream is ended, so a SIGTERM never waits on a client that keeps a
stream open.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Middleware

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.config import Settings

from . import (
    routes_containers,
    routes_events,
    routes_logs,
    routes_meta,
    routes_metrics,
    routes_postmortem,
)
from .auth import Authenticator, auth_middleware, authenticator, exempt_paths
from .connections import name_the_server
from .errors import error_middleware
from .keys import AGENT, STREAMS
from .limits import limits_middleware
from .streams import StreamRegistry

MAX_REQUEST_BYTES = 64 * 1024  # the API is read-only: no request needs a body


def create_app(settings: Settings, agent: Agent | None = None) -> web.Application:
    auth = authenticator(settings)  # reads the credential files: a bad one fails here
    app = web.Application(
        middlewares=_middlewares(settings, auth), client_max_size=MAX_REQUEST_BYTES
    )
    if auth is not None:
        app.on_cleanup.append(lambda _: _close(auth))
    agent = Agent(settings) if agent is None else agent
    app[AGENT] = agent
    app[STREAMS] = StreamRegistry(settings.max_streams)
    app.cleanup_ctx.extend(agent.contexts())
    app.on_shutdown.append(_end_streams)
    app.on_response_prepare.append(name_the_server)
    routes_meta.setup(app)
    routes_containers.setup(app)
    routes_events.setup(app)
    routes_metrics.setup(app)
    routes_logs.setup(app)
    routes_postmortem.setup(app)
    return app


def _middlewares(settings: Settings, auth: Authenticator | None) -> list[Middleware]:
    """Outermost first: auth, query limits, then the error middleware around the
    handlers."""
    first = [] if auth is None else [auth_middleware(auth, exempt_paths(settings))]
    return [*first, limits_middleware, error_middleware]


async def _close(auth: Authenticator) -> None:
    auth.close()


async def _end_streams(app: web.Application) -> None:
    app[STREAMS].close_all()
