"""The events tap against a fake Docker for faults a real daemon cannot be made to produce:
a malformed line among good ones, and the stream cut in the middle of a JSON line.

The fake answers ``/_ping`` (``Api-Version: 1.41``) and ``/v1.41/events`` on a unix
socket like the daemon does: chunked JSON lines; ``since``/``until`` replay its buffer
(both bounds inclusive, and a request with ``until`` ends after the replay); an
unbounded request then plays the test's script for that connection and stays open.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web
from helpers.agentcli import AGENT
from structlog.testing import capture_logs

from watchdog_agent.docker.client import DockerClient
from watchdog_agent.events.tap import Item, Tap
from watchdog_agent.events.timeparse import to_docker_since
from watchdog_agent.model import Event, Gap

T0 = 1_795_000_000_000_000_000  # unix nanoseconds
ID = "ede54ee1afda366ab42f824e8a5ffd195155d853ceaec74a927f249ea270c743"
CUT = b""  # in a script: close the connection here, without ending the chunked body
NS = 1_000_000_000


def line(n: int, action: str = "start") -> bytes:
    """Event n (n ms after T0) as the daemon writes it to an API 1.41 client."""
    return line_at(T0 + n * 1_000_000, action, f"c{n}")


def line_at(t: int, action: str, name: str) -> bytes:
    msg = {
        "status": action,
        "id": ID,
        "from": "busybox",
        "Type": "container",
        "Action": action,
        "Actor": {"ID": ID, "Attributes": {"image": "busybox", "name": name}},
        "scope": "local",
        "time": t // NS,
        "timeNano": t,
    }
    return json.dumps(msg, separators=(",", ":")).encode() + b"\n"


def nano(n: int) -> int:
    return T0 + n * 1_000_000


def _parse_since(value: str | None) -> int | None:
    if value is None:
        return None
    seconds, _, frac = value.partition(".")
    return int(seconds) * NS + int(frac.ljust(9, "0")[:9] or 0)


@dataclass(frozen=True)
class Publish:
    """In a script: an event happens now; it goes to the buffer, not to this connection."""

    action: str


Step = bytes | Publish


@dataclass
class FakeDocker:
    """A scripted /events endpoint. ``buffer`` is what the daemon holds for replays;
    ``scripts[i]`` is played on the i-th unbounded connection (``CUT`` drops it)."""

    buffer: list[bytes]
    scripts: list[list[Step]]
    requests: list[dict[str, str]] = field(default_factory=list)
    connections: int = 0
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(text="OK", headers={"Api-Version": "1.41"})

    async def events(self, request: web.Request) -> web.StreamResponse:
        query = dict(request.query)
        self.requests.append(query)
        since, until = _parse_since(query.get("since")), _parse_since(query.get("until"))
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        if since is not None or until is not None:
            for raw in self.buffer:
                t = json.loads(raw)["timeNano"]
                if (since is None or t >= since) and (until is None or t <= until):
                    await resp.write(raw)
        if until is not None:
            await resp.write_eof()
            return resp
        script = self.scripts[self.connections] if self.connections < len(self.scripts) else []
        self.connections += 1
        for chunk in script:
            if isinstance(chunk, Publish):
                self.buffer.append(line_at(time.time_ns(), chunk.action, "published"))
                continue
            if chunk == CUT:
                assert request.transport is not None
                request.transport.close()  # mid-body: no terminating chunk
                return resp
            await resp.write(chunk)
        await self._stop.wait()
        return resp

    def stop(self) -> None:
        self._stop.set()


class Fakes:
    """Starts FakeDocker servers on one socket path (one at a time) and stops them all."""

    def __init__(self, socket_path: str) -> None:
        self.socket = socket_path
        self._running: list[tuple[web.AppRunner, FakeDocker]] = []

    async def start(self, buffer: Sequence[bytes], scripts: Sequence[Sequence[Step]]) -> FakeDocker:
        fake = FakeDocker(list(buffer), [list(s) for s in scripts])
        app = web.Application()
        app.router.add_get("/_ping", fake.ping)
        app.router.add_get("/v1.41/events", fake.events)
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await web.UnixSite(runner, self.socket).start()
        self._running.append((runner, fake))
        return fake

    async def close(self) -> None:
        for runner, fake in self._running:
            fake.stop()
            await runner.cleanup()


@pytest.fixture
async def fakes(tmp_path: Path) -> AsyncIterator[Fakes]:
    f = Fakes(str(tmp_path / "d.sock"))
    yield f
    await f.close()


async def wait_for(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not met within the timeout")
        await asyncio.sleep(0.01)


async def run_tap(
    socket_path: str,
    until: Callable[[list[Item]], bool],
    settle: Callable[[], bool] | None = None,
) -> tuple[Tap, list[Item]]:
    """Run a Tap on the fake until ``until(collected)`` (or, with ``settle``, until that
    holds and 0.3 s more went by); returns the tap and what it sank."""
    collected: list[Item] = []

    async def sink(items: Sequence[Item]) -> None:
        collected.extend(items)

    async with DockerClient(f"unix://{socket_path}") as client:
        tap = Tap(client, sink)
        task = asyncio.create_task(tap.run())
        try:
            if settle is not None:
                await wait_for(lambda: settle() or task.done())
                await asyncio.sleep(0.3)
            else:
                await wait_for(lambda: until(collected) or task.done())
            if task.done():
                task.result()  # raises what ended it
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return tap, collected


def times(items: Sequence[Item]) -> list[int]:
    return [i.time_nano for i in items if isinstance(i, Event)]


async def test_malformed_line_is_skipped_and_counted(
    fakes: Fakes,
) -> None:
    good = [line(1), line(2, "die"), line(3, "destroy")]
    script = [good[0], b'{"Type":"container","Action":\n', good[1], b"not json at all\n", good[2]]
    fake = await fakes.start(good, [script])

    with capture_logs() as logs:
        tap, got = await run_tap(fakes.socket, lambda c: len(c) >= 3)

    assert times(got) == [nano(1), nano(2), nano(3)]
    assert [e.action for e in got if isinstance(e, Event)] == ["start", "die", "destroy"]
    assert tap.skipped_lines == 2
    warned = [x for x in logs if x["event"] == "skipping a malformed event line"]
    assert len(warned) == 2 and all(x["log_level"] == "warning" for x in warned)
    assert tap.received == 3
    assert fake.connections == 1  # a bad line is not a reason to reconnect


async def test_cut_mid_line_reconnects_from_last_good_event(
    fakes: Fakes,
) -> None:
    e3 = line(3, "die")
    # What the daemon holds when the tap comes back: e1..e5 (e4, e5 came while it was away).
    buffer = [line(1), line(2), e3, line(4, "destroy"), line(5, "create")]
    scripts = [
        [line(1), line(2), e3[: len(e3) // 2], CUT],  # cut in the middle of e3's JSON
        [line(6, "start")],  # after the replay, one more live event
    ]
    fake = await fakes.start(buffer, scripts)

    tap, got = await run_tap(fakes.socket, lambda c: len(times(c)) >= 6)
    await asyncio.sleep(0.1)  # anything extra (a duplicate) would arrive by now

    assert times(got) == [nano(n) for n in range(1, 7)], "every event once, in order"
    assert not [g for g in got if isinstance(g, Gap)], "continuity was provable: no gap"
    assert tap.skipped_lines in (0, 1)  # the half line: dropped with the stream or skipped
    assert tap.duplicates >= 1  # e2 came again (since is inclusive) and was dropped
    assert tap.reconnects >= 1
    unbounded = [r for r in fake.requests if "until" not in r]
    assert len(unbounded) == 2
    assert "since" not in unbounded[0]
    assert unbounded[1]["since"] == to_docker_since(nano(2)), "resumed from the last good event"


async def test_cli_json_output_survives_a_malformed_line(
    fakes: Fakes,
) -> None:
    good = [line(1), line(2, "die")]
    await fakes.start(good, [[good[0], b"{broken\n", good[1]]])
    out, err = await run_cli(fakes.socket, expect_lines=2)
    events = [json.loads(x) for x in out if x.startswith("{")]
    assert [e["timeNano"] for e in events] == [nano(1), nano(2)]
    assert [e["Action"] for e in events] == ["start", "die"]
    assert "malformed" in (err + "\n".join(out))


async def run_cli(socket_path: str, expect_lines: int) -> tuple[list[str], str]:
    """``watchdog-agent events --format json`` on the fake: stdout lines once it printed
    ``expect_lines`` JSON lines (or 10 s passed), and stderr; stopped with SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        AGENT, "events", "--format", "json", "--docker-host", f"unix://{socket_path}",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[str] = []

    async def read() -> None:
        assert proc.stdout is not None
        while sum(x.startswith("{") for x in lines) < expect_lines:
            raw = await proc.stdout.readline()
            if not raw:
                return
            lines.append(raw.decode().rstrip("\n"))

    try:
        await asyncio.wait_for(read(), 10)
    finally:
        proc.terminate()
        rest, err = await asyncio.wait_for(proc.communicate(), 10)
    lines += rest.decode().splitlines()
    assert proc.returncode == 0, f"exit {proc.returncode}: {err.decode()}"
    return lines, err.decode()


