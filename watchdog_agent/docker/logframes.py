"""Docker's logs stream -> lines: a pure, incremental decoder (no I/O).

Framing is chosen by the caller from the container's ``Config.Tty`` (never from the
content type, which API < 1.42 gets wrong):

- multiplexed (no TTY): frames of an 8-byte header (stream type, three zero bytes, a
  big-endian uint32 length) and a payload; type 0 (stdin) and 1 are stdout, 2 stderr,
  3 the Engine's own error ("system"). Headers and payloads may be split anywhere
  across chunks. Each frame is one log message: Docker cuts lines longer than 16 KiB
  into several messages, so a line may span frames; partial lines are kept per stream.
- raw (TTY): one merged stdout, lines end in "\\r\\n".

With ``timestamps`` each message starts with Docker's RFC 3339 time and a space: the
time of a line's first message becomes the line's ``time``; the time a continuation
message carries is dropped. Output is chunking-invariant: any split of the same bytes
gives the same lines (frames are processed in fixed-size pieces, never per chunk).

``Demuxer`` alone gives the frames' exact payload bytes per stream (what ``docker logs``
writes); ``LogDecoder`` builds lines on it.
"""

from __future__ import annotations

import re

from watchdog_agent.errors import ParseError
from watchdog_agent.model import LogLine

STDOUT, STDERR, SYSTEM = "stdout", "stderr", "system"
KINDS = {0: STDOUT, 1: STDOUT, 2: STDERR, 3: SYSTEM}
HEADER = 8
MAX_LINE = 1024 * 1024  # a longer line is cut into pieces of this many bytes
MAX_PIECE = 64 * 1024  # a frame's payload is handled in pieces of at most this size
_STAMP = re.compile(rb"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})) ")


def split_timestamp(data: bytes) -> tuple[str | None, bytes]:
    """``b"2026-08-23T10:00:00.123000000Z hello"`` -> ("2026-...Z", b"hello")."""
    m = _STAMP.match(data)
    if m is None:
        return None, data
    return m.group(1).decode("ascii"), data[m.end() :]


def frame(kind: int, payload: bytes) -> bytes:
    """One multiplexed frame (for tests and fakes)."""
    return bytes([kind, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


class _Partial:
    """One stream's line in progress."""

    __slots__ = ("buf", "emitted", "time")

    def __init__(self) -> None:
        self.buf = bytearray()
        self.time: str | None = None
        self.emitted = False  # pieces of this line already went out (a very long line)


Piece = tuple[str, bytes, bool]  # stream, payload bytes, starts a message (a frame)


class Demuxer:
    """Multiplexed frames -> ``(stream, payload piece, starts a message)``, the payload's
    exact bytes, a frame's payload in pieces of at most MAX_PIECE bytes."""

    def __init__(self) -> None:
        self._header = bytearray()
        self._kind = STDOUT
        self._remaining = 0  # payload bytes of the current frame not yet read
        self._piece = bytearray()  # payload collected for the current piece
        self._first_piece = False  # the piece being collected starts a message

    def feed(self, chunk: bytes) -> list[Piece]:
        out: list[Piece] = []
        view = memoryview(chunk)
        i, n = 0, len(view)
        while i < n:
            if not (self._remaining or self._header) and n - i >= HEADER:  # a whole header
                self._start_frame(chunk[i : i + HEADER])
                i += HEADER
                continue
            if not self._piece and 0 < self._remaining <= min(MAX_PIECE, n - i):
                end = i + self._remaining  # a whole payload: no copy into the piece
                out.append((self._kind, chunk[i:end], self._first_piece))
                i, self._remaining, self._first_piece = end, 0, False
                continue
            if not self._remaining:
                take = min(HEADER - len(self._header), n - i)
                self._header += view[i : i + take]
                i += take
                if len(self._header) < HEADER:
                    break
                self._start_frame(bytes(self._header))
                self._header.clear()
                continue
            take = min(self._remaining, MAX_PIECE - len(self._piece), n - i)
            self._piece += view[i : i + take]
            i += take
            self._remaining -= take
            if not self._remaining or len(self._piece) == MAX_PIECE:
                out.append((self._kind, bytes(self._piece), self._first_piece))
                self._piece.clear()
                self._first_piece = False
        return out

    def close(self) -> tuple[list[Piece], bool]:
        """End of stream: the payload collected so far, and whether it ended inside a frame."""
        cut = bool(self._header or self._remaining or self._piece)
        out = [(self._kind, bytes(self._piece), self._first_piece)] if self._piece else []
        self._piece.clear()
        self._header.clear()
        self._remaining = 0
        return out, cut

    def _start_frame(self, header: bytes) -> None:
        kind = KINDS.get(header[0])
        if kind is None or header[1:4] != b"\0\0\0":
            raise ParseError("Docker log stream", f"bad frame header {header.hex()}")
        self._kind = kind
        self._remaining = int.from_bytes(header[4:8], "big")
        self._first_piece = True


class LogDecoder:
    """``feed(chunk)`` -> complete lines so far; ``close()`` -> the rest."""

    def __init__(self, multiplexed: bool, timestamps: bool = False, max_line: int = MAX_LINE):
        self.multiplexed = multiplexed
        self.timestamps = timestamps
        self.max_line = max_line
        self._demux = Demuxer()
        self._lines: dict[str, _Partial] = {}
        self._out: list[LogLine] = []

    def feed(self, chunk: bytes) -> list[LogLine]:
        if not self.multiplexed:
            self._payload(STDOUT, chunk, message_start=False)
        else:
            for kind, data, first in self._demux.feed(chunk):
                self._payload(kind, data, first)
        out, self._out = self._out, []
        return out

    def close(self) -> list[LogLine]:
        """End of stream: partial lines, and a system line when it ended inside a frame."""
        cut = False
        if self.multiplexed:
            pieces, cut = self._demux.close()
            for kind, data, first in pieces:
                self._payload(kind, data, first)
        for kind, partial in self._lines.items():
            if partial.buf or partial.emitted:
                self._finish(kind, partial)
        if cut:
            self._out.append(LogLine(SYSTEM, None, "log stream ended inside a frame"))
        out, self._out = self._out, []
        return out

    # -- lines ------------------------------------------------------------------------

    def _payload(self, kind: str, data: bytes, message_start: bool) -> None:
        partial = self._lines.get(kind)
        if partial is None:
            partial = self._lines[kind] = _Partial()
        if message_start and self.timestamps and (partial.buf or partial.emitted):
            _, data = split_timestamp(data)  # a continuation keeps its line's first time
        *complete, rest = data.split(b"\n")
        for piece in complete:
            partial.buf += piece
            self._finish(kind, partial)
        partial.buf += rest
        while len(partial.buf) > self.max_line:
            self._emit(kind, partial, bytes(partial.buf[: self.max_line]))
            del partial.buf[: self.max_line]

    def _finish(self, kind: str, partial: _Partial) -> None:
        """The line is complete: what is left of it goes out (cut at ``max_line``)."""
        data = bytes(partial.buf)
        while len(data) > self.max_line:
            self._emit(kind, partial, data[: self.max_line])
            data = data[self.max_line :]
        self._emit(kind, partial, data)
        partial.buf.clear()
        partial.time = None
        partial.emitted = False

    def _emit(self, kind: str, partial: _Partial, data: bytes) -> None:
        if not partial.emitted and self.timestamps:
            partial.time, data = split_timestamp(data)
        partial.emitted = True
        text = data.decode("utf-8", "replace").removesuffix("\r")
        self._out.append(LogLine(kind, partial.time, text))
