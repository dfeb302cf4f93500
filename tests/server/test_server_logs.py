"""Logs: the pure frame decoder (split headers, split lines, type 3, any chunking), the
query parameters, and /api/v1/containers/{id}/logs against the real engine (TTY and not,
stdout and stderr apart, timestamps, tail, text, a follow that ends with its container)."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serving import check_schema, json_lines, response_schema, serving, until
from hypothesis import given
from hypothesis import strategies as st

from watchdog_agent.config import Settings
from watchdog_agent.docker.logframes import (
    STDERR,
    STDOUT,
    SYSTEM,
    LogDecoder,
    frame,
    split_timestamp,
)
from watchdog_agent.errors import ParseError, UsageError
from watchdog_agent.model import LogLine
from watchdog_agent.server import routes_logs
from watchdog_agent.server.keys import STREAMS
from watchdog_agent.server.routes_logs import MAX_TAIL, parse_query

TS = "2026-08-23T10:00:00.123000000Z"
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z")


def decode(data: bytes, cuts: list[int], multiplexed: bool = True, **kw: Any) -> list[LogLine]:
    decoder = LogDecoder(multiplexed, **kw)
    out: list[LogLine] = []
    start = 0
    for cut in sorted(cuts):
        out += decoder.feed(data[start:cut])
        start = cut
    return out + decoder.feed(data[start:]) + decoder.close()


# -- the decoder --------------------------------------------------------------------------


def test_a_header_split_byte_by_byte() -> None:
    data = frame(1, b"hello\n") + frame(2, b"oops\n")
    assert decode(data, list(range(1, len(data)))) == [
        LogLine(STDOUT, None, "hello"),
        LogLine(STDERR, None, "oops"),
    ]


def test_a_line_spanning_frames_keeps_each_stream_apart() -> None:
    data = frame(1, b"par") + frame(2, b"err\n") + frame(1, b"tial\nnext") + frame(0, b"!\n")
    assert decode(data, []) == [
        LogLine(STDERR, None, "err"),
        LogLine(STDOUT, None, "partial"),
        LogLine(STDOUT, None, "next!"),
    ]


def test_type_3_is_a_system_line_and_a_partial_line_ends_with_the_stream() -> None:
    data = frame(1, b"no newline") + frame(3, b"Error grabbing logs: boom\n")
    assert decode(data, [3, 9]) == [
        LogLine(SYSTEM, None, "Error grabbing logs: boom"),
        LogLine(STDOUT, None, "no newline"),
    ]


def test_a_stream_cut_inside_a_frame_says_so() -> None:
    data = frame(1, b"whole\n") + frame(1, b"cut short\n")[:-4]
    assert decode(data, [])[-2:] == [
        LogLine(STDOUT, None, "cut sh"),
        LogLine(SYSTEM, None, "log stream ended inside a frame"),
    ]


def test_a_bad_header_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        LogDecoder(True).feed(b"hello world\n")


def test_timestamps_go_to_time_and_a_continuation_drops_its_own() -> None:
    later = "2026-08-23T10:00:01.000000000Z"
    data = frame(1, f"{TS} a long ".encode()) + frame(1, f"{later} line\n".encode())
    assert decode(data, [10, 40], timestamps=True) == [LogLine(STDOUT, TS, "a long line")]
    assert split_timestamp(b"not a time x") == (None, b"not a time x")


def test_raw_tty_stream_lines_lose_their_carriage_returns() -> None:
    data = f"{TS} one\r\n{TS} two\r\n\r\nlast".encode()
    assert decode(data, [5, 33], multiplexed=False, timestamps=True) == [
        LogLine(STDOUT, TS, "one"),
        LogLine(STDOUT, TS, "two"),
        LogLine(STDOUT, None, ""),
        LogLine(STDOUT, None, "last"),
    ]


def test_a_very_long_line_is_cut_at_max_line() -> None:
    data = frame(1, b"x" * 25 + b"\n")
    assert [x.line for x in decode(data, [12], max_line=10)] == ["x" * 10, "x" * 10, "x" * 5]


payloads = st.lists(
    st.tuples(
        st.sampled_from([0, 1, 2, 3]),
        st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"")),
        st.booleans(),
    ),
    max_size=12,
)


@given(payloads, st.lists(st.integers(0, 600), max_size=20), st.booleans())
def test_any_chunking_decodes_like_the_whole_stream(
    frames: list[tuple[int, bytes, bool]], cuts: list[int], timestamps: bool
) -> None:
    data = b"".join(
        frame(kind, (f"{TS} ".encode() if stamp else b"") + body) for kind, body, stamp in frames
    )
    cuts = [c for c in cuts if c <= len(data)]
    whole = decode(data, [], timestamps=timestamps, max_line=16)
    assert decode(data, cuts, timestamps=timestamps, max_line=16) == whole
    raw = decode(data, [], multiplexed=False, timestamps=timestamps, max_line=16)
    assert decode(data, cuts, multiplexed=False, timestamps=timestamps, max_line=16) == raw


# -- parameters ---------------------------------------------------------------------------


def test_query_defaults_and_caps() -> None:
    q = parse_query({})
    assert (q.tail, q.stdout, q.stderr, q.follow, q.text) == (MAX_TAIL, True, True, False, False)
    assert parse_query({"tail": "99999"}).tail == MAX_TAIL
    assert parse_query({"tail": "0", "stdout": "0"}).docker_params()["tail"] == 0
    q = parse_query({"since": "100", "until": "200.5"})
    assert q.docker_params()["since"] == "100.000000000"
    assert q.docker_params()["until"] == "200.500000000"
    for bad in ({"tail": "-1"}, {"format": "xml"}, {"stdout": "0", "stderr": "0"},
                {"since": "200", "until": "100"}, {"follow": "maybe"}):  # fmt: skip
        with pytest.raises(UsageError):
            parse_query(bad)


# -- against the engine -------------------------------------------------------------------


def _settings(docker_host: str, tmp_path: Path) -> Settings:
    return Settings(docker_host=docker_host, interval=0.2, journal=str(tmp_path / "events.db"))


async def _exited(docker_cli: DockerCLI, *args: str) -> str:
    cid = await asyncio.to_thread(docker_cli.start, *args)
    await asyncio.to_thread(docker_cli.run, "wait", cid)
    return cid


async def _lines(client: Any, url: str) -> list[dict[str, Any]]:
    async with client.get(url) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("application/x-ndjson")
        text = await resp.text()
    schema = response_schema("/api/v1/containers/{id}/logs", 200, "application/x-ndjson")
    docs = [json.loads(line) for line in text.splitlines()]
    for doc in docs:
        check_schema(doc, schema)
    return docs


@pytest.mark.engine
async def test_logs_of_tty_and_plain_containers(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    script = "echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo out2; printf tail"
    plain = await _exited(docker_cli, IMAGE, "sh", "-c", script)
    tty = await _exited(docker_cli, "-t", IMAGE, "sh", "-c", script)
    counted = await _exited(docker_cli, IMAGE, "seq", "1", "50")
    async with serving(_settings(docker_host, tmp_path)) as client:
        base = "/api/v1/containers"
        got = await _lines(client, f"{base}/{plain[:12]}/logs")
        assert [(d["stream"], d["line"], d["time"]) for d in got] == [
            ("stdout", "out1", None), ("stderr", "err1", None),
            ("stdout", "out2", None), ("stdout", "tail", None),
        ]  # fmt: skip
        got = await _lines(client, f"{base}/{tty}/logs")
        assert {d["stream"] for d in got} == {"stdout"}  # a TTY merges the two
        assert sorted(d["line"] for d in got) == ["err1", "out1", "out2", "tail"]
        got = await _lines(client, f"{base}/{plain}/logs?stdout=0&timestamps=1")
        assert [d["line"] for d in got] == ["err1"] and RFC3339.fullmatch(got[0]["time"])
        got = await _lines(client, f"{base}/{counted}/logs?tail=3")
        assert [d["line"] for d in got] == ["48", "49", "50"]
        assert len(await _lines(client, f"{base}/{counted}/logs?tail=all")) == 50
        assert await _lines(client, f"{base}/{counted}/logs?tail=0") == []
        async with client.get(f"{base}/{plain}/logs?format=text&timestamps=1") as resp:
            assert resp.headers["Content-Type"].startswith("text/plain")
            text = (await resp.text()).splitlines()
        assert [t.split(" ", 1)[1] for t in text] == ["out1", "err1", "out2", "tail"]
        assert all(RFC3339.fullmatch(t.split(" ", 1)[0]) for t in text)
        for url, status in ((f"{base}/{plain}/logs?tail=x", 400),
                            (f"{base}/nope-{unique_name()}/logs", 404)):  # fmt: skip
            async with client.get(url) as resp:
                assert resp.status == status, await resp.text()


@pytest.mark.engine
async def test_a_follow_ends_when_its_client_goes_or_its_container_stops(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes_logs, "KEEPALIVE", 0.2)
    name = unique_name("logs-follow")
    script = "echo ready; while true; do sleep 0.2; done"
    cid = await asyncio.to_thread(docker_cli.start, IMAGE, "sh", "-c", script, name=name)
    url = f"/api/v1/containers/{name}/logs?follow=1"
    async with serving(_settings(docker_host, tmp_path)) as client:
        streams = client.app[STREAMS]
        async with client.get(url) as gone:
            first = await json_lines(gone, 1)
            assert first == [{"stream": "stdout", "time": None, "line": "ready"}]
            assert streams.open == 1
            gone.close()  # the client goes away: the idle follow notices on its next tick
        await until(lambda: streams.open == 0)
        async with client.get(url) as resp:
            assert resp.status == 200
            await json_lines(resp, 1)
            await asyncio.to_thread(docker_cli.run, "kill", cid)
            rest = await asyncio.wait_for(resp.content.read(), 10)  # the stream ends
        assert rest == b"" and streams.open == 0
