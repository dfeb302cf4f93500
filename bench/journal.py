"""Event journal: insert rate over a million synthetic events, then filtered window queries.

    python -m bench.journal [--quick] [--events 1000000] [--batch 1000] [--queries 20]

The events span the last 6 days (inside the default 7-day retention) with a realistic mix:
health-check exec triplets, lifecycle events, network/volume/image events, compose labels,
legacy fields on half of them. Prints Markdown tables: the insert rate (time in
Journal.append only; key ``journal-insert``), then p50/p99 (nearest rank) of each query
shape (``journal-queries``) and of the events route's replay of a window
(``journal-replay``). ``--quick``: 20,000 events, 3 runs of each shape.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sized
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.tableout import progress, table
from watchdog_agent.events.filters import parse_filters
from watchdog_agent.events.journal import Journal
from watchdog_agent.events.replay import replay
from watchdog_agent.model import Event
from watchdog_agent.server.documents import stream_item

SPAN_NS = 6 * 86400 * 10**9
MINUTE_NS = 60 * 10**9
# (type, action, weight)
MIX: tuple[tuple[str, str, int], ...] = (
    ("container", "exec_create: /bin/sh -c curl -fs localhost/health", 15),
    ("container", "exec_start: /bin/sh -c curl -fs localhost/health", 15),
    ("container", "exec_die", 15),
    ("container", "health_status: healthy", 3),
    ("container", "health_status: unhealthy", 1),
    ("container", "create", 3),
    ("container", "start", 4),
    ("container", "die", 4),
    ("container", "stop", 2),
    ("container", "kill", 2),
    ("container", "destroy", 2),
    ("container", "attach", 3),
    ("container", "detach", 2),
    ("container", "restart", 1),
    ("container", "oom", 1),
    ("container", "top", 2),
    ("network", "connect", 5),
    ("network", "disconnect", 4),
    ("volume", "mount", 6),
    ("volume", "unmount", 5),
    ("image", "pull", 2),
    ("image", "tag", 1),
    ("image", "untag", 1),
    ("image", "delete", 1),
)
PROJECTS = ("shop", "blog", "ci", "monitoring", "payments")
SERVICES = ("web", "api", "worker", "db", "cache", "proxy")
IMAGES = ("nginx:1.27", "python:3.12-slim", "postgres:16", "redis:7", "alpine:3.20")


class Fleet:
    """Synthetic containers, networks, volumes and the event generator over them."""

    def __init__(self, rng: random.Random, containers: int = 200) -> None:
        self.rng = rng
        self.ids = [f"{rng.getrandbits(256):064x}" for _ in range(containers)]
        self.attrs: dict[str, dict[str, str]] = {}
        for n, cid in enumerate(self.ids):
            project, service = PROJECTS[n % len(PROJECTS)], SERVICES[n % len(SERVICES)]
            self.attrs[cid] = {
                "com.docker.compose.project": project,
                "com.docker.compose.service": service,
                "com.docker.compose.container-number": str(n // 30 + 1),
                "com.docker.compose.version": "2.29.1",
                "com.docker.compose.config-hash": f"{rng.getrandbits(256):064x}",
                "com.docker.compose.oneoff": "False",
                "image": IMAGES[n % len(IMAGES)],
                "name": f"{project}-{service}-{n}",
            }
        self.networks = [f"{rng.getrandbits(256):064x}" for _ in range(8)]
        self.volumes = [f"{rng.getrandbits(256):064x}" for _ in range(40)]
        self.kinds = [(t, a) for t, a, _ in MIX]
        self.weights = [w for _, _, w in MIX]

    def event(self, kind: tuple[str, str], time_nano: int) -> Event:
        type_, action = kind
        rng = self.rng
        cid = rng.choice(self.ids)
        legacy = rng.random() < 0.5
        if type_ == "container":
            attrs = dict(self.attrs[cid])
            if action == "die":
                attrs |= {"exitCode": rng.choice(("0", "0", "1", "137")), "execDuration": "42"}
            elif action.startswith("exec_"):
                attrs["execID"] = f"{rng.getrandbits(256):064x}"
                if action == "exec_die":
                    attrs["exitCode"] = "0"
            elif action == "kill":
                attrs["signal"] = "15"
            status, id_, from_ = (action, cid, attrs["image"]) if legacy else (None, None, None)
            return Event(type_, action, cid, attrs, "local", time_nano // 10**9, time_nano,
                         status, id_, from_)  # fmt: skip
        if type_ == "network":
            actor, attrs = rng.choice(self.networks), {"container": cid, "name": "shop_default"}
            attrs["type"] = "bridge"
        elif type_ == "volume":
            actor = rng.choice(self.volumes)
            attrs = {"container": cid, "destination": "/data", "driver": "local",
                     "propagation": "", "read/write": "true"}  # fmt: skip
        else:
            actor, attrs = f"sha256:{rng.getrandbits(256):064x}", {"name": rng.choice(IMAGES)}
        status, id_ = (action, actor) if legacy and type_ == "image" else (None, None)
        return Event(type_, action, actor, attrs, "local", time_nano // 10**9, time_nano,
                     status, id_)  # fmt: skip

    def batches(self, total: int, size: int, end_nano: int) -> Iterator[list[Event]]:
        start, step = end_nano - SPAN_NS, SPAN_NS // total
        for first in range(0, total, size):
            count = min(size, total - first)
            kinds = self.rng.choices(self.kinds, self.weights, k=count)
            yield [
                self.event(kind, start + (first + i) * step + self.rng.randrange(step))
                for i, kind in enumerate(kinds)
            ]


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events, 3 queries each")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=20, help="per query shape")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.quick:
        args.events, args.queries = 20_000, 3
    rng = random.Random(args.seed)
    fleet = Fleet(rng)
    end = time.time_ns()

    with tempfile.TemporaryDirectory(prefix="wd-journal-") as tmp:
        path = os.path.join(tmp, "events.db")
        with Journal(path, max_events=max(args.events, 1_000_000)) as journal:
            progress(f"inserting {args.events:,} events in batches of {args.batch:,}")
            spent, wall = 0.0, time.perf_counter()
            for n, batch in enumerate(fleet.batches(args.events, args.batch, end), 1):
                t = time.perf_counter()
                journal.append(batch)
                spent += time.perf_counter() - t
                if n % 100 == 0:
                    progress(f"{n * args.batch:,} events stored")
            wall = time.perf_counter() - wall
            stats = journal.stats()
            table(
                "journal-insert",
                ("events stored", "append time s", "insert rate events/s",
                 "wall s (with generation)", "file MB", "bytes / event"),
                [(f"{stats.events:,}", f"{spent:.1f}", f"{args.events / spent:,.0f}",
                  f"{wall:.1f}", f"{stats.file_bytes / 2**20:.0f}",
                  f"{stats.file_bytes / max(stats.events, 1):,.0f}")],
                caption=f"{args.events:,} synthetic events over 6 days, batches of "
                f"{args.batch:,} (`Journal.append`, one transaction each)",
            )  # fmt: skip
            progress("window queries")
            rows = [
                (name, f"{statistics.median(n):,.0f}", f"{percentile(t, 50):.2f}",
                 f"{percentile(t, 99):.2f}")
                for name, n, t in timed(query_shapes(fleet, rng, end), journal, args.queries)
            ]  # fmt: skip
            table("journal-queries", ("query (`Journal.query`)", "rows (median)", "p50 ms",
                  "p99 ms"), rows,
                  caption=f"{args.queries} runs of each shape over {stats.events:,} "
                  "events, each a fresh random window")  # fmt: skip
            replays = min(args.queries, 5)  # a day's window reads 160,000 rows each time
            progress(f"replays, {replays} of each")
            rows = [
                (name, f"{statistics.median(n):,.0f}", f"{percentile(t, 50):.2f}",
                 f"{max(t):.2f}")
                for name, n, t in timed(replay_shapes(rng, end), journal, replays)
            ]  # fmt: skip
            table("journal-replay", ("replay (`GET /api/v1/events?since=&until=`)",
                  "items (median)", "p50 ms", "max ms"), rows,
                  caption=f"{replays} runs of each: what the events route does before it "
                  "streams: `replay()` "
                  "(journal rows and gaps through the request's filter) and each item "
                  "encoded as the stream's JSON line; no Docker buffer asked")  # fmt: skip


Shape = tuple[str, Callable[[Journal], Sized]]


def timed(
    shapes: list[Shape], journal: Journal, runs: int
) -> Iterator[tuple[str, list[int], list[float]]]:
    for name, run in shapes:
        times, rows = [], []
        for _ in range(runs):
            t = time.perf_counter()
            rows.append(len(run(journal)))
            times.append((time.perf_counter() - t) * 1000)
        yield name, rows, times


def replay_shapes(rng: random.Random, end: int) -> list[Shape]:
    """The events route's history half: replay() through a filter, then JSON lines."""

    def window(minutes: int) -> tuple[int, int]:
        since = rng.randrange(end - SPAN_NS, end - minutes * MINUTE_NS)
        return since, since + minutes * MINUTE_NS

    def run(filters: list[str], minutes: int) -> Callable[[Journal], Sized]:
        event_filter = parse_filters(filters)

        def go(journal: Journal) -> list[str]:
            items = asyncio.run(replay(journal, None, event_filter, window(minutes), end))
            return [stream_item(item)[1] for item in items]

        return go

    return [
        ("10-min window, every event", run([], 10)),
        ("1-hour window, every event", run([], 60)),
        ("1-hour window, type=container event=die", run(["type=container", "event=die"], 60)),
        ("24-hour window, label com.docker.compose.project=shop, event=die",
         run(["label=com.docker.compose.project=shop", "event=die"], 1440)),
    ]  # fmt: skip


