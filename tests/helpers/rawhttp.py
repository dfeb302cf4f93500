"""HTTP/1.1 over a bare socket, for requests no client library would send (NUL in a
path, overlong UTF-8, a 10 kB header): one request a connection, the whole answer read
until the agent closes it, split into status, headers and body."""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]  # lower-case names (the last one wins)
    body: bytes
    raw: bytes

    def json_like(self) -> bool:
        return self.headers.get("content-type", "").startswith("application/json")


def exchange(port: int, raw: bytes, timeout: float = 10) -> bytes:
    """Send ``raw`` on a new connection; the answer, read until it is complete (by its
    Content-Length or last chunk) or the server closes: a server may keep reading a body
    it did not want for a while before it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # answered and closed before it read everything: read that answer
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)  # (no half-close: the agent would take it as the client gone)
        data = b""
        while not complete(data):
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    return data


def complete(data: bytes) -> bool:
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    fields = head.decode("latin-1").lower().split("\r\n")[1:]
    for field in fields:
        name, _, value = field.partition(":")
        if name.strip() == "content-length":
            return len(body) >= int(value)
        if name.strip() == "transfer-encoding" and "chunked" in value:
            return body.endswith(b"0\r\n\r\n")
    return False


def parse(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    assert len(parts) >= 2 and parts[0].startswith("HTTP/1."), raw[:200]
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding") == "chunked":
        body = dechunk(body)
    return Answer(int(parts[1]), headers, body, raw)


def dechunk(data: bytes) -> bytes:
    out = []
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(rest[:size])
        data = rest[size + 2 :]
    return b"".join(out)


def request(
    port: int,
    target: bytes | str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    extra: bytes = b"",
    timeout: float = 10,
) -> Answer:
    """``METHOD target HTTP/1.1`` with ``headers`` (Host and Connection: close added),
    ``extra`` sent after the head (a body, or more bytes); the parsed answer."""
    path = target.encode("latin-1") if isinstance(target, str) else target
    lines = [method.encode() + b" " + path + b" HTTP/1.1", b"Host: a"]
    lines += [f"{k}: {v}".encode("latin-1") for k, v in (headers or {}).items()]
    lines.append(b"Connection: close")
    raw = b"\r\n".join(lines) + b"\r\n\r\n" + extra
    return parse(exchange(port, raw, timeout))
