"""``dstats --once``: one snapshot of every host, printed as a table or JSON, then exit.

It waits for two sampled documents from each host that answers, so that CPU % and the
NET and BLOCK I/O rates are real, not gaps of a first sample (or until ONCE_TIMEOUT).
The table has the view's columns and cell text (tui/columns.py; HOST only with more than
one agent), in the view's order (tui/tablemodel.py); every cell from
a container (name, image, state) is escaped by ``textfmt.table``; gaps are "-". JSON is
a list of row objects with the exact strings and null for gaps. Hosts that did not
answer are named on stderr; when none answers, nothing is printed on stdout and the
exit status is 1.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, TextIO

from watchdog_agent.commands.textfmt import MISSING, table
from watchdog_agent.termsafe import escape
from watchdog_agent.tui.columns import COLUMNS, memory_text, pair, percent, state_text
from watchdog_agent.tui.fleet import AgentFleet
from watchdog_agent.tui.options import ViewOptions
from watchdog_agent.tui.rowfilter import from_terms
from watchdog_agent.tui.tablemodel import TableModel
from watchdog_agent.tui.view import FleetView, HostView, LinkState, Row

ONCE_TIMEOUT = 20.0  # seconds to wait for every host's second document
DOCUMENTS = 2  # sampled documents per host before printing
FAILED = frozenset({LinkState.RETRYING, LinkState.AUTH_REFUSED, LinkState.BAD_ANSWER})

HEADERS = tuple(c.title for c in COLUMNS)  # the app's columns, HOST aside


def cells(row: Row, now: float) -> list[str]:
    """The row's cells as the app shows them (tui/columns.py's text; the CPU % without
    its bar); untrusted text stays raw here: ``textfmt.table`` escapes every cell."""
    return [
        row.name or MISSING,
        row.id[:12],
        row.image or MISSING,
        state_text(row, now) or MISSING,
        percent(row.cpu_percent),
        memory_text(row),
        percent(row.memory_percent),
        pair(row.net_rx_rate, row.net_tx_rate),
        pair(row.blk_read_rate, row.blk_write_rate),
        MISSING if row.pids is None else str(row.pids),
        percent(row.psi_cpu_some_avg10),
        percent(row.throttled_percent),
        MISSING if row.restart_count is None else str(row.restart_count),
    ]


def render_table(view: FleetView, rows: Sequence[Row], now: float) -> str:
    names = {h.key: h.name for h in view.hosts}
    if len(view.hosts) > 1:
        return table(("HOST", *HEADERS), ([names[r.host], *cells(r, now)] for r in rows))
    return table(HEADERS, (cells(r, now) for r in rows))


def row_json(row: Row, host: HostView) -> dict[str, Any]:
    doc = asdict(row)
    doc["labels"] = dict(row.labels)
    doc["host"] = host.name
    doc["agent"] = host.key
    return {"host": doc.pop("host"), "agent": doc.pop("agent"), **doc}


def render_json(view: FleetView, rows: Sequence[Row]) -> str:
    hosts = {h.key: h for h in view.hosts}
    return json.dumps([row_json(r, hosts[r.host]) for r in rows], indent=2)


def answered(host: HostView) -> bool:
    return host.link in (LinkState.CONNECTED, LinkState.LOCAL)


async def run_once(
    fleet: AgentFleet,
    options: ViewOptions,
    fmt: str = "table",
    out: TextIO | None = None,
    err: TextIO | None = None,
    timeout: float = ONCE_TIMEOUT,
) -> int:
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    row_filter = from_terms(options.filters)

    def ready(view: FleetView) -> bool:
        return all(
            fleet.documents(h.key) >= DOCUMENTS or (h.link in FAILED and h.sampled_at is None)
            for h in view.hosts
        )

    view = await fleet.until(ready, timeout)
    for host in view.hosts:
        if not answered(host):
            why = (host.detail or f"no snapshot within {timeout:g} s").split("; retrying")[0]
            print(f"dstats: {escape(host.name)}: {host.link}: {escape(why)}", file=err)
    good = [h for h in view.hosts if answered(h)]
    if not good:
        print("dstats: no agent answered", file=err)
        return 1
    # the rows the app would show, in its order: the same filter, sort and default
    model = TableModel(
        sort=options.sort, reverse=options.reverse, show_all=options.all, row_filter=row_filter
    )
    model.update(FleetView(tuple(good)))
    rows = model.visible
    text = render_json(view, rows) if fmt == "json" else render_table(view, rows, time.time())
    out.write(text + "\n")
    out.flush()
    return 0
