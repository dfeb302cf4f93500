"""The OpenAPI 3.0 document of the API, written as data (tests check it covers the router
and that answers match its schemas)."""

from __future__ import annotations

import copy
from typing import Any

from watchdog_agent import __version__

from .apischemas import (
    FLAG_VALUES,
    NDJSON,
    SCHEMAS,
    SSE,
    STR,
    Schema,
    ref,
)
from .auth import declare_security
from .limits import MAX_FILTERS
from .resolve import SAFE_IDENT


def _json(schema: Schema, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Schema]:
    why = {
        400: "Bad parameter",
        404: "No such container (also one removed while it was being read)",
        409: "Ambiguous id or name, or the container exists but is not running or keeps no logs",
        429: "Too many streams",
        500: "Internal error",
        503: "Not available (not ready, shutting down, Docker or journal unavailable)",
    }
    return {str(c): _json(ref("Error"), why[c]) for c in (*codes, 500)}


def _param(name: str, where: str, schema: Schema, description: str, **extra: Any) -> Schema:
    return {"name": name, "in": where, "schema": schema, "description": description, **extra}


FLAG: Schema = {"type": "string", "enum": FLAG_VALUES}
ID = _param(
    "id",
    "path",
    {"type": "string", "pattern": f"^{SAFE_IDENT.pattern}$"},
    "full id, unique id prefix, or name",
    required=True,
)
FILTERS = {"type": "array", "items": STR, "maxItems": MAX_FILTERS}


_INDEX: Schema = {
    "description": "OK",
    "content": {
        "application/json": {"schema": ref("Index")},
        "text/html": {"schema": {"type": "string"}},
    },
}


def _get(summary: str, responses: dict[str, Schema], *parameters: Schema) -> Schema:
    op: Schema = {"summary": summary, "responses": responses}
    if parameters:
        op["parameters"] = list(parameters)
    return {"get": op}


_STREAMED = {
    "description": "OK",
    "content": {
        "application/json": {
            "schema": {"oneOf": [ref("Stats"), {"type": "array", "items": ref("Stats")}]}
        },
        NDJSON: {"schema": ref("Stats")},
        SSE: {"schema": STR},
    },
}
_SNAPSHOTS = {
    "description": "OK",
    "content": {
        "application/json": {"schema": ref("Snapshot")},
        NDJSON: {"schema": ref("Snapshot")},
        SSE: {"schema": STR},
    },
}
_EVENTS = {
    "description": "History, then the live tail unless `until` is past. History is the "
    "journal's, completed from Docker's own buffer (its last 256 events) where the window "
    "begins before the journal; what neither holds comes as a `gap` item in its place. While "
    "no events come from Docker (no engine yet, or reconnecting) a live stream starts at "
    "once with a `gap` item whose reason is `docker-unavailable` (`no-docker` with "
    "--no-docker), then carries the live tail as soon as the engine answers: the response "
    "is never a silent wait, and clients need not retry.",
    "content": {NDJSON: {"schema": ref("StreamItem")}, SSE: {"schema": STR}},
}

