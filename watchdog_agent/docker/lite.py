"""A light transport for short-lived commands (``stats --no-stream``, ``top``, ``logs``).

Importing aiohttp costs 0.2-0.4 s on these machines (it builds two TLS contexts at
import), more than the whole of a one-shot ``stats``. This transport speaks plain
HTTP/1.0 over asyncio's unix streams, one connection per request: the Engine answers
HTTP/1.0 without chunked encoding and closes the connection after the body.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager

from watchdog_agent.docker.engine import EngineAPI, QueryValue, Response, check_method, error_for
from watchdog_agent.errors import DockerUnavailable, ParseError

TIMEOUT = 30.0
# a whole response (head and body) read into memory is refused beyond this: the largest
# the Engine sends a one-shot command (a long container list) is a few MB
MAX_BODY = 64 * 1024 * 1024
CHUNK = 256 * 1024  # bytes read at a time


class LiteDockerClient(EngineAPI):
    async def _get(self, target: str) -> Response:
        async with self._connection(target) as reader, asyncio.timeout(TIMEOUT):
            raw = await read_capped(reader, target)
        return parse_response(raw, target)

    async def stream_raw(
        self,
        path: str,
        params: Mapping[str, QueryValue] | None = None,
        on_open: Callable[[], object] | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """A GET response body as it arrives, undecoded (logs framing): HTTP/1.0 has no
        chunked encoding, the Engine ends the body by closing. No read timeout (a follow
        may idle); close the iterator (``contextlib.aclosing``) to drop it early."""
        check_method("GET")
        target = await self.target(path, params)
        async with self._connection(target) as reader:
            async with asyncio.timeout(TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
                status, reason, _, _ = parse_response(head, target)
                if status >= 400:
                    raise error_for(status, reason, await read_capped(reader, target), path)
            if on_open is not None:
                on_open()
            while chunk := await reader.read(CHUNK):
                yield chunk

    @asynccontextmanager
    async def _connection(self, target: str) -> AsyncIterator[asyncio.StreamReader]:
        """One connection with ``GET target`` sent, closed on leaving. The one translation
        of this transport's errors: a timeout or an OS error, opening the connection or
        reading it in the block, leaves as DockerUnavailable."""
        writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(TIMEOUT):
                reader, writer = await asyncio.open_unix_connection(self.socket_path)
                writer.write(f"GET {target} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
                await writer.drain()
            yield reader
        except TimeoutError as exc:
            raise DockerUnavailable(self.host, f"timed out on GET {target}") from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else None
            raise DockerUnavailable(
                self.host, reason or f"GET {target}: {exc or type(exc).__name__}"
            ) from exc
        finally:
            if writer is not None:
                writer.close()


async def read_capped(reader: asyncio.StreamReader, target: str) -> bytes:
    """Everything up to the end of the connection; more than MAX_BODY bytes is a
    ParseError naming the request, read no further."""
    parts: list[bytes] = []
    size = 0
    while chunk := await reader.read(CHUNK):
        size += len(chunk)
        if size > MAX_BODY:
            raise ParseError(
                f"HTTP response to GET {target}", f"larger than {MAX_BODY} bytes (MAX_BODY)"
            )
        parts.append(chunk)
    return b"".join(parts)


def parse_response(raw: bytes, what: str) -> Response:
    """An HTTP/1.x response read to EOF: (status, reason, lower-cased headers, body)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ParseError(f"HTTP response to GET {what}", repr(raw[:60]))
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    if headers.get("transfer-encoding", "").lower() == "chunked":
        raise ParseError(f"HTTP response to GET {what}", "chunked body to an HTTP/1.0 request")
    reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
    return int(parts[1]), reason, headers, body