def query_shapes(fleet: Fleet, rng: random.Random, end: int) -> list[Shape]:
    """Each shape draws a fresh random window (and actor) on every run."""

    def window(minutes: int) -> tuple[int, int]:
        since = rng.randrange(end - SPAN_NS, end - minutes * MINUTE_NS)
        return since, since + minutes * MINUTE_NS

    def shop(e: Event) -> bool:  # what a label filter's predicate does
        return e.attributes.get("com.docker.compose.project") == "shop"

    die = {"types": ["container"], "actions": ["die"]}
    return [
        ("10-min window", lambda j: j.query(*window(10))),
        ("10-min window, type=container action=die", lambda j: j.query(*window(10), **die)),
        ("10-min window, actor id", lambda j: j.query(*window(10), actor_ids=[rng.choice(fleet.ids)])),  # noqa: E501
        ("10-min window, type+action+actor id",
         lambda j: j.query(*window(10), **die, actor_ids=[rng.choice(fleet.ids)])),
        ("10-min window, label predicate", lambda j: j.query(*window(10), predicate=shop)),
        ("1-hour window, type=container action=die", lambda j: j.query(*window(60), **die)),
        ("24-hour window, type+action+actor id",
         lambda j: j.query(*window(1440), **die, actor_ids=[rng.choice(fleet.ids)])),
        ("all history, actor id, limit 1000",
         lambda j: j.query(None, None, actor_ids=[rng.choice(fleet.ids)], limit=1000)),
    ]  # fmt: skip


if __name__ == "__main__":
    main()
