"""The OpenAPI 3.0 document of the API, written as data (tests check it covers the router
and that answers match its schemas)."""

from __future__ import annotations

import copy
from typing import Any

from watchdog_agent import __version__

from .auth import declare_security
from .limits import MAX_FILTERS
from .resolve import SAFE_IDENT

Schema = dict[str, Any]
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
FLAG_VALUES = ["", "0", "1", "false", "true", "no", "yes", "off", "on"]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: Schema) -> Schema:
    if "$ref" in schema:
        return {"allOf": [schema], "nullable": True}
    return {**schema, "nullable": True}


def _obj(props: dict[str, Schema], required: bool = True, **extra: Any) -> Schema:
    out: Schema = {"type": "object", "properties": props, **extra}
    if required:
        out["required"] = sorted(props)
    return out


STR, INT, NUM, BOOL = ({"type": t} for t in ("string", "integer", "number", "boolean"))
TIME: Schema = {"type": "string", "format": "date-time"}
N_STR, N_INT, N_NUM, N_BOOL, N_TIME = map(_nullable, (STR, INT, NUM, BOOL, TIME))
STR_MAP: Schema = {"type": "object", "additionalProperties": STR}

PSI_LINE = _obj(
    {"avg10": NUM, "avg60": NUM, "avg300": NUM, "total": N_INT},
    description="Percent averages; total: stall microseconds (null in history samples).",
)
PRESSURE = _obj({"some": _nullable(_ref("PsiLine")), "full": _nullable(_ref("PsiLine"))})
NET = _obj(
    {
        k: INT
        for k in (
            "rx_bytes",
            "rx_packets",
            "rx_errors",
            "rx_dropped",
            "tx_bytes",
            "tx_packets",
            "tx_errors",
            "tx_dropped",
        )
    }
)
STATS = _obj(
    {
        "id": STR,
        "name": N_STR,
        "image": N_STR,
        "cpu_percent": N_NUM,
        "cpu_usage_seconds_total": N_NUM,
        "cpu_throttled_seconds_total": N_NUM,
        "cpu_throttled_percent": N_NUM,
        "memory_usage_bytes": N_INT,
        "memory_working_set_bytes": N_INT,
        "memory_limit_bytes": N_INT,
        "memory_percent": N_NUM,
        "pids": N_INT,
        "pids_limit": N_INT,
        "net_rx_bytes": N_INT,
        "net_tx_bytes": N_INT,
        "net_interfaces": {
            "type": "object",
            "additionalProperties": _ref("NetInterface"),
            "nullable": True,
        },
        "blk_read_bytes": N_INT,
        "blk_write_bytes": N_INT,
        "psi": _obj({k: _nullable(_ref("Pressure")) for k in ("cpu", "memory", "io")}),
        "sampled_at": N_TIME,
    },
    description=(
        "Numbers from the latest sample; null: not known (absent is not 0). History "
        "samples (?history=N, post-mortems) keep every field but net_interfaces and "
        "the PSI totals, which are null there."
    ),
)
CONTAINER = _obj(
    {
        "id": STR,
        "name": N_STR,
        "image": N_STR,
        "image_id": N_STR,
        "state": N_STR,
        "labels": STR_MAP,
        "pid": N_INT,
        "created": N_TIME,
        "started_at": N_TIME,
        "tty": N_BOOL,
        "restart_count": N_INT,
        "exit_code": N_INT,
        "oom_killed": N_BOOL,
        "limits": _obj({"memory_bytes": N_INT, "cpus": N_NUM, "pids": N_INT}),
        "stats": _nullable(_ref("Stats")),
    }
)
PROCESS_FIELDS: dict[str, Schema] = {
    "pid": INT,
    "ns_pid": N_INT,
    "ppid": INT,
    "ns_ppid": N_INT,
    "user": STR,
    "uid": N_INT,
    "state": STR,
    "threads": INT,
    "cpu_seconds": NUM,
    "cpu_percent": N_NUM,
    "rss_bytes": N_INT,
    "started_at": N_TIME,
    "cmd": STR,
}
PROCESS = _obj(PROCESS_FIELDS)
PROCESS_NODE = _obj({**PROCESS_FIELDS, "children": {"type": "array", "items": _ref("ProcessNode")}})
TOP = _obj(
    {
        "id": STR,
        "name": N_STR,
        "processes": {"type": "array", "items": _ref("Process")},
        "tree": {"type": "array", "items": _ref("ProcessNode")},
        "unreadable": {
            **INT,
            "minimum": 0,
            "description": "Processes that exist but could not be read: permission denied, "
            "as under a hidepid procfs, or another read error. They are in neither list; 0 "
            "when every process was read.",
        },
    }
)
EVENT = _obj(
    {
        "status": STR,
        "id": STR,
        "from": STR,
        "Type": STR,
        "Action": STR,
        "Actor": _obj({"ID": STR, "Attributes": STR_MAP}),
        "scope": STR,
        "time": INT,
        "timeNano": INT,
    },
    required=False,
    description="Docker's own event shape (docker events --format '{{json .}}').",
)
EVENT["required"] = ["Type", "Action", "Actor", "scope", "time", "timeNano"]
GAP_REASONS = (
    "Why events of [start, end] may be missing: `daemon-restart`, `disconnected` (the tap "
    "lost the daemon and its buffer no longer reached back), `agent-down` (the agent was not "
    "running), `startup`, `docker-unavailable` (no engine answers: none yet, or it went "
    "away), `no-docker` (the agent runs with --no-docker), `no-journal` (the agent keeps no "
    "journal and Docker could not complete the window), `before-journal` (the window begins "
    "before the journal and Docker's full buffer no longer reaches back)."
)
GAP = _obj(
    {
        "start_nano": INT,
        "end_nano": INT,
        "start": TIME,
        "end": TIME,
        "reason": {**STR, "description": GAP_REASONS},
    },
    description="A stretch of time in which the agent cannot prove it saw every event.",
)
STREAM_ITEM: Schema = {
    "oneOf": [_ref("Event"), _obj({"gap": _ref("Gap")}), _obj({"lost": INT})],
    "description": "One NDJSON line (SSE: the data of an `event`, `gap` or `lost` event).",
}
INFO = _obj(
    {
        "version": STR,
        "cgroup_mode": N_STR,
        "docker": _nullable(
            _obj({"version": N_STR, "api_version": N_STR, "id": N_STR, "root_dir": N_STR})
        ),
        "started_at": TIME,
        "uptime_seconds": NUM,
        "interval_seconds": NUM,
        "journal": BOOL,
        "last_sample_at": N_TIME,
        "containers_sampled": INT,
    }
)
ERROR = _obj({"error": STR, "detail": {"nullable": True, "description": "message or object"}})
INDEX = _obj(
    {
        "name": STR,
        "version": STR,
        "routes": {"type": "array", "items": _obj({"path": STR, "summary": N_STR})},
    }
)
HEALTH = _obj({"status": STR, "tasks": STR_MAP})

