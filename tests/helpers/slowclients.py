"""Slow HTTP clients for abuse tests: each connects to a loopback port and holds on
(a header dripped byte by byte, silence, a stream never read) until its Window closes,
tallying what it met in a Slow."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass


class Window:
    """Until when the slow clients keep at it; ``close`` ends it early."""

    def __init__(self, seconds: float) -> None:
        self._loop = asyncio.get_running_loop()
        self.end = self._loop.time() + seconds

    def open(self) -> bool:
        return self._loop.time() < self.end

    def left(self) -> float:
        return max(0.0, self.end - self._loop.time())

    def close(self) -> None:
        self.end = self._loop.time()


REDIAL = 0.5  # seconds a slow client waits before it connects again once cut
HOGS = 50  # of the 500: each asks for a stream it never reads


@dataclass
class Slow:
    """Tallies of what the slow clients met."""

    connected: int = 0
    cut: int = 0  # closed by the agent
    streams: int = 0  # a stream answered 200 and held (never read)
    too_many: int = 0  # a stream answered 429 cleanly
    other: Counter[str] | None = None


async def drip(port: int, end: Window, slow: Slow) -> None:
    """Slowloris: a request line, then a header byte every 0.3 s; again when cut."""
    while end.open():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        slow.connected += 1
        try:
            writer.write(b"GET /api/v1/containers HTTP/1.1\r\nX-Slow: ")
            while end.open():
                await asyncio.sleep(0.3)
                writer.write(b"x")
                await writer.drain()
                if reader.at_eof():
                    raise ConnectionResetError
        except OSError:
            slow.cut += 1
        finally:
            writer.close()
        await asyncio.sleep(REDIAL)


async def silent(port: int, end: Window, slow: Slow) -> None:
    """Connects and sends nothing; again when cut."""
    while end.open():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        slow.connected += 1
        try:
            while end.open():
                with contextlib.suppress(TimeoutError):
                    if await asyncio.wait_for(reader.read(1), 0.2) == b"":
                        break
            else:
                continue  # (the finally closes it)
            slow.cut += 1  # EOF: the agent closed it
        except OSError:
            slow.cut += 1  # reset: the agent aborted it
        finally:
            writer.close()
        await asyncio.sleep(REDIAL)


async def stream_hog(port: int, end: Window, slow: Slow, auth: str) -> None:
    """A whole request for a stream, then never reads it: a stream slot, or a 429."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return
    slow.connected += 1
    try:
        head = f"GET /api/v1/stats?stream=1 HTTP/1.1\r\nHost: a\r\nAuthorization: {auth}\r\n\r\n"
        writer.write(head.encode())
        status = await asyncio.wait_for(reader.readline(), 10)
        if b" 200 " in status:
            slow.streams += 1
            while end.open():  # holds it, reading nothing
                await asyncio.sleep(0.1)
        elif b" 429 " in status:
            rest = await asyncio.wait_for(reader.readuntil(b"}"), 10)
            assert b'"too many streams"' in rest or b"too many" in rest, rest
            assert b"application/json" in rest, rest
            slow.too_many += 1
            while end.open():  # then idles on it
                await asyncio.sleep(0.1)
        else:
            assert slow.other is not None
            slow.other[status.decode(errors="replace").strip()] += 1
    except (OSError, asyncio.IncompleteReadError, TimeoutError):
        slow.cut += 1
    finally:
        writer.close()
