"""The agent itself: index, liveness, readiness, info and the OpenAPI document."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from watchdog_agent import __version__
from watchdog_agent.agent.diskareas import areas
from watchdog_agent.wire.diskjson import disk_json

from . import documents, page
from .httperrors import ApiError
from .keys import AGENT
from .openapi import document, summaries
from .overview import agent_pairs, container_table, daemon_pairs, disk_table, host_pairs
from .page import Section, prefers_html
from .routes_containers import current_stats
from .routes_host import host_doc

FAILED = frozenset({"failed", "ended"})


def _routes(request: web.Request) -> list[dict[str, str | None]]:
    known = summaries()
    paths = sorted({r.resource.canonical for r in request.app.router.routes() if r.resource})
    return [{"path": p, "summary": known.get(p)} for p in paths]


async def index(request: web.Request) -> web.Response:
    """The routes as JSON; a browser (Accept ranks text/html first) gets the page."""
    if prefers_html(request.headers.get("Accept")):
        return _page(request)
    return web.json_response(
        {"name": "watchdog-agent", "version": __version__, "routes": _routes(request)}
    )


def _subtitle(host: dict[str, Any] | None) -> str:
    name = None if host is None else host.get("hostname")
    return f"version {__version__}" + ("" if name is None else f" on {name}")


def _page(request: web.Request) -> web.Response:
    agent = request.app[AGENT]
    info = _info(request)
    containers = documents.containers_json(
        [r for r in agent.refs().values() if r.state == "running"], current_stats(agent)
    )
    host = host_doc(agent)
    usage = None if agent.disk is None else agent.disk.latest
    disk = None if usage is None else disk_json(usage, areas(usage), verbose=False)
    sections: list[Section] = [
        host_pairs(host),
        daemon_pairs(info.get("daemon")),
        disk_table(disk, docker=agent.disk is not None),
        container_table(containers),
        agent_pairs(info),
    ]
    links = [(r["path"] or "", r["summary"] or "") for r in _routes(request)]
    body = page.render("watchdog-agent", _subtitle(host), sections, links)
    return web.Response(
        text=body,
        content_type="text/html",
        charset="utf-8",
        headers={
            "Content-Security-Policy": page.CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
            "Vary": "Accept",
        },
    )


async def healthz(request: web.Request) -> web.Response:
    """Alive while no background task has failed or ended."""
    tasks = request.app[AGENT].task_states()
    if any(state in FAILED for state in tasks.values()):
        raise ApiError(503, "unhealthy", {"tasks": tasks})
    return web.json_response({"status": "ok", "tasks": tasks})


async def readyz(request: web.Request) -> web.Response:
    """Ready once the first snapshot is in the store."""
    if not request.app[AGENT].ready:
        raise ApiError(503, "not ready", "no snapshot yet")
    return web.json_response({"status": "ready"})


async def info(request: web.Request) -> web.Response:
    return web.json_response(_info(request))


def _info(request: web.Request) -> dict[str, Any]:
    agent = request.app[AGENT]
    latest = agent.store.latest
    return documents.info_json(
        version=__version__,
        cgroup_mode=None if agent.mode is None else agent.mode.value,
        docker=agent.docker_version,
        started_at=agent.started_at,
        uptime=agent.uptime,
        interval=agent.settings.interval,
        journal=agent.journal is not None,
        last_sample_at=None if latest is None else latest.taken_at,
        containers_sampled=0 if latest is None else len(latest.containers),
        daemon=agent.daemon_state(),
    )


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(document())


def setup(app: web.Application) -> None:
    add = app.router.add_get
    add("/", index, allow_head=False)
    add("/healthz", healthz, allow_head=False)
    add("/readyz", readyz, allow_head=False)
    add("/api/v1/info", info, allow_head=False)
    add("/api/v1/openapi.json", openapi, allow_head=False)
