"""A real basic-auth login while attackers send wrong passwords: how long it takes.

    python -m bench.login_flood [--quick] [--cost 12] [--attackers 0,50,200] [--logins 5]
                                [--tries 40]

Starts ``watchdog-agent serve`` (fixture tree, no Docker) with a users file of
``--logins`` real users whose hashes have bcrypt cost ``--cost``. For each attacker
count, the attackers (each an aiohttp session from its own loopback address,
127.0.0.2 and up, sending at most ``--tries`` random passwords for a real user name)
start; once each has been answered, the real users log in one after another (a new user
each time, so no remembered check helps), timed from request to answer, while the
attackers keep going. Prints a Markdown table (key ``login-flood``): attackers, real
logins (200 of N), p50 and max milliseconds, and the attackers' answers by status. A
fresh agent per row, so no row inherits the failure table of the previous one.
``--quick``: cost 4, one row of 5 attackers, 2 logins, 5 tries.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import bcrypt

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scrapers import serve
from bench.tableout import progress, table

TREE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "trees" / "systemd"


async def attack(
    n: int,
    url: str,
    tries: int,
    answers: collections.Counter[int],
    seen: set[int],
    stop: asyncio.Event,
) -> None:
    connector = aiohttp.TCPConnector(limit=1, local_addr=(f"127.0.0.{n + 2}", 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(tries):
            if stop.is_set():
                return
            header = {"Authorization": aiohttp.encode_basic_auth("user0", secrets.token_hex(8))}
            try:
                async with session.get(url, headers=header) as resp:
                    answers[resp.status] += 1
            except aiohttp.ClientError:
                answers[0] += 1
            seen.add(n)


async def row(url: str, attackers: int, users: list[tuple[str, str]], tries: int) -> list[object]:
    answers: collections.Counter[int] = collections.Counter()
    seen: set[int] = set()
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(attack(n, url, tries, answers, seen, stop)) for n in range(attackers)
    ]
    for _ in range(1200):
        if len(seen) == attackers or all(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    took: list[float] = []
    ok = 0
    async with aiohttp.ClientSession() as session:
        for user, password in users:
            header = {"Authorization": aiohttp.encode_basic_auth(user, password)}
            start = time.perf_counter()
            async with session.get(url, headers=header) as resp:
                ok += resp.status == 200
            took.append((time.perf_counter() - start) * 1000)
    running = sum(not t.done() for t in tasks)
    stop.set()
    await asyncio.gather(*tasks)
    by_status = ", ".join(f"{s}: {c}" for s, c in sorted(answers.items())) or "-"
    return [attackers, f"{ok}/{len(users)}", f"{statistics.median(took):.0f}",
            f"{max(took):.0f}", running, by_status]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="cost 4, one row of 5 attackers")
    parser.add_argument("--cost", type=int, default=12)
    parser.add_argument("--attackers", default="0,50,200")
    parser.add_argument("--logins", type=int, default=5)
    parser.add_argument("--tries", type=int, default=40)
    args = parser.parse_args()
    if args.quick:
        args.cost, args.attackers, args.logins, args.tries = 4, "5", 2, 5
    rows = []
    with tempfile.TemporaryDirectory(prefix="wd-login-") as tmp:
        users = [(f"user{i}", "pw-" + secrets.token_hex(8)) for i in range(args.logins)]
        path = Path(tmp) / "users"
        path.write_text(
            "".join(
                f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=args.cost)).decode()}\n"
                for u, p in users
            )
        )
        os.chmod(path, 0o600)
        flags = ["--no-docker", "--journal", "none", "--proc-root", str(TREE / "proc"),
                 "--cgroup-root", str(TREE / "cgroup"), "--basic-auth-file", str(path)]  # fmt: skip
        for attackers in (int(a) for a in args.attackers.split(",")):
            progress(f"{attackers} attackers")
            with serve(flags, Path(tmp)) as (_, base):
                rows.append(asyncio.run(row(f"{base}/api/v1/info", attackers, users, args.tries)))
    table(
        "login-flood",
        ("attackers", "real logins 200", "p50 ms", "max ms", "attackers still running",
         "attackers' answers"),
        rows,
        align="rlrrrl",
        caption=f"bcrypt cost {args.cost}, {args.logins} real logins a row, {args.tries} "
        "tries each attacker; a fresh agent per row",
    )  # fmt: skip


if __name__ == "__main__":
    main()
