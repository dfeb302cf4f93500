"""One ``GET /api/v1/stats`` document into rows (pure: no I/O, no clock).

The agent sends counters (bytes since the container started); the table shows rates. A
rate is the difference of one container's counters between two consecutive documents
over the difference of its own ``sampled_at``. Anything that makes that difference
meaningless gives a gap (None), never 0, a negative or a spike: no previous sample, a
counter absent on either side, a counter that went backwards (a reset), a container
that started again in between (its counters restarted), or a time that did not advance.

Documents come from the network: fields may be missing or of the wrong type (an older or
newer agent); each such field is a gap. A document that is not a snapshot at all (not
an object, or no ``containers`` list) raises :class:`BadDocument`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from watchdog_agent.errors import ParseError
from watchdog_agent.tui.view import Row
from watchdog_agent.wire.fromjson import as_float, as_int, as_obj, as_str, parse_time

# states in which a container has no exit code to show (it has not exited)
LIVE = frozenset({"running", "paused", "restarting"})


class BadDocument(ParseError):
    """What the agent sent is not a snapshot document."""

    def __init__(self, detail: str) -> None:
        super().__init__("the stats document", detail)


class Counters(NamedTuple):
    """What a rate needs of the previous document, per container."""

    at: float | None  # the container's sampled_at
    started_at: float | None
    net_rx: int | None
    net_tx: int | None
    blk_read: int | None
    blk_write: int | None


@dataclass(frozen=True, slots=True)
class Reading:
    """One document, read: the rows, what the next document's rates need, the rest."""

    rows: dict[str, Row]
    counters: dict[str, Counters]
    sampled_at: float | None
    interval: float | None
    hostname: str | None
    host: Mapping[str, Any] | None
    daemon: Mapping[str, Any] | None
    agent: Mapping[str, Any] | None


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def rate(
    now: int | None, before: int | None, at: float | None, before_at: float | None
) -> float | None:
    """Per second between two counter readings; None where that is not meaningful."""
    if now is None or before is None or at is None or before_at is None:
        return None
    elapsed = at - before_at
    if elapsed <= 0 or now < before:
        return None
    return (now - before) / elapsed


def psi_some_avg10(stats: Mapping[str, Any], resource: str) -> float | None:
    some = as_obj(as_obj(as_obj(stats.get("psi")).get(resource)).get("some"))
    return as_float(some.get("avg10"))


def read_container(
    host: str, doc: Mapping[str, Any], previous: Counters | None
) -> tuple[Row, Counters]:
    """One container object of the document (``id`` checked by the caller)."""
    cid = str(doc["id"])
    stats = as_obj(doc.get("stats"))
    limits = as_obj(doc.get("limits"))
    state = as_str(doc.get("state"))
    started_at = parse_time(doc.get("started_at"))
    counters = Counters(
        at=parse_time(stats.get("sampled_at")),
        started_at=started_at,
        net_rx=as_int(stats.get("net_rx_bytes")),
        net_tx=as_int(stats.get("net_tx_bytes")),
        blk_read=as_int(stats.get("blk_read_bytes")),
        blk_write=as_int(stats.get("blk_write_bytes")),
    )
    before = previous
    if before is not None and before.started_at != started_at:
        before = None  # started again in between: its counters began at 0 again

    def per_second(now: int | None, then: int | None) -> float | None:
        return None if before is None else rate(now, then, counters.at, before.at)

    was = before or Counters(None, None, None, None, None, None)

    labels = as_obj(doc.get("labels"))
    memory_limit = as_int(stats.get("memory_limit_bytes"))
    row = Row(
        host=host,
        id=cid,
        name=as_str(doc.get("name")) or as_str(stats.get("name")),
        image=as_str(doc.get("image")) or as_str(stats.get("image")),
        state=state,
        started_at=started_at,
        finished_exit_code=None if state in LIVE else as_int(doc.get("exit_code")),
        oom_killed=_bool(doc.get("oom_killed")),
        restart_count=as_int(doc.get("restart_count")),
        cpu_percent=as_float(stats.get("cpu_percent")),
        cpu_limit=as_float(limits.get("cpus")),
        memory_usage_bytes=as_int(stats.get("memory_usage_bytes")),
        memory_limit_bytes=memory_limit
        if memory_limit is not None
        else as_int(limits.get("memory_bytes")),
        memory_percent=as_float(stats.get("memory_percent")),
        net_rx_rate=per_second(counters.net_rx, was.net_rx),
        net_tx_rate=per_second(counters.net_tx, was.net_tx),
        blk_read_rate=per_second(counters.blk_read, was.blk_read),
        blk_write_rate=per_second(counters.blk_write, was.blk_write),
        pids=as_int(stats.get("pids")),
        pids_limit=as_int(stats.get("pids_limit"))
        if "pids_limit" in stats
        else as_int(limits.get("pids")),
        psi_cpu_some_avg10=psi_some_avg10(stats, "cpu"),
        throttled_percent=as_float(stats.get("cpu_throttled_percent")),
        labels={str(k): str(v) for k, v in labels.items()},
    )
    return row, counters


def read_document(host: str, doc: Any, previous: Mapping[str, Counters]) -> Reading:
    """A whole snapshot document; ``previous``: the last Reading's ``counters`` (empty
    for the first document of a connection)."""
    if not isinstance(doc, dict):
        raise BadDocument(f"expected an object, got {type(doc).__name__}")
    containers = doc.get("containers")
    if not isinstance(containers, list):
        raise BadDocument("no 'containers' list")
    rows: dict[str, Row] = {}
    counters: dict[str, Counters] = {}
    for item in containers:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not item["id"]:
            raise BadDocument("a container without an id")
        cid = item["id"]
        rows[cid], counters[cid] = read_container(host, item, previous.get(cid))
    host_doc = doc.get("host")
    host_doc = host_doc if isinstance(host_doc, dict) else None
    daemon = doc.get("daemon")
    agent = doc.get("agent")
    return Reading(
        rows=rows,
        counters=counters,
        sampled_at=parse_time(doc.get("sampled_at")),
        interval=as_float(doc.get("interval_seconds")),
        hostname=as_str(as_obj(host_doc).get("hostname")) or None,
        host=host_doc,
        daemon=daemon if isinstance(daemon, dict) else None,
        agent=agent if isinstance(agent, dict) else None,
    )
