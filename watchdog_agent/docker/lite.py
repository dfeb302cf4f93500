"""A light transport for short-lived commands (``stats --no-stream``, ``top``, ``logs``).

Importing aiohttp costs 0.2-0.4 s on these machines (it builds two TLS contexts at
import), more than the whole of a one-shot ``stats``. This transport speaks plain
HTTP/1.0 over asyncio's unix streams, one connection per request: the Engine answers
HTTP/1.0 without chunked encoding and closes the connection after the body.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping

from watchdog_agent.docker.engine import EngineAPI, QueryValue, Response, check_method, error_for
from watchdog_agent.errors import DockerUnavailable, ParseError

TIMEOUT = 30.0
MAX_BODY = 64 * 1024 * 1024
CHUNK = 256 * 1024  # bytes read at a time from a streamed body


class LiteDockerClient(EngineAPI):
    async def _get(self, target: str) -> Response:
        try:
            async with asyncio.timeout(TIMEOUT):
                reader, writer = await asyncio.open_unix_connection(self.socket_path)
                try:
                    writer.write(f"GET {target} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
                    await writer.drain()
                    raw = await reader.read(MAX_BODY)
                    while chunk := await reader.read(MAX_BODY):
                        raw += chunk
                finally:
                    writer.close()
        except TimeoutError as exc:
            raise DockerUnavailable(self.host, f"timed out on GET {target}") from exc
        except OSError as exc:
            raise DockerUnavailable(self.host, exc.strerror or str(exc)) from exc
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
        try:
            async with asyncio.timeout(TIMEOUT):
                reader, writer = await asyncio.open_unix_connection(self.socket_path)
        except TimeoutError as exc:
            raise DockerUnavailable(self.host, f"timed out on GET {target}") from exc
        except OSError as exc:
            raise DockerUnavailable(self.host, exc.strerror or str(exc)) from exc
        try:
            writer.write(f"GET {target} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            async with asyncio.timeout(TIMEOUT):
                head = await reader.readuntil(b"\r\n\r\n")
            status, reason, _, _ = parse_response(head, target)
            if status >= 400:
                async with asyncio.timeout(TIMEOUT):
                    body = await reader.read(MAX_BODY)
                raise error_for(status, reason, body, path)
            if on_open is not None:
                on_open()
            while chunk := await reader.read(CHUNK):
                yield chunk
        except TimeoutError as exc:
            raise DockerUnavailable(self.host, f"timed out on GET {target}") from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise DockerUnavailable(
                self.host, f"GET {target}: {exc or type(exc).__name__}"
            ) from exc
        finally:
            writer.close()


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