LOG_LINE = _obj(
    {
        "stream": {"type": "string", "enum": ["stdout", "stderr"]},
        "time": {**N_TIME, "description": "Docker's RFC 3339 time (timestamps=1), else null"},
        "line": STR,
    }
)
LOG_ITEM: Schema = {
    "oneOf": [_ref("LogLine"), _ref("Error")],
    "description": "One NDJSON line: a log line, or the Engine's own error (frame type 3)",
}
POSTMORTEM = _obj(
    {
        "id": STR,
        "name": N_STR,
        "image": N_STR,
        "action": {"type": "string", "enum": ["die", "oom"]},
        "died_at": TIME,
        "died_at_nano": INT,
        "exit_code": N_INT,
        "oom_killed": N_BOOL,
        "signal": N_INT,
        "started_at": N_TIME,
        "samples": {"type": "array", "items": _ref("Stats")},
        "processes": {"type": "array", "items": _ref("Process")},
        "processes_at": N_TIME,
        "logs": {
            "type": "array",
            "items": _obj(
                {
                    "stream": {"type": "string", "enum": ["stdout", "stderr", "system"]},
                    "time": N_TIME,
                    "line": STR,
                }
            ),
        },
        "events": {"type": "array", "items": _ref("Event")},
        "captured_at": TIME,
        "errors": {"type": "array", "items": STR},
    },
    description="A container's death: exit code, OOMKilled, signal, the last minute of "
    "samples, the last process list, the last log lines and its recent events.",
)

SCHEMAS: dict[str, Schema] = {
    "Error": ERROR,
    "Index": INDEX,
    "Health": HEALTH,
    "Ready": _obj({"status": STR}),
    "Info": INFO,
    "PsiLine": PSI_LINE,
    "Pressure": PRESSURE,
    "NetInterface": NET,
    "Stats": STATS,
    "Container": CONTAINER,
    "Process": PROCESS,
    "ProcessNode": PROCESS_NODE,
    "Top": TOP,
    "Event": EVENT,
    "Gap": GAP,
    "StreamItem": STREAM_ITEM,
    "LogLine": LOG_LINE,
    "LogItem": LOG_ITEM,
    "PostMortem": POSTMORTEM,
}


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
    return {str(c): _json(_ref("Error"), why[c]) for c in (*codes, 500)}


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


def _get(summary: str, responses: dict[str, Schema], *parameters: Schema) -> Schema:
    op: Schema = {"summary": summary, "responses": responses}
    if parameters:
        op["parameters"] = list(parameters)
    return {"get": op}


_STREAMED = {
    "description": "OK",
    "content": {
        "application/json": {
            "schema": {"oneOf": [_ref("Stats"), {"type": "array", "items": _ref("Stats")}]}
        },
        NDJSON: {"schema": _ref("Stats")},
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
    "content": {NDJSON: {"schema": _ref("StreamItem")}, SSE: {"schema": STR}},
}

PATHS: dict[str, Schema] = {
    "/": _get("Index of routes", {"200": _json(_ref("Index"))}),
    "/healthz": _get(
        "Liveness: no background task failed", {"200": _json(_ref("Health")), **_errors(503)}
    ),
    "/readyz": _get(
        "Readiness: the first snapshot is in", {"200": _json(_ref("Ready")), **_errors(503)}
    ),
    "/api/v1/info": _get(
        "Agent version, cgroup mode, Docker version, uptime", {"200": _json(_ref("Info"))}
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
        {"200": _json({"type": "array", "items": _ref("Container")}), **_errors(400)},
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
    "/api/v1/containers/{id}": _get(
        "One container with its latest stats",
        {"200": _json(_ref("Container")), **_errors(400, 404, 409)},
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
        {"200": _json(_ref("Top")), **_errors(400, 404, 409)},
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
                    NDJSON: {"schema": _ref("LogItem")},
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
        {"200": _json(_ref("PostMortem")), **_errors(400, 404, 409, 503)},
        ID,
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
