"""What one snapshot costs dstats' data side: ``json.loads`` of a ``GET /api/v1/stats``
line and ``rows.read_document`` (rows and rates), for N containers, on dstats' data
thread (tui/fleet.py). The document is a real agent's: one container object of the
running agent at ``--agent`` (a full one: stats, PSI, interfaces), copied N times with
distinct ids and counters, so the size per container is the agent's own. Without
``--agent``, it starts one over a generated pure-v2 tree of a few containers (as
bench/dstats_agent.py does) and takes its container.

    python -m bench.dstats_rows [--quick] [--agent http://127.0.0.1:PORT]
                                [--containers 200 1000] [--rounds 20]

Prints a Markdown table (key ``dstats-rows``), one row per N: the document's size and
the median and worst time of each step over ``--rounds`` documents (each read against
the previous one, so rates are computed). ``--quick``: 200 containers, 3 rounds.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.dstats_agent import agent
from bench.tableout import progress, table
from watchdog_agent.tui.rows import Counters, read_document
from watchdog_agent.wire.tojson import rfc3339


def template(url: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the document without containers, one running container with stats)."""
    with urllib.request.urlopen(f"{url}/api/v1/stats?all=1", timeout=10) as resp:
        doc = json.loads(resp.read())
    running = [c for c in doc["containers"] if c.get("stats")]
    if not running:
        raise SystemExit(f"the agent at {url} shows no running container with stats")
    return {k: v for k, v in doc.items() if k != "containers"}, running[0]


def first_template(url: str, timeout: float = 30.0) -> tuple[dict[str, Any], dict[str, Any]]:
    """``template`` of a new agent, as soon as its first pass has stats."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return template(url)
        except SystemExit:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def document(top: dict[str, Any], one: dict[str, Any], n: int, step: int) -> bytes:
    at = time.time() + step
    items = []
    for i in range(n):
        c = copy.deepcopy(one)
        c["id"] = c["stats"]["id"] = f"{i:064x}"
        c["name"] = c["stats"]["name"] = f"bench-{i}"
        c["stats"]["net_rx_bytes"] = 1000 * step + i
        c["stats"]["sampled_at"] = rfc3339(at)
        items.append(c)
    return json.dumps({**top, "sampled_at": rfc3339(at), "containers": items}).encode()


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--quick", action="store_true", help="200 containers, 3 rounds")
    p.add_argument("--agent", metavar="URL", help="default: start one over a generated tree")
    p.add_argument("--containers", type=int, nargs="+", default=[200, 1000])
    p.add_argument("--rounds", type=int, default=20)
    args = p.parse_args()
    if args.quick:
        args.containers, args.rounds = [200], 3
    if args.agent:
        top, one = template(args.agent)
        source = f"the agent at {args.agent}"
    else:
        progress("starting an agent over a generated tree of 5 containers")
        with agent(5, settle=0.0) as (url, _):
            top, one = first_template(url)
        source = "an agent over a generated pure-v2 tree"
    rows = []
    for n in args.containers:
        progress(f"{args.rounds} documents of {n} containers")
        lines = [document(top, one, n, step) for step in range(args.rounds + 1)]
        loads: list[float] = []
        reads: list[float] = []
        previous: dict[str, Counters] = {}
        for i, line in enumerate(lines):
            t0 = time.perf_counter()
            doc = json.loads(line)
            t1 = time.perf_counter()
            reading = read_document("bench", doc, previous)
            t2 = time.perf_counter()
            previous = reading.counters
            if i:  # the first has no previous counters
                loads.append((t1 - t0) * 1e3)
                reads.append((t2 - t1) * 1e3)
        rows.append((f"{n:,}", f"{len(lines[0]):,}",
                     f"{statistics.median(loads):.1f} / {max(loads):.1f}",
                     f"{statistics.median(reads):.1f} / {max(reads):.1f}"))  # fmt: skip
    table(
        "dstats-rows",
        ("containers", "document bytes", "`json.loads` ms (median / max)",
         "`read_document` ms (median / max)"),
        rows,
        caption=f"{args.rounds} documents each; one container object of {source}, copied",
    )  # fmt: skip


if __name__ == "__main__":
    main()
