"""The Fleet (view.py's protocol) over N agents: one Feed per agent, on a data thread.

Every network exchange and every JSON decoding runs on a loop of its own thread
(``LoopThread``), so that decoding a snapshot of 1,000 containers never holds up the
UI's loop; results come back to the caller's loop. Each feed runs apart from the others:
one agent down, slow or refusing never stalls the rest. ``run(publish)`` publishes the
whole FleetView, on the caller's loop, after each change (changes that come faster than
the caller's loop takes them are coalesced: it always gets the latest).

Ownership: the fleet owns the data thread, one AgentClient (aiohttp session) per agent,
the feeds' tasks, and whatever it is handed to close last (``owned``: the in-process
agent of ``local``). ``close`` stops all of them, in that order; it is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any
from urllib.parse import quote

from watchdog_agent.docker.decode import event_from_json
from watchdog_agent.errors import ParseError
from watchdog_agent.model import ContainerStats, Event, LogLine, ProcessInfo
from watchdog_agent.tui.client import (
    AgentAnswered,
    AgentClient,
    BadAnswer,
    Credentials,
    host_port,
)
from watchdog_agent.tui.feed import Feed
from watchdog_agent.tui.loopthread import LoopThread
from watchdog_agent.tui.view import Fleet, FleetError, FleetView, HostView
from watchdog_agent.wire.fromjson import process_from_json, stats_from_json


@dataclass(frozen=True, slots=True)
class Source:
    """One agent of the fleet: ``key`` is its HostView.key (the URL as given, or
    "local"); ``unix_socket``: reach it there instead (the in-process agent);
    ``local_detail``: set for the in-process agent (its LinkState is LOCAL)."""

    key: str
    url: str
    creds: Credentials | None = None
    unix_socket: str | None = None
    local_detail: str | None = None


LOCAL_KEY = "local"  # the in-process agent's HostView.key


def sources_for(urls: Sequence[str], creds: Credentials | None = None) -> list[Source]:
    """One Source per ``--agent`` URL, keyed by the URL as given."""
    return [Source(url, url, creds) for url in urls]


def _path(cid: str) -> str:
    return "/api/v1/containers/" + quote(cid, safe="")


class AgentFleet:
    """The Fleet over ``sources`` (in that order). ``params``: the stats stream's query
    (default: every container, stopped ones included: the view filters)."""

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        params: Sequence[tuple[str, str]] = (("all", "1"),),
        owned: Sequence[Callable[[], None]] = (),
    ) -> None:
        if not sources:
            raise ValueError("a fleet needs at least one agent")
        keys = [s.key for s in sources]
        if len(set(keys)) != len(keys):
            raise ValueError("each agent may be named once")
        self._thread = LoopThread("dstats-data")
        self._clients = {
            s.key: AgentClient(s.url, s.creds, unix_socket=s.unix_socket) for s in sources
        }
        self._feeds = {
            s.key: Feed(
                s.key, self._clients[s.key], self._changed, params=params,
                local_detail=s.local_detail,
            )
            for s in sources
        }  # fmt: skip
        self._owned = list(owned)
        self._view = self._compose()
        self._listeners: list[Callable[[], None]] = []
        self._on_close: list[Callable[[], object]] = []  # ends each run()
        self._lock = threading.Lock()
        self._feeding: asyncio.Future[None] | None = None
        self._closed = False

    @property
    def view(self) -> FleetView:
        """The latest FleetView (safe from any thread)."""
        return self._view

    def documents(self, host: str) -> int:
        """Sampled documents read from ``host`` so far (over every connection)."""
        return self._feeds[host].sampled

    # -- the feeds (on the data thread) -----------------------------------------------------

    def _compose(self) -> FleetView:
        """Every feed's view; hosts that call themselves alike (two agents on one
        machine, or copies of one VM image) get their address added."""
        views = [f.view for f in self._feeds.values()]
        names = Counter(v.name for v in views)
        return FleetView(
            tuple(
                v if names[v.name] == 1 or v.key == LOCAL_KEY
                else replace(v, name=f"{v.name} ({host_port(self._clients[v.key].url)})")
                for v in views
            )
        )  # fmt: skip

    def _changed(self, _: HostView) -> None:
        self._view = self._compose()
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            with contextlib.suppress(RuntimeError):  # a caller's loop that just closed
                listener()

    async def _feed_all(self) -> None:
        tasks = [
            asyncio.create_task(f.run(), name=f"dstats-feed {k}") for k, f in self._feeds.items()
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def start(self) -> None:
        """Start the feeds (``run`` does it too); safe to call more than once."""
        if self._closed:
            raise FleetError("the fleet is closed")
        if self._feeding is None:
            self._feeding = asyncio.wrap_future(self._thread.submit(self._feed_all()))

    async def run(self, publish: Callable[[FleetView], None]) -> None:
        """View's protocol: publish each change until cancelled or ``close``d."""
        caller = asyncio.get_running_loop()
        scheduled = threading.Event()

        def deliver() -> None:  # on the caller's loop
            scheduled.clear()
            publish(self._view)

        def listener() -> None:  # on the data thread
            if not scheduled.is_set():
                scheduled.set()
                caller.call_soon_threadsafe(deliver)

        closed = asyncio.Event()
        with self._lock:
            self._listeners.append(listener)
            self._on_close.append(partial(caller.call_soon_threadsafe, closed.set))
        try:
            self.start()
            publish(self._view)
            await closed.wait()  # until cancelled or closed; the feeds run on the data thread
        finally:
            with self._lock:
                self._listeners.remove(listener)

    async def until(self, check: Callable[[FleetView], bool], timeout: float) -> FleetView:
        """Start the feeds and wait (at most ``timeout`` s) for a view that passes
        ``check``; the latest view either way."""
        event = asyncio.Event()
        caller = asyncio.get_running_loop()

        def listener() -> None:
            caller.call_soon_threadsafe(event.set)

        with self._lock:
            self._listeners.append(listener)
        try:
            self.start()
            async with asyncio.timeout(timeout):
                while not check(self._view):
                    await event.wait()
                    event.clear()
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._listeners.remove(listener)
        return self._view

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            ends = list(self._on_close)
        for end in ends:
            with contextlib.suppress(RuntimeError):  # that caller's loop is gone
                end()
        if self._feeding is not None:
            self._feeding.cancel()
        if self._thread.loop.is_running():
            for client in self._clients.values():
                await self._thread.call(client.close())
        await asyncio.to_thread(self._thread.stop)
        for stop in reversed(self._owned):
            await asyncio.to_thread(stop)

    # -- per-container requests (each on the data thread) --------------------------------

    def _client(self, host: str) -> AgentClient:
        client = self._clients.get(host)
        if client is None:
            raise FleetError(f"no such host in this view: {host}")
        return client

    async def _get(self, host: str, path: str, params: Sequence[tuple[str, str]] = ()) -> Any:
        client = self._client(host)
        if self._closed:
            raise FleetError("the fleet is closed")
        return await self._thread.call(client.get_json(path, params))

    async def _decoded(
        self, host: str, path: str, params: Sequence[tuple[str, str]], decode: Callable[[Any], Any]
    ) -> Any:
        client = self._client(host)

        async def fetch() -> Any:
            doc = await client.get_json(path, params)
            try:
                return decode(doc)
            except (ParseError, KeyError, TypeError, ValueError) as exc:
                raise BadAnswer(client.url, f"GET {path}: unexpected document ({exc})") from exc

        if self._closed:
            raise FleetError("the fleet is closed")
        return await self._thread.call(fetch())

    async def container(self, host: str, cid: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._decoded(host, _path(cid), (), _object)
        return result

    async def history(self, host: str, cid: str, count: int) -> Sequence[ContainerStats]:
        def decode(doc: Any) -> list[ContainerStats]:
            if not isinstance(doc, list):
                raise ValueError("not a list of samples")
            return [stats_from_json(_object(d)) for d in doc]

        params = [("history", str(max(1, count)))]
        result: list[ContainerStats] = await self._decoded(
            host, _path(cid) + "/stats", params, decode
        )
        return result

    async def top(self, host: str, cid: str) -> Sequence[ProcessInfo]:
        def decode(doc: Any) -> list[ProcessInfo]:
            tree = _object(doc).get("tree")
            if not isinstance(tree, list):
                raise ValueError("no process tree")
            return [process_from_json(_object(p)) for p in tree]

        result: list[ProcessInfo] = await self._decoded(host, _path(cid) + "/top", (), decode)
        return result

    async def postmortem(self, host: str, cid: str) -> Mapping[str, Any] | None:
        try:
            result: Mapping[str, Any] = await self._decoded(
                host, _path(cid) + "/postmortem", (), _object
            )
        except AgentAnswered as exc:
            if exc.status == 404:
                return None
            raise
        return result

    async def disk(self, host: str) -> Mapping[str, Any]:
        result: Mapping[str, Any] = await self._decoded(
            host, "/api/v1/disk", [("verbose", "1")], _object
        )
        return result

    def logs(self, host: str, cid: str, *, tail: int, follow: bool) -> AsyncIterator[LogLine]:
        client = self._client(host)
        params = [("tail", str(max(0, tail))), ("follow", "1" if follow else "0"),
                  ("timestamps", "1"), ("format", "json")]  # fmt: skip
        path = _path(cid) + "/logs"

        async def lines() -> AsyncIterator[LogLine]:
            async for raw in client.lines(path, params):
                yield _log_line(client.url, raw)

        return self._thread.iterate(lines())

    def events(self, host: str, filters: Sequence[str], since: str | None) -> AsyncIterator[Event]:
        client = self._client(host)
        params = [("filter", f) for f in filters]
        if since is not None:
            params.append(("since", since))

        async def items() -> AsyncIterator[Event]:
            async for raw in client.lines("/api/v1/events", params):
                if raw.lstrip().startswith((b'{"gap"', b'{"lost"')):
                    continue  # the stream's own notes, not events (the view shows events)
                try:
                    yield event_from_json(raw)
                except ParseError as exc:
                    raise BadAnswer(client.url, f"GET /api/v1/events: {exc}") from exc

        return self._thread.iterate(items())


def _object(doc: Any) -> Mapping[str, Any]:
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def _log_line(url: str, raw: bytes) -> LogLine:
    """One NDJSON log item: a line, or the Engine's own error (shown as a "system" line)."""
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadAnswer(url, "a log line is not JSON") from exc
    if not isinstance(doc, dict):
        raise BadAnswer(url, "a log line is not an object")
    if isinstance(doc.get("error"), str):
        detail = doc.get("detail")
        text = doc["error"] + (f": {detail}" if isinstance(detail, str) and detail else "")
        return LogLine("system", None, text)
    line, stream, when = doc.get("line"), doc.get("stream"), doc.get("time")
    if not isinstance(line, str):
        raise BadAnswer(url, "a log item without a line")
    return LogLine(
        stream if isinstance(stream, str) else "stdout",
        when if isinstance(when, str) else None,
        line,
    )


def _is_a_fleet(fleet: AgentFleet) -> Fleet:
    return fleet  # mypy checks here that AgentFleet implements view.Fleet
