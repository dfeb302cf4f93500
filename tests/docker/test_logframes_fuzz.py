"""The log frame decoder against a straightforward re-implementation, on random frame
streams split at random chunk boundaries (and cut short at random points), with and
without timestamps, multiplexed and raw; random bytes decode or raise ParseError."""

from __future__ import annotations

import contextlib
import re

from helpers.fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.docker.logframes import Demuxer, LogDecoder, frame
from watchdog_agent.errors import ParseError
from watchdog_agent.model import LogLine

STREAM = {0: "stdout", 1: "stdout", 2: "stderr", 3: "system"}
STAMPS = ["2026-08-23T10:00:00.123456789Z", "2026-08-23T10:00:01Z", "2026-08-23T12:00:00+02:00"]
STAMP = re.compile(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d) ")

payload_bytes = st.lists(
    st.sampled_from([b"a", b"xyz", b"\n", b"\r\n", b"\xff", "é".encode(), b" ", b"\x00"]),
    max_size=12,
).map(b"".join)


@st.composite
def messages(draw: st.DrawFn) -> list[tuple[int, bytes]]:
    """(frame type, payload); a payload may start with a timestamp, as Docker writes it."""
    out = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from([0, 1, 2, 3]))
        stamp = draw(st.none() | st.sampled_from(STAMPS))
        body = draw(payload_bytes)
        out.append((kind, (f"{stamp} ".encode() if stamp else b"") + body))
    return out


class Reference:
    """What the module docstring promises, byte by byte: lines per stream, a line's time
    from its first message, continuation timestamps dropped, lines cut every
    ``max_line`` bytes as received (the first piece gives the time), text decoded with
    replacement and a trailing ``\\r`` dropped."""

    def __init__(self, timestamps: bool, max_line: int) -> None:
        self.timestamps, self.max_line = timestamps, max_line
        self.line: dict[str, bytearray] = {}  # the line in progress, as received
        self.time: dict[str, str | None] = {}
        self.started: dict[str, bool] = {}  # a piece of it went out already
        self.out: list[LogLine] = []

    def message(self, stream: str, data: bytes, starts_message: bool = True) -> None:
        if not data:  # an empty frame carries nothing
            return
        buf = self.line.setdefault(stream, bytearray())
        if starts_message and self.timestamps and (buf or self.started.get(stream)):
            m = STAMP.match(data)
            data = data[m.end() :] if m else data
        for byte in data:
            if byte == 0x0A:
                self.finish(stream)
                continue
            buf.append(byte)
            if len(buf) > self.max_line:
                self.piece(stream, bytes(buf[: self.max_line]))
                del buf[: self.max_line]

    def finish(self, stream: str) -> None:
        buf = self.line[stream]
        self.piece(stream, bytes(buf))
        buf.clear()
        self.started[stream] = False

    def piece(self, stream: str, data: bytes) -> None:
        if not self.started.get(stream):
            self.time[stream] = None
            if self.timestamps and (m := STAMP.match(data)):
                self.time[stream] = m.group()[:-1].decode()
                data = data[m.end() :]
        self.started[stream] = True
        text = data.decode("utf-8", "replace").removesuffix("\r")
        self.out.append(LogLine(stream, self.time[stream], text))

    def close(self) -> list[LogLine]:
        for stream, buf in self.line.items():
            if buf or self.started.get(stream):
                self.finish(stream)
        return self.out


def reference(
    msgs: list[tuple[int, bytes]], cut_at: int | None, timestamps: bool, max_line: int
) -> list[LogLine]:
    """The multiplexed stream of ``msgs``, cut after ``cut_at`` bytes when given."""
    ref = Reference(timestamps, max_line)
    at, inside = 0, False
    for kind, payload in msgs:
        if cut_at is not None and at + 8 > cut_at:
            inside = cut_at > at  # a header cut short
            break
        at += 8
        if cut_at is not None and at + len(payload) > cut_at:
            ref.message(STREAM[kind], payload[: cut_at - at])
            inside = True
            break
        ref.message(STREAM[kind], payload)
        at += len(payload)
    lines = ref.close()
    if inside:
        lines.append(LogLine("system", None, "log stream ended inside a frame"))
    return lines


