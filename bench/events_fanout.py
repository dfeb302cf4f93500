"""Event fan-out through the agent's own bus (events/bus.py): 10,000 events a second to
100 subscribers, no loss while they keep up, and an exact ``Lost(n)`` for the one that
stalls.

    python -m bench.events_fanout [--quick] [--rate 10000] [--seconds 10]
                                  [--subscribers 100] [--batch 100]

One event loop, as in the agent: a publisher calls ``Bus.publish`` for a batch of
``--batch`` events every ``batch / rate`` seconds (the tap publishes what one read of
Docker's stream holds), on a fixed schedule; the subscribers are tasks iterating their
``Subscription`` (``async for``), each counting what it gets:

- "keeps up": reads everything (most subscribers);
- "filtered": subscribed with the filter ``type=container event=die`` (as
  ``/api/v1/events?filter=...`` does), 10 of them;
- "stalls": one subscriber that stops reading for the middle third of the run, then
  reads again: it must get every event before and after its queue was full, and one
  ``Lost(n)`` whose n is exactly the count it missed (known here from what was
  published).

Prints the delivered/expected events per class, the Lost counts against the true
count, the publish rate held, and the delivery latency (publish to the subscriber's
read, every 100th event). Docker has no peer for this (its own fan-out is fed by the
daemon's events; nothing on this machine produces 10,000 a second), so the table
stands alone.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.tableout import progress, table
from watchdog_agent.events.bus import Bus, Subscription
from watchdog_agent.events.filters import parse_filters
from watchdog_agent.model import Event, Gap, Lost

T0 = 1_724_400_000_000_000_000
ACTIONS = ("start", "exec_create: sh", "exec_start: sh", "exec_die", "die", "stop", "destroy")


def events(count: int) -> list[Event]:
    """``count`` container events; event n has time_nano T0 + n."""
    out = []
    for n in range(count):
        action = ACTIONS[n % len(ACTIONS)]
        attrs = {"name": f"c{n % 500}", "image": "busybox", "com.example.n": str(n)}
        out.append(Event("container", action, f"{n % 500:064x}", attrs, "local",
                         T0 // 10**9, T0 + n))  # fmt: skip
    return out


@dataclass
class Reader:
    kind: str
    sub: Subscription
    stall: tuple[float, float] | None = None  # (from, to) seconds since the start
    events: int = 0
    lost_markers: list[int] = field(default_factory=list)
    gaps: int = 0
    out_of_order: int = 0
    latency_ms: list[float] = field(default_factory=list)
    last: int = -1


async def read(reader: Reader, published_at: list[float], batch: int, start: list[float]) -> None:
    async for item in reader.sub:
        if isinstance(item, Event):
            n = item.time_nano - T0
            if n <= reader.last:
                reader.out_of_order += 1
            reader.last = n
            reader.events += 1
            if n % 100 == 0:
                reader.latency_ms.append((time.perf_counter() - published_at[n // batch]) * 1e3)
        elif isinstance(item, Lost):
            reader.lost_markers.append(item.count)
        elif isinstance(item, Gap):
            reader.gaps += 1
        if reader.stall is not None and start:
            since = time.perf_counter() - start[0]
            if reader.stall[0] <= since < reader.stall[1]:
                await asyncio.sleep(reader.stall[1] - since)  # holds its queue full


async def run(rate: int, seconds: float, subscribers: int, batch: int) -> None:
    total = int(rate * seconds) // batch * batch
    all_events = events(total)
    bus = Bus()  # the agent's default queue size
    die = parse_filters(["type=container", "event=die"]).matches
    filtered = min(10, max(0, subscribers - 2))
    readers = [Reader("stalls", bus.subscribe(), stall=(seconds / 3, 2 * seconds / 3))]
    readers += [Reader("filtered", bus.subscribe(die)) for _ in range(filtered)]
    readers += [Reader("keeps up", bus.subscribe()) for _ in range(subscribers - 1 - filtered)]
    published_at = [0.0] * (total // batch)
    start: list[float] = []
    tasks = [asyncio.create_task(read(r, published_at, batch, start)) for r in readers]
    await asyncio.sleep(0)
    progress(f"publishing {total:,} events at {rate:,}/s to {subscribers} subscribers")
    step = batch / rate
    late = 0
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    start.append(t0)
    for b in range(total // batch):
        due = t0 + b * step
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        else:
            late += 1
            await asyncio.sleep(0)  # the readers still get their turn
        published_at[b] = time.perf_counter()
        for event in all_events[b * batch : (b + 1) * batch]:
            bus.publish(event)
    bus.close()
    published = time.perf_counter() - t0
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    dropped = {id(r.sub): r.sub.dropped for r in readers}
    expect_die = sum(1 for e in all_events if die(e))
    rows = []
    for kind, expected in (("keeps up", total), ("filtered", expect_die), ("stalls", total)):
        group = [r for r in readers if r.kind == kind]
        if not group:
            continue
        got = [r.events for r in group]
        lost = [sum(r.lost_markers) for r in group]
        truth = [expected - r.events for r in group]
        exact = all(sum(r.lost_markers) == expected - r.events for r in group)
        in_order = all(r.out_of_order == 0 for r in group)
        counted = sum(dropped[id(r.sub)] for r in group)
        lat = [x for r in group for x in r.latency_ms]
        rows.append((
            kind, len(group), f"{expected:,}", span(got), span(lost), span(truth),
            f"{counted:,}", "yes" if exact and in_order else "**no**",
            f"{statistics.median(lat):.1f} / {max(lat):.1f}" if lat else "-",
        ))  # fmt: skip
    table(
        "fanout-bus",
        ("subscribers", "n", "events expected (each)", "delivered", "Lost(n) received",
         "true loss", "bus dropped count", "exact, in order", "latency ms p50 / max"),
        rows,
        caption=f"`Bus.publish` of {total:,} events at {rate:,}/s (batches of {batch}) to "
        f"{subscribers} subscribers over {seconds:g} s; one stalls for the middle third",
    )  # fmt: skip
    table(
        "fanout-rate",
        ("measure", "value"),
        [
            ("events published", f"{total:,} in {published:.2f} s ({total / published:,.0f}/s)"),
            ("batches published late (behind the schedule)", f"{late} of {total // batch}"),
            ("all delivered after", f"{elapsed:.2f} s"),
            ("CPU of the process (publish + every subscriber)",
             f"{cpu:.2f} s ({100 * cpu / elapsed:.0f} % of one core)"),
            ("CPU per event per subscriber", f"{cpu / (total * subscribers) * 1e6:.2f} µs"),
            ("bus.dropped_total", f"{bus.dropped_total:,}"),
        ],
    )  # fmt: skip


def span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{low:,}" if low == high else f"{low:,} - {high:,}"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="one second of events")
    parser.add_argument("--rate", type=int, default=10_000, help="events a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--batch", type=int, default=100, help="events per publish turn")
    args = parser.parse_args()
    seconds = 1.5 if args.quick else args.seconds
    if args.subscribers < 2:
        raise SystemExit("--subscribers: at least 2 (one stalls)")
    asyncio.run(run(args.rate, seconds, args.subscribers, args.batch))


if __name__ == "__main__":
    main()