PATHS: dict[str, Schema] = {
    "/": _get(
        "Index of routes; a browser (Accept ranks text/html first) gets a page that "
        "reloads itself every few seconds",
        {"200": _INDEX},
    ),
    "/healthz": _get(
        "Liveness: no background task failed", {"200": _json(ref("Health")), **_errors(503)}
    ),
    "/readyz": _get(
        "Readiness: the first snapshot is in", {"200": _json(ref("Ready")), **_errors(503)}
    ),
    "/api/v1/info": _get(
        "Agent version, cgroup mode, uptime; the Docker daemon's configuration (docker info)"
        " and its data root's filesystem",
        {"200": _json(ref("Info"))},
    ),
    "/api/v1/openapi.json": _get("This document", {"200": _json({"type": "object"})}),
    "/metrics": _get(
        "Prometheus metrics: cAdvisor's container_* names and the agent's watchdog_*; "
        "OpenMetrics when the Accept header asks for it",
        {
            "200": {
                "description": "OK",
                "content": {
                    "text/plain": {"schema": {"type": "string"}},
                    "application/openmetrics-text": {"schema": {"type": "string"}},
                },
            }
        },
    ),
    "/api/v1/containers": _get(
        "Containers with their latest stats (running ones unless all=1)",
        {"200": _json({"type": "array", "items": ref("Container")}), **_errors(400)},
        _param("all", "query", FLAG, "include containers that are not running"),
        _param(
            "filter",
            "query",
            FILTERS,
            "docker ps filter KEY=VALUE (id, name, label, "
            "status, ancestor, image, exited); repeatable",
            explode=True,
        ),
    ),
    "/api/v1/stats": _get(
        "Every container's latest stats, the host, the daemon and the agent's own cost in "
        "one document (what dstats shows); stream=1: one per sampling pass (NDJSON, or SSE "
        "events named snapshot), the latest first",
        {"200": _SNAPSHOTS, **_errors(400, 429, 503)},
        _param("all", "query", FLAG, "include containers that are not running"),
        _param("filter", "query", FILTERS, "as /api/v1/containers' filter", explode=True),
        _param("stream", "query", FLAG, "push a document for each sampling pass"),
    ),
    "/api/v1/containers/{id}": _get(
        "One container with its latest stats",
        {"200": _json(ref("Container")), **_errors(400, 404, 409)},
        ID,
    ),
    "/api/v1/containers/{id}/stats": _get(
        "Latest stats from the agent's snapshot (never Docker's stats endpoint); "
        "history=N: the last N samples; stream=1: each new sample (NDJSON, or SSE)",
        {"200": _STREAMED, **_errors(400, 404, 409, 429, 503)},
        ID,
        _param(
            "history",
            "query",
            {"type": "integer", "minimum": 1},
            "last N samples from the compact history (net_interfaces, PSI totals null)",
        ),
        _param("stream", "query", FLAG, "push each new sample"),
    ),
    "/api/v1/containers/{id}/top": _get(
        "The container's processes, flat and as a tree (read from /proc on demand)",
        {"200": _json(ref("Top")), **_errors(400, 404, 409)},
        ID,
    ),
    "/api/v1/events": _get(
        "Docker events: journal history (since/until), then the live tail; NDJSON, SSE "
        "(Accept: text/event-stream) or WebSocket (upgrade)",
        {
            "101": {"description": "WebSocket: one stream item per text message"},
            "200": _EVENTS,
            **_errors(400, 429, 503),
        },
        _param(
            "filter",
            "query",
            FILTERS,
            "docker events filter KEY=VALUE or KEY!=VALUE; repeatable",
            explode=True,
        ),
        _param("since", "query", STR, "RFC 3339, unix seconds, or a duration before now"),
        _param("until", "query", STR, "same forms as since; in the past: history only"),
    ),
    "/api/v1/containers/{id}/logs": _get(
        "Docker's logs of the container (framing from Config.Tty): NDJSON lines, or "
        "text with format=text; a follow ends when the container stops",
        {
            "200": {
                "description": "OK",
                "content": {
                    NDJSON: {"schema": ref("LogItem")},
                    "text/plain": {"schema": STR},
                },
            },
            **_errors(400, 404, 409, 429, 503),
        },
        ID,
        _param("follow", "query", FLAG, "keep streaming until the container stops"),
        _param(
            "tail",
            "query",
            {"type": "string", "pattern": "^([0-9]+|all)$"},
            "last N lines, or all (both capped at 10000)",
        ),
        _param("since", "query", STR, "RFC 3339, unix seconds, or a duration before now"),
        _param("until", "query", STR, "same forms as since"),
        _param("timestamps", "query", FLAG, "Docker's time of each line in `time`"),
        _param("stdout", "query", FLAG, "include stdout (default 1)"),
        _param("stderr", "query", FLAG, "include stderr (default 1)"),
        _param("format", "query", {"type": "string", "enum": ["json", "text"]}, "NDJSON or text"),
    ),
    "/api/v1/containers/{id}/postmortem": _get(
        "The latest post-mortem of a container (also after it was removed: id, name or "
        "id prefix of a stored one)",
        {"200": _json(ref("PostMortem")), **_errors(400, 404, 409, 503)},
        ID,
    ),
    "/api/v1/host": _get(
        "The host's totals: hostname, kernel, OS, boot time, CPUs, CPU %, load, memory, "
        "swap (read under --proc-root, on the sampling interval)",
        {"200": _json(ref("Host")), **_errors(503)},
    ),
    "/api/v1/disk": _get(
        "Docker's disk use by area (docker system df), sampled every --disk-interval seconds",
        {"200": _json(ref("Disk")), **_errors(400, 503)},
        _param("verbose", "query", FLAG, "add the rows of `docker system df -v`"),
        _param(
            "refresh",
            "query",
            FLAG,
            "ask Docker now (at most once every few seconds; sooner answers the last sample)",
        ),
    ),
}


def document() -> Schema:
    """A fresh copy of the whole document (security declared on every operation)."""
    doc = copy.deepcopy(
        {
            "openapi": "3.0.3",
            "info": {
                "title": "watchdog-agent",
                "version": __version__,
                "description": "Per-host monitoring and events agent for Docker hosts.",
            },
            "paths": PATHS,
            "components": {"schemas": SCHEMAS},
        }
    )
    return declare_security(doc)


def summaries() -> dict[str, str]:
    return {path: item["get"]["summary"] for path, item in PATHS.items()}