def decode(data: bytes, cuts: list[int], multiplexed: bool, **kw: int | bool) -> list[LogLine]:
    decoder = LogDecoder(multiplexed, **kw)  # type: ignore[arg-type]
    out: list[LogLine] = []
    start = 0
    for cut in sorted(c for c in cuts if c <= len(data)):
        out += decoder.feed(data[start:cut])
        start = cut
    return out + decoder.feed(data[start:]) + decoder.close()


max_lines = st.sampled_from([1, 8, 33, 64, 1 << 20])
cut_lists = st.lists(st.integers(0, 400), max_size=20)


@settings(max_examples=examples(40))
@given(messages(), cut_lists, st.booleans(), max_lines)
def test_multiplexed_decoding_agrees_with_the_reference(
    msgs: list[tuple[int, bytes]], cuts: list[int], timestamps: bool, max_line: int
) -> None:
    data = b"".join(frame(kind, payload) for kind, payload in msgs)
    expected = reference(msgs, None, timestamps, max_line)
    assert decode(data, cuts, True, timestamps=timestamps, max_line=max_line) == expected


@settings(max_examples=examples(25))
@given(messages(), cut_lists, st.booleans(), max_lines, st.integers(0, 400))
def test_a_stream_cut_short_agrees_with_the_reference(
    msgs: list[tuple[int, bytes]], cuts: list[int], timestamps: bool, max_line: int, end: int
) -> None:
    data = b"".join(frame(kind, payload) for kind, payload in msgs)
    end = min(end, len(data))
    expected = reference(msgs, end, timestamps, max_line)
    got = decode(data[:end], cuts, True, timestamps=timestamps, max_line=max_line)
    assert got == expected


@settings(max_examples=examples(25))
@given(st.lists(payload_bytes, max_size=6), cut_lists, st.booleans(), max_lines)
def test_raw_tty_decoding_agrees_with_the_reference(
    chunks: list[bytes], cuts: list[int], timestamps: bool, max_line: int
) -> None:
    data = b"".join((f"{STAMPS[0]} ".encode() if i % 2 else b"") + c for i, c in enumerate(chunks))
    ref = Reference(timestamps, max_line)
    ref.message("stdout", data, starts_message=False)
    assert decode(data, cuts, False, timestamps=timestamps, max_line=max_line) == ref.close()


@settings(max_examples=examples(40))
@given(st.binary(max_size=200), cut_lists, st.booleans())
def test_random_bytes_decode_or_raise_parse_error(
    data: bytes, cuts: list[int], timestamps: bool
) -> None:
    with contextlib.suppress(ParseError):  # any other exception fails the test
        lines = decode(data, cuts, True, timestamps=timestamps, max_line=16)
        assert all(line.stream in ("stdout", "stderr", "system") for line in lines)


@settings(max_examples=examples(30))
@given(messages(), cut_lists)
def test_demuxer_gives_each_frame_once_in_order_under_any_chunking(
    msgs: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    """Every non-empty frame comes out as pieces of its exact bytes, the first flagged as
    the start of a message, in stream order, whatever the chunk boundaries."""
    data = b"".join(frame(kind, payload) for kind, payload in msgs)
    demux, got, start = Demuxer(), [], 0
    for cut in [*sorted(c for c in cuts if c <= len(data)), len(data)]:
        for stream, piece, first in demux.feed(data[start:cut]):
            if first:
                got.append((stream, b""))
            got[-1] = (stream, got[-1][1] + piece)
        start = cut
    assert demux.close() == ([], False)
    assert got == [(STREAM[kind], payload) for kind, payload in msgs if payload]
