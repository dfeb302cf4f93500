"""Shared pieces of the fault tests (tests/faults/): HTTP streams held open by threads,
a scraping loop, an agent's threads and descriptors counted from /proc, and metric
values read from a scrape. Plain sockets and http.client: the client side must never be
the part that hides a server's misbehaviour."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

READ_TIMEOUT = 60.0  # a stream that sends nothing this long counts as hung


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    """One GET on a fresh connection: (status, body); raises on a connection error."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


class Stream(threading.Thread):
    """GET ``url`` and read its body line by line until the server ends it.

    ``ended`` says how: "eof" (the response ended as HTTP says it should: the last chunk
    came), "client-closed" (``close()`` was called first), or "error: ..." (the
    connection broke mid-body, or nothing came for READ_TIMEOUT seconds)."""

    def __init__(self, url: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(name=f"stream {url}", daemon=True)
        self.url = url
        self.headers = dict(headers or {})
        self.status: int | None = None
        self.lines: list[bytes] = []
        self.ended: str | None = None
        self.opened = threading.Event()
        self._closing = False
        self._conn: http.client.HTTPConnection | None = None

    def run(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=READ_TIMEOUT)
        self._conn = conn
        try:
            conn.request("GET", f"{parts.path}?{parts.query}", headers=self.headers)
            resp = conn.getresponse()
            self.status = resp.status
            self.opened.set()
            while True:
                line = resp.readline()
                if not line:
                    break
                self.lines.append(line)
            self.ended = "eof"
        except Exception as exc:  # how it ended is the result
            self.ended = "client-closed" if self._closing else f"error: {exc!r}"
        finally:
            self.opened.set()
            conn.close()

    def items(self) -> list[dict[str, object]]:
        """The JSON objects among the lines (NDJSON)."""
        out = []
        for line in self.lines:
            try:
                value = json.loads(line)
            except ValueError:
                continue
            if isinstance(value, dict):
                out.append(value)
        return out

    def close(self) -> None:
        """End it from the client's side (test teardown)."""
        self._closing = True
        conn = self._conn
        if conn is not None and conn.sock is not None:
            with contextlib.suppress(OSError):
                conn.sock.shutdown(2)
        self.join(10)


class Scraper(threading.Thread):
    """GETs each of ``paths`` in turn, every ``pause`` seconds, until stopped; keeps
    (time, path, status or error, body) of every answer."""

    def __init__(self, base: str, paths: tuple[str, ...], pause: float = 0.1) -> None:
        super().__init__(name="scraper", daemon=True)
        self.base = base
        self.paths = paths
        self.pause = pause
        self.answers: list[tuple[float, str, int | str, bytes]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            for path in self.paths:
                try:
                    status, body = http_get(self.base + path)
                    self.answers.append((time.time(), path, status, body))
                except OSError as exc:
                    self.answers.append((time.time(), path, f"{exc!r}", b""))
            self.halt.wait(self.pause)

    def stop(self) -> None:
        self.halt.set()
        self.join(20)

    def count(self, path: str) -> int:
        return sum(1 for a in self.answers if a[1] == path)


def metric(body: bytes | str, name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """The value of the sample ``name`` whose labels include ``labels``; None if absent."""
    text = body.decode() if isinstance(body, bytes) else body
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in (labels or {}).items()):
                return float(s.value)
    return None


def series(body: bytes | str, prefix: str, labels: Mapping[str, str]) -> set[str]:
    """Names of the samples starting with ``prefix`` that carry ``labels``."""
    text = body.decode() if isinstance(body, bytes) else body
    out = set()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith(prefix) and all(s.labels.get(k) == v for k, v in labels.items()):
                out.add(s.name)
    return out


@dataclass(frozen=True)
class Resources:
    """What an agent process holds: threads, descriptors (sockets among them), sockets
    whose other end is gone (a unix peer closed, TCP in CLOSE-WAIT: held by nobody's
    use, so leaked unless closed soon) and live asyncio tasks (its
    ``watchdog_agent_tasks`` gauge, taken by the scrape that read it)."""

    threads: int
    fds: int
    sockets: int
    dead: tuple[str, ...]
    tasks: int

    @property
    def files(self) -> int:
        """Descriptors other than sockets."""
        return self.fds - self.sockets

    def __str__(self) -> str:
        return (f"{self.threads} threads, {self.fds} fds ({self.sockets} sockets, "
                f"{len(self.dead)} with their peer gone), {self.tasks} tasks")  # fmt: skip


def dead_sockets(pid: int) -> tuple[str, ...]:
    """``pid``'s connected sockets whose other end has closed (ss's view)."""
    out = subprocess.run(["ss", "-H", "-a", "-n", "-p", "-x", "-t"], capture_output=True,
                         text=True, check=True, timeout=10).stdout  # fmt: skip
    dead = []
    for line in out.splitlines():
        if f"pid={pid}," not in line:
            continue
        tok = line.split()
        unix_orphan = tok[0] == "u_str" and tok[1] == "ESTAB" and tok[7] == "0"
        if unix_orphan or (tok[0] == "tcp" and tok[1] == "CLOSE-WAIT"):
            dead.append(line)
    return tuple(dead)


def resources(pid: int, base: str) -> Resources:
    threads = len(os.listdir(f"/proc/{pid}/task"))
    fds = sockets = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        fds += 1
        sockets += target.startswith("socket:")
    status, body = http_get(base + "/metrics")
    assert status == 200, body[:300]
    tasks = metric(body, "watchdog_agent_tasks")
    assert tasks is not None, "no watchdog_agent_tasks in /metrics"
    return Resources(threads, fds, sockets, dead_sockets(pid), int(tasks))


def typical(read: Callable[[], Resources], n: int = 9, gap: float = 0.25) -> Resources:
    """Of ``n`` readings ``gap`` seconds apart, one with the most common task count (the
    lower on a tie). A stream's tasks come and go between its chunks (a log follow awaits
    each chunk in a task of its own), so a single reading can be one off either way,
    while a leaked task moves the common count."""
    readings = [read()]
    for _ in range(n - 1):
        time.sleep(gap)
        readings.append(read())
    counts = Counter(r.tasks for r in readings)
    common = min(counts, key=lambda tasks: (-counts[tasks], tasks))
    return next(r for r in readings if r.tasks == common)


def settle(
    read: Callable[[], Resources], ok: Callable[[Resources], bool], timeout: float
) -> Resources:
    """Read until ``ok`` holds or ``timeout`` passes; the last reading (the caller
    asserts on it, so a failure shows the numbers)."""
    deadline = time.monotonic() + timeout
    now = read()
    while not ok(now) and time.monotonic() < deadline:
        time.sleep(0.25)
        now = read()
    return now


def wait_for(cond: Callable[[], object], timeout: float, what: str, step: float = 0.1) -> None:
    """Poll ``cond`` until true; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(step)


def statuses(answers: Iterable[tuple[float, str, int | str, bytes]], path: str) -> set[int | str]:
    return {a[2] for a in answers if a[1] == path}
