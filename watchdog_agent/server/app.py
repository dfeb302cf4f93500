"""The app factory: routes, the error middleware, the agent's lifecycle, stream shutdown.

``create_app`` does no I/O but read the credential files (a bad one is a startup error):
everything starts in the agent's ``cleanup_ctx`` entries when a runner sets the app up,
and stops in reverse when it cleans up. At shutdown (before the server waits for
handlers), every open stream is ended, so a SIGTERM never waits on a client that keeps a
stream open.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.config import Settings
from watchdog_agent.exporter.scrape import EventCounts

from . import (
    routes_containers,
    routes_disk,
    routes_events,
    routes_host,
    routes_logs,
    routes_meta,
    routes_metrics,
    routes_postmortem,
    routes_snapshot,
)
from .auth import Authenticator, auth_middleware, authenticator, exempt_paths
from .connections import name_the_server
from .httperrors import error_middleware
from .keys import AGENT, EVENT_COUNTS, STREAMS
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
    app[EVENT_COUNTS] = event_counts(agent)
    app.cleanup_ctx.extend(agent.contexts())
    app.on_shutdown.append(_end_streams)
    app.on_response_prepare.append(name_the_server)
    routes_meta.setup(app)
    routes_containers.setup(app)
    routes_events.setup(app)
    routes_metrics.setup(app)
    routes_logs.setup(app)
    routes_postmortem.setup(app)
    routes_host.setup(app)
    routes_disk.setup(app)
    routes_snapshot.setup(app)
    return app


def event_counts(agent: Agent) -> Callable[[], EventCounts]:
    """The events side's counters, for /metrics: the tap's (none before Docker answers,
    or without it), the bus's losses and the journal's write errors (with a journal)."""

    def read() -> EventCounts:
        tap = None if agent.events is None else agent.events.tap
        lost = agent.bus.dropped_total
        journal_errors = None
        if agent.journal is not None:
            journal_errors = 0 if agent.events is None else agent.events.journal_errors
        if tap is None:
            return EventCounts({}, lost, 0, 0, journal_errors)
        return EventCounts(tap.counts, lost, tap.gaps, tap.skipped_lines, journal_errors)

    return read


def _middlewares(settings: Settings, auth: Authenticator | None) -> list[Middleware]:
    """Outermost first: auth, query limits, then the error middleware around the
    handlers."""
    first = [] if auth is None else [auth_middleware(auth, exempt_paths(settings))]
    return [*first, limits_middleware, error_middleware]


async def _close(auth: Authenticator) -> None:
    auth.close()


async def _end_streams(app: web.Application) -> None:
    app[STREAMS].close_all()
