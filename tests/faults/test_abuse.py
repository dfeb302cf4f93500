"""Abuse of `watchdog-agent serve` (one agent process for the module, on the real engine,
with a bearer token, a small connection cap and few streams): odd bytes and path
traversal in every route's ``{id}``, bad values for every documented query parameter,
oversized and malformed heads and bodies, and 500 slow clients at once. Every answer is
a clean 4xx (the JSON error shape, no traceback, never the token), the agent's log holds
no traceback, error line or secret, and a normal client is answered all through.

Extends tests/server/test_server_hardening.py (parse errors and credentials, one kind of
slow client, over fixture trees) and test_server_security.py (query limits, auth on
every route). Also: every credential check goes through a constant-time compare of
equal-length values (a spy on hmac.compare_digest, no timing).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest
from aiohttp import encode_basic_auth
from helpers.dockercli import IMAGE, DockerCLI
from helpers.privateengine import poll
from helpers.rawhttp import Answer, request
from helpers.serveproc import ServeProcess
from helpers.serving import serving, tree_settings, until
from helpers.slowclients import HOGS, Slow, Window, drip, silent, stream_hog

from watchdog_agent.server.connections import BACKLOG
from watchdog_agent.server.openapi import document

TOKEN = "tok-" + secrets.token_hex(16)
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CAP = 200  # --max-connections: under the 500, and over 3 accept batches (BACKLOG)
STREAMS = 8  # --max-streams
HEADER_TIMEOUT = 1.0
DOC = document()
ID_PATHS = [p for p in DOC["paths"] if "{id}" in p]


@dataclass
class Served:
    proc: ServeProcess
    port: int
    cid: str  # a running container of ours

    def new_log(self, since: int) -> list[dict[str, Any]]:
        return list(self.proc.logs[since:])

    def sockets(self) -> int:
        return sum(
            1
            for fd in Path(f"/proc/{self.proc.proc.pid}/fd").iterdir()
            if _readlink(fd).startswith("socket:")
        )


def _readlink(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""


@pytest.fixture(scope="module")
def served(
    docker_cli: DockerCLI, docker_host: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("abuse")
    tokens = root / "tokens"
    tokens.write_text(TOKEN + "\n")
    tokens.chmod(0o600)
    cid = docker_cli.start(IMAGE, "sh", "-c", "echo hello; exec sleep 300")
    proc = ServeProcess(
        "--auth-token-file", str(tokens), "--journal", str(root / "j.db"),
        "--interval", "0.5", "--max-connections", str(CAP), "--max-streams", str(STREAMS),
        "--header-timeout", str(HEADER_TIMEOUT), docker_host=docker_host,
    )  # fmt: skip
    try:
        port = int(proc.wait_url().rsplit(":", 1)[1])

        def listed() -> bool:
            answer = request(port, "/api/v1/containers", AUTH)
            return answer.status == 200 and cid in answer.body.decode()

        poll(listed, 30, "the agent to list our container")
        yield Served(proc, port, cid)
    finally:
        proc.stop()
        docker_cli.rm(cid)


def assert_clean(answer: Answer, statuses: set[int], what: object) -> dict[str, Any]:
    """A 4xx in ``statuses`` with the usual error shape, nothing of a traceback or the
    token in it; the body."""
    assert answer.status in statuses, (what, answer.status, answer.body[:300])
    assert answer.json_like(), (what, answer.headers)
    body: dict[str, Any] = json.loads(answer.body)
    assert set(body) == {"error", "detail"}, (what, body)
    assert b"Traceback" not in answer.raw and TOKEN.encode() not in answer.raw, what
    assert answer.headers.get("server") == "watchdog-agent", what
    return body


def assert_log_clean(entries: list[dict[str, Any]]) -> None:
    text = json.dumps(entries)
    assert TOKEN not in text
    assert "Traceback" not in text
    bad = [e for e in entries if e.get("level") in ("error", "critical", "exception")]
    assert not bad, bad[:5]


# -- odd bytes and traversal in {id} --------------------------------------------------------

# (what, the raw bytes put where {id} goes); each is a 400
BAD_IDS: list[tuple[str, bytes]] = [
    ("%00", b"%00"),
    ("%00 inside", b"abc%00def"),
    ("encoded ../", b"%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
    ("encoded slash", b"..%2f..%2f..%2fetc%2fpasswd"),
    ("encoded ..", b"%2e%2e"),
    ("overlong UTF-8 ../", b"%c0%ae%c0%ae%c0%af"),
    ("overlong NUL", b"%c0%80"),
    ("invalid UTF-8", b"%ff%fe%fd"),
    ("ANSI escape", b"%1b%5b31mred"),
    ("CR LF injection", b"x%0d%0aX-Injected:%20yes"),
    ("control characters", b"%01%02%7f"),
    ("space", b"a%20b"),
    ("RTL override", b"%e2%80%aeabc"),
    ("non-ASCII name", b"%c3%a9t%c3%a9"),
    ("leading dash", b"-rf"),
    ("5 kB id", b"a" * 5000),
    ("10 kB id", b"a" * 10_000),  # beyond the request line's 8190 bytes: unparsable
    ("raw NUL", b"a\x00b"),  # not even HTTP: unparsable
    ("raw control character", b"a\x01b"),
    ("raw overlong UTF-8", b"\xc0\xae\xc0\xae"),
]
# raw traversal is resolved by the URL parser to another path: 404 there
TRAVERSAL: list[tuple[str, bytes]] = [
    ("../", b"../../../../etc/passwd"),
    ("./", b"./x"),
    ("..", b".."),
]


@pytest.mark.engine
def test_odd_bytes_and_traversal_in_every_id_are_refused_cleanly(served: Served) -> None:
    start = len(served.proc.logs)
    seen: Counter[int] = Counter()
    for path in ID_PATHS:
        for what, ident in BAD_IDS:
            target = path.encode().replace(b"{id}", ident)
            answer = request(served.port, target, AUTH)
            body = assert_clean(answer, {400}, (path, what))
            seen[answer.status] += 1
            assert b"root:" not in answer.body  # nothing was read from the host
            assert len(answer.raw) < 2048, (path, what)  # a long id is not echoed whole
            assert body["error"] == "bad request"
        for what, ident in TRAVERSAL:
            target = path.encode().replace(b"{id}", ident)
            answer = request(served.port, target, AUTH)
            assert_clean(answer, {400, 404}, (path, what))
            seen[answer.status] += 1
            assert b"root:" not in answer.body
        # the same route with our container's id answers (the route is the one we meant)
        # (a running container has no post-mortem: that route's own 404 says so)
        good = request(served.port, path.replace("{id}", served.cid) + "?tail=1", AUTH)
        assert good.status == (404 if path.endswith("postmortem") else 200), path
        assert b"bad request" not in good.body, (path, good.body[:300])
    assert seen[400] >= len(ID_PATHS) * len(BAD_IDS)
    assert_log_clean(served.new_log(start))


# -- bad values for every documented query parameter ------------------------------------------

FLAG_BAD = ["maybe", "2", "-1", "%00", "1%00", "%ef%bc%91", "y%0d%0aX:1", "%c0%b1"]
BY_NAME = {
    "history": ["0", "-1", "abc", "1.5", "1e3", "%c2%b2", "%d9%a3", "0x10", "%00"],
    "tail": ["-1", "ten", "1.5", "%c2%b2", "%d9%a3", "%00", "all%00"],
    "format": ["xml", "json%00", "TEXT%0a"],
    "since": [
        "yesterday",
        "%00",
        "nan",
        "inf",
        "1e400",
        "-1",
        "9" * 30,
        "2026-13-45",
        "9" * 100,
        "1h" * 40,
        "%c2%b2h",
        "10x",
    ],
    "until": ["tomorrow", "%00", "NaN", "-inf", "99999999999999999999", "2026-02-30T25"],
    "filter": [
        "=",
        "nokey",
        "bogus=1",
        "status=bogus",
        "%00=%00",
        "label",
        "=x",
        "exited=abc",
        "exited=%c2%b2",
        "exited=--5",
        "exited=" + "9" * 30,
    ],
}


def bad_values(param: dict[str, Any]) -> list[str]:
    """Bad values for a documented parameter: by its name, else by its schema."""
    if param["name"] in BY_NAME:
        return BY_NAME[param["name"]]
    enum = param["schema"].get("enum")
    assert enum is not None, f"no bad values for {param['name']}: add some"
    return FLAG_BAD


def query_cases(cid: str) -> list[tuple[str, str, str]]:
    """(documented path, parameter, url) for every bad value of every query parameter."""
    out = []
    for path, item in DOC["paths"].items():
        for param in item["get"].get("parameters", []):
            if param["in"] != "query":
                continue
            for value in bad_values(param):
                base = path.replace("{id}", cid)
                out.append((path, param["name"], f"{base}?{param['name']}={value}"))
    return out


@pytest.mark.engine
def test_bad_values_of_every_documented_query_parameter_answer_400(served: Served) -> None:
    start = len(served.proc.logs)
    cases = query_cases(served.cid)
    names = {name for _, name, _ in cases}
    assert {"all", "filter", "stream", "history", "tail", "since", "format"} <= names
    failed = []
    for _path, _name, url in cases:
        answer = request(served.port, url, AUTH, timeout=10)
        try:
            body = assert_clean(answer, {400}, url)
            assert body["error"] == "bad request", url
        except AssertionError as exc:
            failed.append(str(exc)[:200])
    assert not failed, "\n".join(failed)  # every case named, not only the first
    assert_log_clean(served.new_log(start))


# -- oversized and malformed heads and bodies --------------------------------------------------


@pytest.mark.engine
def test_oversized_and_malformed_heads_and_bodies_are_refused_cleanly(served: Served) -> None:
    start = len(served.proc.logs)
    port = served.port
    refused = {
        "129 headers": {f"X-H{n}": "v" for n in range(129)},
        "a 9000-byte header value": {"X-Big": "v" * 9000},
        "a 9000-byte header name": {"X" * 9000: "v"},
        "Content-Length: -1": {"Content-Length": "-1"},
        "Content-Length: abc": {"Content-Length": "abc"},
        "Content-Length: 2**64": {"Content-Length": str(2**64)},
        "two Content-Lengths": {"Content-Length": "1, 2"},
        "chunked and a length": {"Transfer-Encoding": "chunked", "Content-Length": "3"},
        "unknown transfer coding": {"Transfer-Encoding": "gzip"},
    }
    for what, headers in refused.items():
        answer = request(port, "/api/v1/containers", {**AUTH, **headers})
        assert_clean(answer, {400, 413, 431, 501}, what)
    # a head of 127 headers of 8000 bytes (1 MB, each under the limits) is read, bounded
    big = {f"X-H{n}": "v" * 8000 for n in range(120)}
    assert request(port, "/healthz", {**AUTH, **big}).status == 200
    # a body, sent or only announced, on a read-only API: never read, never a 5xx
    for method in ("GET", "POST", "PUT", "DELETE"):
        for length, sent in ((1 << 20, b"x" * (1 << 20)), (1 << 40, b"x" * 1000)):
            headers = {**AUTH, "Content-Length": str(length)}
            answer = request(port, "/api/v1/containers", headers, method=method, extra=sent)
            if method == "GET":
                assert answer.status == 200, (method, length, answer.body[:200])
            else:
                assert_clean(answer, {405}, (method, length))
                assert answer.headers.get("allow") == "GET", answer.headers
        chunked = {**AUTH, "Transfer-Encoding": "chunked"}
        answer = request(port, "/healthz", chunked, method=method, extra=b"zz\r\nxx\r\n")
        assert answer.status < 500, (method, answer.body[:200])
    # the request line: a 10 kB path, an unknown method, a bad version
    for raw_target, method in ((b"/" + b"a" * 10_000, "GET"), (b"/healthz", "G\x00T")):
        assert_clean(request(port, raw_target, AUTH, method=method), {400}, method)
    assert_log_clean(served.new_log(start))
    assert request(port, "/healthz", AUTH).status == 200


# -- 500 slow clients ---------------------------------------------------------------------------

SLOW = 500
HOLD = 60.0  # seconds the slow clients keep at it at most (the normal client ends it)
ROUNDS = 6  # the normal client's rounds (/healthz, /api/v1/containers) during the flood
MIN_FLOOD = 3.0  # seconds the flood lasts at least: the header deadline (1 s) cuts many


@pytest.mark.engine
async def test_500_slow_clients_leave_the_agent_answering_others(served: Served) -> None:
    start = len(served.proc.logs)
    loop = asyncio.get_running_loop()
    end = Window(HOLD)
    slow = Slow(other=Counter())
    # the stream hogs first, each until it has its stream or its 429; then the rest
    auth = AUTH["Authorization"]
    hogs = [asyncio.create_task(stream_hog(served.port, end, slow, auth)) for _ in range(HOGS)]
    await until(lambda: slow.streams + slow.too_many + slow.cut >= HOGS, 10)
    drips = [drip(served.port, end, slow) for _ in range(300)]
    quiet = [silent(served.port, end, slow) for _ in range(SLOW - 300 - HOGS)]
    flood = asyncio.gather(*hogs, *drips, *quiet)
    answers: list[tuple[str, int]] = []
    sockets: list[int] = []
    base = f"http://127.0.0.1:{served.port}"
    connector = aiohttp.TCPConnector(force_close=True)  # a new connection each time
    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:
        await asyncio.sleep(0.5)  # the flood is in
        started = loop.time()
        while len(answers) < 2 * ROUNDS or loop.time() - started < MIN_FLOOD:
            assert end.left() > 1, "the normal client's rounds took too long"
            for path in ("/healthz", "/api/v1/containers"):
                async with client.get(path, headers=AUTH) as resp:
                    body = await resp.read()
                    answers.append((path, resp.status))
                    if path == "/api/v1/containers" and resp.status == 200:
                        assert served.cid in body.decode()
            sockets.append(await asyncio.to_thread(served.sockets))
            await asyncio.sleep(0.1)
        end.close()
        await flood
    assert slow.other == Counter(), slow.other
    assert len(answers) >= 2 * ROUNDS, answers
    assert {status for _, status in answers} == {200}, Counter(answers)
    assert slow.streams == STREAMS and slow.too_many == HOGS - STREAMS, slow
    assert slow.connected > SLOW and slow.cut > SLOW // 2, slow  # cut, and came back
    # bounded: the cap, one accept batch over it, the listener and the agent's own sockets
    assert max(sockets) <= CAP + BACKLOG + 16, sockets
    log = served.new_log(start)
    # (what was shed is logged as counts 10 s after the first: test_server_hardening
    # checks those lines; here the clients' own tallies show the cuts)
    assert_log_clean(log)


# -- constant-time credential checks ------------------------------------------------------------


async def test_every_credential_check_is_a_constant_time_compare_of_equal_lengths(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """No timing: a spy on hmac.compare_digest records each compare. Every bearer check,
    right or wrong, short, long or empty, compares every configured token, both sides
    of equal length (a wrong token's length does not show either); a basic-auth check
    goes through bcrypt.checkpw (constant time by design), for unknown users too."""
    tokens = [TOKEN, "other-" + secrets.token_hex(20)]
    (tmp_path / "tokens").write_text("\n".join(tokens) + "\n")
    password = "pw-" + secrets.token_hex(8)
    digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
    (tmp_path / "users").write_text(f"alice:{digest}\n")
    compares: list[tuple[int, int]] = []
    real_compare = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compares.append((len(a), len(b)))
        return real_compare(a, b)

    checks: list[bytes] = []
    real_checkpw = bcrypt.checkpw

    def checkpw(pw: bytes, hashed: bytes) -> bool:
        if pw != b"probe":  # the start-up cost measurement
            checks.append(hashed)
        return real_checkpw(pw, hashed)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    settings = tree_settings(
        auth_token_file=str(tmp_path / "tokens"), basic_auth_file=str(tmp_path / "users")
    )
    bearers = {
        "right": (TOKEN, 200),
        "the second token": (tokens[1], 200),
        "wrong, same length": (TOKEN[:-1] + ("0" if TOKEN[-1] != "0" else "1"), 401),
        "wrong, shorter": (TOKEN[:5], 401),
        "wrong, much longer": (TOKEN * 50, 401),
        "empty": ("", 401),
        "a prefix of the right one": (TOKEN[: len(TOKEN) // 2], 401),
    }
    async with serving(settings, ready=False) as client:
        for what, (token, status) in bearers.items():
            compares.clear()
            async with client.get("/healthz", headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == status, what
            assert len(compares) == len(tokens), (what, compares)  # every token, always
            assert all(a == b for a, b in compares), (what, compares)  # equal lengths
            assert len({a for a, _ in compares}) == 1, what  # the same length whatever sent
        for user, pw, status in (("alice", password, 200), ("alice", "nope", 401),
                                 ("mallory", password, 401)):  # fmt: skip
            checks.clear()
            headers = {"Authorization": encode_basic_auth(user, pw)}
            async with client.get("/healthz", headers=headers) as r:
                assert r.status == status, user
            assert checks == [digest.encode()], user  # bcrypt ran, for unknown users too
        # a remembered basic check is found by an HMAC under a per-process key: no
        # password is compared, and no timing tells anything of the key
        checks.clear()
        headers = {"Authorization": encode_basic_auth("alice", password)}
        async with client.get("/healthz", headers=headers) as r:
            assert r.status == 200
        assert checks == []