async def test_bug_log_lines_on_stdout(fakes: Fakes) -> None:
    """`events --format json` must print only events on stdout: its warnings (here the
    malformed line; in real life every reconnect) belong on stderr.

    structlog is never configured for the events command, so its default PrintLogger
    writes ``2026-... [warning  ] skipping a malformed event line ...`` to stdout, in the
    middle of the JSON a consumer parses."""
    good = [line(1), line(2, "die")]
    await fakes.start(good, [[good[0], b"{broken\n", good[1]]])
    out, _ = await run_cli(fakes.socket, expect_lines=2)
    not_json = [x for x in out if not x.startswith("{")]
    assert not not_json, f"non-event lines on stdout: {not_json}"


async def test_bug_disconnect_before_first_event_loses_events_silently(fakes: Fakes) -> None:
    """A stream that breaks before its first event (a quiet host whose daemon restarts, a
    proxy cutting an idle stream) must not lose what happens meanwhile without a word.

    ``Tap`` only resumes (``since``) and only checks continuity once it has seen an event
    (``last_nano``); before that it reconnects with no ``since`` and records no Gap, so an
    event published while it reconnects is lost and nothing says so."""
    # connection 1 breaks at once, an event published as it does is not delivered on it
    fake = await fakes.start([], [[Publish("create"), CUT], []])
    _, got = await run_tap(fakes.socket, lambda c: False, settle=lambda: fake.connections >= 2)
    published = [json.loads(x)["timeNano"] for x in fake.buffer]
    assert published, "the fake published the event"
    assert times(got) == published or any(isinstance(g, Gap) for g in got), (
        f"event lost without a gap; requests: {fake.requests}"
    )
