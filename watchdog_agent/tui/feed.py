"""One agent's feed: its snapshot stream read into HostViews, with the link's states.

``Feed.run`` connects to ``GET /api/v1/stats?stream=1``, turns each document into rows
(``rows.read_document``) and hands every new :class:`HostView` to ``notify``; it never
returns on its own. The link's state (view.LinkState):

- CONNECTING until the first attempt answers or fails;
- CONNECTED (LOCAL for the in-process agent) while documents arrive;
- RETRYING after a refused or broken connection, or a stream that stalled (no document
  for STALL_INTERVALS sampling intervals, at least STALL_MIN seconds), retried after
  1 s, doubling to RETRY_MAX; ``detail`` says why;
- AUTH_REFUSED on 401/403, retried every AUTH_RETRY seconds (a fixed credential file);
- BAD_ANSWER when what answers is not the agent's API, retried as RETRYING is.

The last rows are kept while the link is down (the header says they are not current);
rates start again from the next connection's second document.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from watchdog_agent.tui.client import AgentClient, AgentDown, AuthRefused, BadAnswer, host_port
from watchdog_agent.tui.rows import BadDocument, Counters, read_document
from watchdog_agent.tui.view import FleetError, HostView, LinkState

RETRY_FIRST = 1.0  # seconds before the first retry
RETRY_MAX = 10.0  # the back-off's cap
AUTH_RETRY = 30.0  # seconds between tries with refused credentials
FIRST_DOCUMENT = 10.0  # seconds the first document of a connection may take
STALL_INTERVALS = 3.0  # a stream silent this many intervals is broken
STALL_MIN = 5.0  # ... and at least this many seconds
STATS_PATH = "/api/v1/stats"

Notify = Callable[[HostView], None]


class Stalled(FleetError):
    """The stream stays open but no document came in time."""


def stall_after(interval: float | None) -> float:
    """Seconds without a document after which a stream counts as broken."""
    return max(STALL_MIN, STALL_INTERVALS * (interval or 1.0))


class Feed:
    """One agent's stream, kept up until cancelled. Runs on one event loop (the data
    side's); ``notify`` is called there with each new HostView."""

    def __init__(
        self,
        key: str,
        client: AgentClient,
        notify: Notify,
        *,
        params: Sequence[tuple[str, str]] = (("all", "1"),),
        local_detail: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = key
        self.client = client
        self._notify = notify
        self._params = [*params, ("stream", "1")]
        self._local_detail = local_detail  # set: the in-process agent (LinkState.LOCAL)
        self._clock = clock
        self._counters: Mapping[str, Counters] = {}
        self.documents = 0  # documents read, over every connection
        self.sampled = 0  # ... of which had a sample (sampled_at set)
        self.view = HostView(
            key=key,
            name=host_port(client.url) if local_detail is None else "local",
            link=LinkState.CONNECTING,
            detail=None,
            since=clock(),
            rows={},
        )

    def _set(self, view: HostView, fresh: bool = False) -> None:
        """``fresh``: a new document (always news; spares comparing every row)."""
        if view.link != self.view.link:
            view = replace(view, since=self._clock())
        if fresh or view != self.view:
            self.view = view
            self._notify(view)

    def _down(self, link: LinkState, detail: str) -> None:
        self._counters = {}  # a rate never spans a reconnection
        self._set(replace(self.view, link=link, detail=detail))

    async def run(self) -> None:
        delay = RETRY_FIRST
        while True:
            before = self.documents
            try:
                await self._follow()
                wait, link, detail = delay, LinkState.RETRYING, "the agent ended the stream"
            except AuthRefused as exc:
                wait, link, detail = AUTH_RETRY, LinkState.AUTH_REFUSED, str(exc)
            except BadAnswer as exc:
                wait, link, detail = delay, LinkState.BAD_ANSWER, str(exc)
            except (AgentDown, Stalled) as exc:
                wait, link, detail = delay, LinkState.RETRYING, str(exc)
            except FleetError as exc:  # another error status (e.g. 503 while starting)
                wait, link, detail = delay, LinkState.RETRYING, str(exc)
            if self.documents > before:  # it worked for a while: start the back-off again
                wait = RETRY_FIRST if link != LinkState.AUTH_REFUSED else wait
                delay = RETRY_FIRST
            self._down(link, f"{detail}; retrying in {wait:g} s")
            await asyncio.sleep(wait)
            if link != LinkState.AUTH_REFUSED:
                delay = min(delay * 2, RETRY_MAX)

    async def _follow(self) -> None:
        """One connection: read documents until the stream ends or breaks."""
        stream = self.client.lines(STATS_PATH, self._params)
        try:
            timeout = FIRST_DOCUMENT
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        line = await anext(stream)
                except StopAsyncIteration:
                    return
                except TimeoutError as exc:
                    raise Stalled(f"no snapshot from {self.client.url} for {timeout:g} s") from exc
                self._read(line)
                timeout = stall_after(self.view.interval)
        finally:
            await stream.aclose()

    def _read(self, line: bytes) -> None:
        try:
            doc = json.loads(line)
            reading = read_document(self.key, doc, self._counters)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadAnswer(self.client.url, "a line of the stats stream is not JSON") from exc
        except BadDocument as exc:
            raise BadAnswer(self.client.url, str(exc)) from exc
        self._counters = reading.counters
        self.documents += 1
        self.sampled += reading.sampled_at is not None
        local = self._local_detail is not None
        name = reading.hostname or (self.view.name if local else host_port(self.client.url))
        self._set(
            HostView(
                key=self.key,
                name=name,
                link=LinkState.LOCAL if local else LinkState.CONNECTED,
                detail=self._local_detail,
                since=self.view.since,
                rows=reading.rows,
                host=reading.host,
                daemon=reading.daemon,
                agent=reading.agent,
                sampled_at=reading.sampled_at,
                interval=reading.interval,
            ),
            fresh=True,
        )
