"""`watchdog-agent events`: a filtered tail of Docker events, like `docker events`.

- Live (no ``--since``/``--until``): follows events and keeps following across
  reconnects and daemon restarts; a gap it cannot rule out goes to stderr.
- ``--since``/``--until``: replays the journal of a running agent that watches the same
  engine (agentlink.py: ``--agent``, ``$WATCHDOG_AGENT_URL`` or http://127.0.0.1:9338),
  which reaches further back than Docker's buffer; otherwise what Docker still holds
  (its last 256 events).
- ``--journal PATH``: also records every event to that SQLite journal, resuming from
  its last event (so what Docker buffered while nothing ran is recovered; a new journal
  starts with everything Docker still buffers); with ``--since``/``--until`` it replays
  from the journal instead, which reaches further back than Docker's buffer. A window
  that begins before the journal is completed from Docker's buffer when an engine
  answers; what neither holds is reported on stderr as a gap.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import TextIO

from watchdog_agent.agent import gctune
from watchdog_agent.commands.agentlink import AgentOptions, AgentUnavailable, Link, choose
from watchdog_agent.config import Settings
from watchdog_agent.docker.client import DockerClient
from watchdog_agent.docker.decode import event_from_json
from watchdog_agent.events.backlog import read_buffer
from watchdog_agent.events.bus import Bus
from watchdog_agent.events.filters import EventFilter, parse_filters
from watchdog_agent.events.journal import Journal
from watchdog_agent.events.render import Render, renderer
from watchdog_agent.events.replay import replay
from watchdog_agent.events.service import EventsService
from watchdog_agent.events.tap import Item, Tap, now_nano
from watchdog_agent.events.timeparse import FLAGS, parse_window
from watchdog_agent.model import Event, Gap, Lost
from watchdog_agent.termsafe import escape


def _gap_note(gap: Gap) -> str:
    return (
        f"watchdog-agent: events between {gap.start_nano} and {gap.end_nano} "
        f"may be missing ({escape(gap.reason)})"  # the reason may come from an agent's reply
    )


class Printer:
    """Writes events that pass the filter; gaps and losses go to stderr."""

    def __init__(self, event_filter: EventFilter, render: Render, out: TextIO) -> None:
        self.filter = event_filter
        self.render = render
        self.out = out

    def __call__(self, item: Item | Lost) -> None:
        if isinstance(item, Event):
            if self.filter.matches(item):
                self.out.write(self.render(item) + "\n")
        elif isinstance(item, Gap):
            print(_gap_note(item), file=sys.stderr)
        else:
            print(f"watchdog-agent: {item.count} events lost (output too slow)", file=sys.stderr)


async def run_events(
    settings: Settings,
    filters: Sequence[str],
    since: str | None,
    until: str | None,
    fmt: str,
    journal_path: str | None = None,
    out: TextIO | None = None,
    agent: AgentOptions | None = None,
) -> int:
    out = sys.stdout if out is None else out
    event_filter = parse_filters(filters)
    printer = Printer(event_filter, renderer(fmt), out)
    now = now_nano()
    since_nano, until_nano = parse_window(since, until, now / 1e9, FLAGS)
    if journal_path is not None and (since_nano is not None or until_nano is not None):
        end = now if until_nano is None else min(until_nano, now)
        replayed = (since_nano, end)
        return await _replay_journal(settings.docker_host, journal_path, replayed, now, printer)
    if agent is not None and (since_nano is not None or until_nano is not None):
        link = await choose(settings.docker_host, agent)
        window = {"since": since, "until": until}
        if link is not None and await _from_agent(link, filters, window, printer):
            return 0
    gctune.tune_for_service()
    main = asyncio.current_task()
    assert main is not None
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, main.cancel)  # a clean stop: journal closed
    try:
        async with DockerClient(settings.docker_host) as client:
            await client.negotiate()
            if journal_path is not None:
                await _follow_with_journal(client, journal_path, printer)
            else:
                await _follow(client, event_filter, since_nano, until_nano, printer)
    except asyncio.CancelledError:
        return 0
    finally:
        loop.remove_signal_handler(signal.SIGTERM)
    return 0


async def _follow(
    client: DockerClient,
    event_filter: EventFilter,
    since_nano: int | None,
    until_nano: int | None,
    printer: Printer,
) -> None:
    def on_item(item: Item) -> None:
        printer(item)
        printer.out.flush()

    tap = Tap(
        client,
        on_item=on_item,
        docker_filter=event_filter,
        resume_from=since_nano,
        until_nano=until_nano,
        resume_reason="",
    )
    await tap.run()


async def _follow_with_journal(client: DockerClient, path: str, printer: Printer) -> None:
    bus = Bus()
    subscription = bus.subscribe()

    async def consume() -> None:
        async for item in subscription:
            printer(item)
            printer.out.flush()

    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with Journal(path) as journal:
        service = EventsService(client, bus, journal)
        consumer = asyncio.create_task(consume(), name="events-printer")
        try:
            await service.run()
        finally:
            bus.close()
            await consumer


async def _from_agent(
    link: Link, filters: Sequence[str], window: dict[str, str | None], printer: Printer
) -> bool:
    """Replay from a running agent's /api/v1/events; False when it stopped answering
    before its first line (the caller then asks Docker). Filters are applied by the
    agent and again here."""
    params = [("filter", f) for f in filters] + [(k, v) for k, v in window.items() if v]
    printed = False
    try:
        async for raw in link.lines("/api/v1/events", params):
            _print_agent_line(raw, printer)
            printed = True
    except AgentUnavailable:
        if printed:
            raise
        return False
    printer.out.flush()
    return True


def _print_agent_line(raw: bytes, printer: Printer) -> None:
    doc = json.loads(raw)
    if "gap" in doc:
        gap = doc["gap"]
        printer(Gap(int(gap["start_nano"]), int(gap["end_nano"]), str(gap["reason"])))
    elif "lost" in doc:
        printer(Lost(int(doc["lost"])))
    else:
        printer(event_from_json(raw))


async def _replay_journal(
    docker_host: str, path: str, window: tuple[int | None, int], now: int, printer: Printer
) -> int:
    """The journal's events of the window, completed from Docker's buffer where the
    window begins before the journal (events/replay.py); gaps on stderr."""

    async def docker_buffer(until: int) -> list[Event]:
        async with DockerClient(docker_host) as client:
            return await read_buffer(client, until)

    journal = Journal(path)
    await asyncio.to_thread(journal.open)
    try:
        items = await replay(journal, docker_buffer, printer.filter, window, now)
    finally:
        await asyncio.to_thread(journal.close)
    for item in items:
        printer(item)
    printer.out.flush()
    return 0
