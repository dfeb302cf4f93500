"""Basic-auth logins against a real agent process: a real login succeeds while 200
attackers (each from its own loopback address, a bounded number of tries each) send
wrong passwords; and what `serve` says at start about credential files (too-short
tokens, too-slow bcrypt costs, files other users can read) and a config file that is
not UTF-8."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from pathlib import Path

import aiohttp
import bcrypt
import pytest
from helpers.serveproc import agent, serve_args
from helpers.serving import tree_settings
from structlog.testing import capture_logs

from watchdog_agent.errors import UsageError
from watchdog_agent.server import logins
from watchdog_agent.server.app import create_app

ATTACKERS = 200
TRIES = 15  # wrong passwords each attacker sends at most
COST = 8  # low enough for a short test, high enough that 200 attackers fill the pool


async def attacker(n: int, url: str, answered: list[set[int]], stop: asyncio.Event) -> None:
    connector = aiohttp.TCPConnector(limit=1, local_addr=(f"127.0.0.{n + 2}", 0))
    async with aiohttp.ClientSession(connector=connector) as session:
        for _ in range(TRIES):
            if stop.is_set():
                return
            auth = {"Authorization": aiohttp.encode_basic_auth("scraper", secrets.token_hex(8))}
            try:
                async with session.get(url, headers=auth) as resp:
                    answered[n].add(resp.status)
            except aiohttp.ClientError:
                answered[n].add(0)


async def test_a_real_login_succeeds_while_200_attackers_send_wrong_passwords(
    tmp_path: Path,
) -> None:
    password = "pw-" + secrets.token_hex(12)
    users = tmp_path / "users"
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=COST)).decode()
    users.write_text(f"scraper:{digest}\n")
    users.chmod(0o600)
    with agent("--basic-auth-file", str(users)) as running:
        url = f"http://127.0.0.1:{running.port}/api/v1/info"
        answered: list[set[int]] = [set() for _ in range(ATTACKERS)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(attacker(n, url, answered, stop)) for n in range(ATTACKERS)]
        try:
            for _ in range(600):  # every attacker has been answered at least once
                if all(answered) or all(t.done() for t in tasks):
                    break
                await asyncio.sleep(0.05)
            async with aiohttp.ClientSession() as session:
                auth = {"Authorization": aiohttp.encode_basic_auth("scraper", password)}
                async with session.get(url, headers=auth) as resp:
                    status = resp.status
            attacking = sum(not t.done() for t in tasks)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
    assert all(answered)
    assert attacking > 0  # the flood was still running when the real login was answered
    assert status == 200
    seen = set().union(*answered)
    assert 401 in seen and 429 in seen and 200 not in seen
    refused = running.events("logins refused")  # counted, a line every 10 s at most
    assert 1 <= len(refused) <= 5
    assert sum(int(str(e.get("too_many_failures", 0))) for e in refused) > 0


def test_bcrypt_pool_refuses_over_its_queue_and_lets_clean_addresses_first() -> None:
    async def run() -> list[str]:
        pool = logins.BcryptPool(threads=1, queue=2)
        digest = bcrypt.hashpw(b"x", bcrypt.gensalt(rounds=COST))
        order: list[str] = []

        async def check(name: str, suspect: bool) -> None:
            try:
                await pool.check(b"x", digest, suspect)
                order.append(name)
            except logins.Busy:
                order.append(name + ":busy")

        first = asyncio.create_task(check("running", False))
        await asyncio.sleep(0)  # holds the one thread
        waiting = [asyncio.create_task(check(f"s{i}", True)) for i in range(2)]
        await asyncio.sleep(0)
        over = asyncio.create_task(check("s2", True))  # queue full of suspects: refused
        clean = asyncio.create_task(check("clean", False))  # takes the newest suspect's place
        await asyncio.gather(first, *waiting, over, clean)
        pool.close()
        return order

    order = asyncio.run(run())
    assert order[:3] == ["s2:busy", "s1:busy", "running"]
    assert order[3:] == ["clean", "s0"]


def test_suspect_addresses_leave_a_thread_free_for_the_others() -> None:
    async def run() -> list[str]:
        pool = logins.BcryptPool(threads=2, queue=4)
        slow = bcrypt.hashpw(b"x", bcrypt.gensalt(rounds=COST + 2))
        fast = bcrypt.hashpw(b"x", bcrypt.gensalt(rounds=4))
        order: list[str] = []

        async def check(name: str, digest: bytes, suspect: bool) -> None:
            await pool.check(b"x", digest, suspect)
            order.append(name)

        attackers = [asyncio.create_task(check(f"s{i}", slow, True)) for i in range(3)]
        await asyncio.sleep(0)  # s0 runs; s1 and s2 wait although a thread is free
        await check("clean", fast, False)  # on the free thread, at once
        await asyncio.gather(*attackers)
        pool.close()
        return order

    assert asyncio.run(run()) == ["clean", "s0", "s1", "s2"]


def test_failures_are_limited_per_address_and_the_table_is_bounded() -> None:
    now = [0.0]
    limiter = logins.FailureLimiter(burst=3, every=2.0, size=10, clock=lambda: now[0])
    for _ in range(3):
        assert limiter.allowed("a")
        limiter.failed("a")
    assert not limiter.allowed("a") and limiter.allowed("b")
    assert limiter.suspect("a") and not limiter.suspect("b")
    now[0] += 2.0
    assert limiter.allowed("a")  # one more every 2 s
    for n in range(50):
        limiter.failed(f"10.0.0.{n}")
    assert len(limiter) == 10
    now[0] += 3 * 2.0  # every budget whole again: the next failure forgets them all
    limiter.failed("c")
    assert len(limiter) == 1


# -- what serve says at start -------------------------------------------------------------


def test_a_bcrypt_cost_too_slow_here_is_refused_without_computing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[bytes] = []
    real = bcrypt.checkpw

    def recording(password: bytes, digest: bytes) -> bool:
        checked.append(digest[:7])
        return real(password, digest)

    monkeypatch.setattr(bcrypt, "checkpw", recording)
    tail = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()[7:]
    users = tmp_path / "users"
    for cost in (31, 20):
        users.write_text(f"admin:$2b${cost}${tail}\n")
        with pytest.raises(UsageError, match=f"bcrypt cost {cost}.*use a cost of at most") as err:
            create_app(tree_settings(basic_auth_file=str(users)))
        assert tail not in str(err.value)
    assert set(checked) == {f"$2b${logins.PROBE_COST:02d}$".encode()}  # only the probe
    done = subprocess.run(serve_args("--basic-auth-file", str(users)), capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "bcrypt cost 20" in done.stderr


def test_short_tokens_are_refused_with_a_clear_message(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("x\n")
    tokens.chmod(0o600)
    done = subprocess.run(serve_args("--auth-token-file", str(tokens)), capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2
    assert "a token has at least 16 characters (this one has 1)" in done.stderr
    assert done.stderr.count("\n") == 1
    tokens.write_text("a" * 16 + "\r\n")  # sixteen is enough, with any line ending
    create_app(tree_settings(auth_token_file=str(tokens)))


def test_credential_files_open_to_other_users_get_a_warning(tmp_path: Path) -> None:
    tokens, users = tmp_path / "tokens", tmp_path / "users"
    tokens.write_text(secrets.token_hex(16) + "\n")
    digest = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=4)).decode()
    users.write_text(f"admin:{digest}\n")
    settings = tree_settings(auth_token_file=str(tokens), basic_auth_file=str(users))
    warned: dict[int, list[str]] = {}
    for mode in (0o600, 0o640, 0o604):
        os.chmod(tokens, mode)
        os.chmod(users, mode)
        with capture_logs() as logs:
            create_app(settings)
        warned[mode] = [e["path"] for e in logs if "open to other users" in e["event"]]
    assert warned[0o600] == []
    assert warned[0o640] == warned[0o604] == [str(tokens), str(users)]


def test_a_config_file_that_is_not_utf8_is_a_one_line_error(tmp_path: Path) -> None:
    config = tmp_path / "agent.toml"
    config.write_bytes(b'listen = "127.0.0.1:0"\n# caf\xe9\n')
    done = subprocess.run(serve_args("--config", str(config)), capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"watchdog-agent: config file {config} is not UTF-8 text")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
