"""Event fan-out through the HTTP stream route: ``GET /api/v1/events`` (NDJSON) from the
agent's real server and bus, to subscribers in another process, one of which stalls.

    python -m bench.events_fanout_http [--quick] [--rate 1000] [--seconds 10]
                                       [--subscribers 10]

The agent's parts run in this process (``Agent`` and ``create_app`` as ``serve`` wires
them, no Docker, the fixture tree, no journal) on a loopback port; the events are
published into its bus at ``--rate`` a second (batches of 100). The subscribers are one
child process: raw HTTP/1.1 clients reading the chunked NDJSON stream, counting event
lines, ``{"lost": n}`` lines and gaps, until the stream ends (each asks for the live
tail ``until`` a few seconds past the last publish). One of them (with a
4 KiB receive buffer) stops reading for half the run; what the socket buffers cannot
hold is dropped by the bus for that subscriber alone and announced with ``{"lost": n}``,
so its events plus its lost counts must equal what was published.

bench/events_fanout.py measures the bus alone at 10,000 events a second to 100
subscribers; this is the same path with the HTTP writer and the sockets in it, at a
rate two cores carry with the clients beside the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aiohttp import web

from bench.events_fanout import events, span
from bench.tableout import progress, table
from watchdog_agent.agent.wiring import Agent
from watchdog_agent.config import Settings
from watchdog_agent.server.app import create_app

TREE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "trees" / "systemd"

CLIENT = r"""
import asyncio, json, socket, sys, time
port, n, stall, until = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]

async def one(index):
    sock = socket.socket()
    if index == 0:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock, limit=2**20)
    writer.write(f"GET /api/v1/events?until={until} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    counts = {"events": 0, "lost": [], "gaps": 0, "stalled": index == 0}
    buf, stalled = b"", False
    while True:
        size = int((await reader.readline()).split(b";")[0], 16)
        if size == 0:
            break
        buf += await reader.readexactly(size + 2)
        buf = buf[:-2] if buf.endswith(b"\r\n") else buf
        *lines, buf = buf.split(b"\n")
        for line in lines:
            if line.startswith(b'{"lost"'):
                counts["lost"].append(json.loads(line)["lost"])
            elif line.startswith(b'{"gap"'):
                counts["gaps"] += 1
            elif line.strip():
                counts["events"] += 1
                if index == 0 and not stalled:
                    stalled = True
                    await asyncio.sleep(stall)  # reads nothing meanwhile
    writer.close()
    return counts

async def main():
    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    print(json.dumps(await asyncio.gather(*tasks)))

asyncio.run(main())
"""


async def run(rate: int, seconds: float, subscribers: int, margin: float) -> None:
    settings = Settings(no_docker=True, journal=None, proc_root=str(TREE / "proc"),
                        cgroup_root=str(TREE / "cgroup"), max_streams=subscribers + 4)  # fmt: skip
    agent = Agent(settings)
    runner = web.AppRunner(create_app(settings, agent))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        base = agent.bus.subscribers
        until = f"{time.time() + seconds + margin:.3f}"  # the streams end then, once drained
        argv = [sys.executable, "-c", CLIENT, str(port), str(subscribers), str(seconds / 2), until]
        child = await asyncio.create_subprocess_exec(*argv, stdout=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while agent.bus.subscribers < base + subscribers:
            if time.monotonic() > deadline or child.returncode is not None:
                raise SystemExit("the HTTP subscribers did not all subscribe")
            await asyncio.sleep(0.05)
        total = int(rate * seconds) // 100 * 100
        all_events = events(total)
        progress(f"publishing {total:,} events at {rate:,}/s to {subscribers} HTTP streams")
        t0, late = time.perf_counter(), 0
        for b in range(total // 100):
            wait = t0 + b * 100 / rate - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            else:
                late += 1
                await asyncio.sleep(0)
            for event in all_events[b * 100 : (b + 1) * 100]:
                agent.bus.publish(event)
        published = time.perf_counter() - t0
        out, _ = await asyncio.wait_for(child.communicate(), timeout=120 + seconds)
        elapsed = time.perf_counter() - t0
        if child.returncode != 0:
            raise SystemExit(f"the HTTP subscribers failed ({child.returncode})")
    finally:
        await runner.cleanup()
    results = json.loads(out)
    rows = []
    kinds = {
        "reads without a pause": [r for r in results if not r["stalled"]],
        "stops reading for half the run": [r for r in results if r["stalled"]],
    }
    for kind, group in kinds.items():
        if not group:
            continue
        got = [r["events"] for r in group]
        lost = [sum(r["lost"]) for r in group]
        truth = [total - r["events"] for r in group]
        exact = all(sum(r["lost"]) == total - r["events"] for r in group)
        rows.append((kind, len(group), f"{total:,}", span(got), span(lost), span(truth),
                     "yes" if exact else "**no**"))  # fmt: skip
    table(
        "fanout-http",
        ("subscribers (`GET /api/v1/events`)", "n", "events expected (each)", "delivered",
         "`{\"lost\": n}` received", "true loss", "exact"),
        rows,
        caption=f"{total:,} events at {rate:,}/s through the agent's bus and HTTP server to "
        f"{subscribers} NDJSON streams; published in {published:.2f} s ({late} of "
        f"{total // 100} batches late); the streams end {margin:g} s after the run, "
        f"{elapsed:.2f} s after the first event",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 s, 3 subscribers")
    parser.add_argument("--rate", type=int, default=1000, help="events a second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=10)
    args = parser.parse_args()
    margin = 10.0
    if args.quick:
        args.seconds, args.subscribers, margin = 1.0, 3, 2.0
    asyncio.run(run(args.rate, args.seconds, args.subscribers, margin))


if __name__ == "__main__":
    main()
