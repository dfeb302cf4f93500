"""The agent's memory and sockets through an abuse run, and after it.

    python -m bench.abuse_memory [--quick] [--slow 2000] [--bad 2000] [--wrong 2000]
                                 [--rounds 3] [--settle 10]

Starts ``watchdog-agent serve`` (fixture tree, no Docker, a bearer token file), then
``--rounds`` times: ``--slow`` connections that send part of a request head and wait,
``--bad`` requests that fail to parse, and ``--wrong`` requests with a wrong token (all
from this process, over loopback); after each round the clients close everything and the
agent gets a few seconds to settle. Prints a Markdown table (key ``abuse-memory``) of the
agent's RSS (VmRSS of /proc/PID/status) and open sockets (from /proc/PID/fd) at start,
at the peak of each round and after it settles. ``--quick``: one round of 50 of each,
1 s wait, 1 s to settle.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scrapers import serve
from bench.tableout import progress, table

TREE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "trees" / "systemd"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def sockets(pid: int) -> int:
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
    return count


async def one(port: int, data: bytes, wait: float) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    try:
        writer.write(data)
        await asyncio.wait_for(reader.read(), wait)
    except (OSError, TimeoutError):
        pass
    finally:
        writer.close()


async def round_(port: int, pid: int, args: argparse.Namespace) -> tuple[float, int]:
    bad = f"GET / HTTP/1.1\r\nAuthorization: Bearer {secrets.token_hex(16)}\x00\r\n\r\n"
    wrong = f"GET /metrics HTTP/1.1\r\nAuthorization: Bearer {secrets.token_hex(16)}\r\n\r\n"
    wait = args.hold
    jobs = [one(port, b"GET /metrics HTTP/1.1\r\nX-Slow: ", wait) for _ in range(args.slow)]
    jobs += [one(port, bad.encode(), wait) for _ in range(args.bad)]
    jobs += [
        one(port, wrong.encode() + b"Connection: close\r\n\r\n", wait) for _ in range(args.wrong)
    ]
    peak = [0.0, 0]

    async def watch() -> None:
        while True:
            peak[0] = max(peak[0], rss_mb(pid))
            peak[1] = max(peak[1], sockets(pid))
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    for start in range(0, len(jobs), 500):  # this process's own descriptors are limited too
        await asyncio.gather(*jobs[start : start + 500])
    watcher.cancel()
    return peak[0], int(peak[1])


async def run(base: str, pid: int, args: argparse.Namespace) -> list[tuple[str, str, int]]:
    port = int(base.rsplit(":", 1)[1])
    rows = [("start", f"{rss_mb(pid):.1f}", sockets(pid))]
    for n in range(1, args.rounds + 1):
        progress(f"round {n} of {args.rounds}")
        peak, most = await round_(port, pid, args)
        rows.append((f"round {n}: peak", f"{peak:.1f}", most))
        await asyncio.sleep(args.settle)
        rows.append((f"round {n}: {args.settle:g} s after", f"{rss_mb(pid):.1f}", sockets(pid)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one round of 50 each, 1 s settle")
    parser.add_argument("--slow", type=int, default=2000)
    parser.add_argument("--bad", type=int, default=2000)
    parser.add_argument("--wrong", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument(
        "--hold",
        type=float,
        default=8.0,
        help="seconds a client waits for the answer (or its close)",
    )
    args = parser.parse_args()
    if args.quick:
        args.slow = args.bad = args.wrong = 50
        args.rounds, args.settle, args.hold = 1, 1.0, 1.0
    with tempfile.TemporaryDirectory(prefix="wd-abuse-") as tmp:
        tokens = Path(tmp) / "tokens"
        tokens.write_text(secrets.token_hex(16) + "\n")
        tokens.chmod(0o600)
        flags = ["--no-docker", "--journal", "none", "--proc-root", str(TREE / "proc"),
                 "--cgroup-root", str(TREE / "cgroup"),
                 "--auth-token-file", str(tokens)]  # fmt: skip
        with serve(flags, Path(tmp)) as (proc, base):
            time.sleep(0.5 if args.quick else 2)  # the first samples
            rows = asyncio.run(run(base, proc.pid, args))
    caption = (
        f"{args.rounds} rounds of {args.slow:,} slow, {args.bad:,} unparsable and "
        f"{args.wrong:,} wrong-token connections, 500 at a time, each waiting up to "
        f"{args.hold:g} s; fixture tree, no Docker"
    )
    table("abuse-memory", ("phase", "RSS MB", "sockets"), rows, caption=caption)


if __name__ == "__main__":
    main()
