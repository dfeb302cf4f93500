"""Post-mortems: what the agent saw of a container around its death, captured on ``die``
(and on an ``oom`` that no ``die`` follows within OOM_GRACE seconds), kept durably.

One task reads a bus subscription (container events only) and only updates small dicts
and spawns capture tasks, so neither the tap nor the sampler ever waits on a capture;
if it falls behind, it loses its own events (the bus's rule), never anyone else's.
Per container it keeps, cheaply:

- its last RECENT events (from the bus, dropped on ``destroy``);
- the signal of its last ``kill`` event since its last ``start``;
- its last non-empty process list: read in a thread (``cgroup.procs`` + /proc, no
  Docker) every PROCESS_EVERY seconds per running container, within PROCESS_TICK of
  its first sample, and at once on its ``kill`` and ``oom`` events.

A capture inspects the container (exit code, OOMKilled; the die event's ``exitCode``
when it is already removed), takes the last minute of samples from the store, and reads
the last LOG_TAIL log lines from Docker (logs survive until removal). Documents are
stored by PostMortemStore (agent/postmortem/store.py) next to the event journal.

It is given only what it reads: the bus, the snapshot store (samples), the sampler's
current targets and the known containers (as callables: both change with every pass),
/proc's root, and the Docker client once an engine answers. It owns its tasks: the two
loops (named, so /healthz reports them) and the captures, all stopped by ``stop()``.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Coroutine, Mapping
from contextlib import aclosing
from typing import Any

from watchdog_agent.agent.postmortem.store import PostMortemStore, postmortem_json
from watchdog_agent.agent.snapshots import SnapshotStore
from watchdog_agent.aio import cancel_and_wait, next_within, spawn
from watchdog_agent.collectors.proctree import container_processes
from watchdog_agent.collectors.sampler import Target
from watchdog_agent.docker.client import DockerClient
from watchdog_agent.docker.logframes import LogDecoder
from watchdog_agent.errors import ContainerGone, WatchdogError
from watchdog_agent.events.bus import Bus, Subscription
from watchdog_agent.logsetup import get_logger
from watchdog_agent.model import (
    CgroupLocation,
    ContainerRef,
    Event,
    HistoryRow,
    LogLine,
    PostMortem,
    ProcessInfo,
)

log = get_logger("watchdog_agent.agent.postmortem.capture")

RECENT = 50  # events kept per container
PROCESS_EVERY = 2.0  # seconds between two process-list reads of a running container
PROCESS_TICK = 0.5  # seconds between checks for containers due a read
OOM_GRACE = 3.0  # seconds an oom waits for its die before it is captured on its own
SAMPLES_SECONDS = 60.0  # samples kept before death
LOG_TAIL = 100
LOG_TIMEOUT = 10.0
CONCURRENT = 4  # captures running at once (more wait their turn)
FORGET_AFTER = 60.0  # seconds a container unknown to Docker and the sampler keeps its events


def attribute_number(attributes: Mapping[str, str], key: str) -> int | None:
    """An event attribute (``signal``, ``exitCode``) that is a decimal number, else None:
    it is the daemon's text about a container, and ``"²".isdigit()`` holds."""
    text = attributes.get(key, "")
    return int(text) if text.isascii() and text.isdigit() else None


def signal_of(exit_code: int | None, kill_signal: int | None) -> int | None:
    """The last ``kill`` event's signal, else the one an exit code > 128 encodes."""
    if kill_signal is not None:
        return kill_signal
    if exit_code is not None and 128 < exit_code < 160:
        return exit_code - 128
    return None


async def fetch_logs(
    client: DockerClient, cid: str, tty: bool, tail: int = LOG_TAIL
) -> list[LogLine]:
    """The container's last ``tail`` log lines, with Docker's timestamps."""
    decoder = LogDecoder(multiplexed=not tty, timestamps=True)
    params = {"stdout": True, "stderr": True, "timestamps": True, "tail": tail}
    lines: list[LogLine] = []
    async with aclosing(client.stream_raw(f"/containers/{cid}/logs", params)) as chunks:
        async for chunk in chunks:
            lines.extend(decoder.feed(chunk))
    return [*lines, *decoder.close()][-tail:]


def _stopped(recent: deque[Event]) -> bool:
    """A ``die`` came after the last ``start`` (in the recent events)."""
    for event in reversed(recent):
        if event.action in ("die", "start"):
            return event.action == "die"
    return False


def read_lists(
    proc_root: str, locations: Mapping[str, CgroupLocation]
) -> dict[str, tuple[ProcessInfo, ...]]:
    """Each container's processes (in a thread); containers gone or empty are left out."""
    out: dict[str, tuple[ProcessInfo, ...]] = {}
    for cid, location in locations.items():
        try:
            flat = container_processes(proc_root, location).processes
        except (ContainerGone, OSError):
            continue
        if flat:
            out[cid] = tuple(flat)
    return out


class PostMortems:
    """The capture tasks and the store; ``start()``, ``follow(client)`` and ``stop()``
    from the agent."""

    def __init__(
        self,
        path: str | None,
        *,
        bus: Bus,
        snapshots: SnapshotStore,
        targets: Callable[[], Mapping[str, Target]],
        refs: Callable[[], Mapping[str, ContainerRef]],
        proc_root: str,
    ) -> None:
        self.store = PostMortemStore(path)
        self.captured = 0
        self.failed = 0
        self.tasks: dict[str, asyncio.Task[None]] = {}  # the two loops, by name
        self._bus = bus
        self._snapshots = snapshots
        self._targets = targets  # cgroup locations of the running containers (last pass)
        self._refs = refs  # every container known (Docker's, else the discovered ones)
        self._proc_root = proc_root
        self._client: DockerClient | None = None
        self._sub: Subscription | None = None
        self._tasks: set[asyncio.Task[None]] = set()  # captures and process-list reads
        self._limit = asyncio.Semaphore(CONCURRENT)
        self._events: dict[str, deque[Event]] = {}
        self._kills: dict[str, int] = {}
        self._ooms: dict[str, tuple[Event, float]] = {}  # oom waiting for its die
        self._procs: dict[str, tuple[float, tuple[ProcessInfo, ...]]] = {}
        self._read_at: dict[str, float] = {}  # monotonic time of the last read (any result)
        self._stopped = False

    async def start(self) -> None:
        """Open the store: it serves what it holds, also before (or without) ``follow``."""
        await asyncio.to_thread(self.store.open)

    def follow(self, client: DockerClient) -> None:
        """Start capturing from the bus's container events, with the client of the engine
        that sends them (once: the agent calls it when an engine answers; never after
        stop())."""
        if self._sub is not None or self._stopped:
            return
        self._client = client
        self._sub = self._bus.subscribe(lambda e: e.type == "container")
        self.tasks["postmortem"] = spawn("postmortem", self._follow(self._sub))
        self.tasks["postmortem-procs"] = spawn("postmortem-procs", self._watch())

    async def stop(self) -> None:
        self._stopped = True
        if self._sub is not None:
            self._sub.close()
        await cancel_and_wait([*self.tasks.values(), *self._tasks])
        await asyncio.to_thread(self.store.close)

    # -- the event side (never waits on I/O) ------------------------------------------

    async def _follow(self, sub: Subscription) -> None:
        loop = asyncio.get_running_loop()
        items = aiter(sub)
        while True:
            due = min((deadline for _, deadline in self._ooms.values()), default=None)
            timeout = None if due is None else max(0.0, due - loop.time())
            try:
                item = await next_within(items, timeout)
            except StopAsyncIteration:
                return
            if isinstance(item, Event) and item.actor_id:
                self.on_event(item, loop.time())
            for cid, (event, deadline) in list(self._ooms.items()):
                if deadline <= loop.time():
                    del self._ooms[cid]
                    self._capture_later(event)

    def on_event(self, event: Event, now: float) -> None:
        cid, action = event.actor_id, event.action.split(":", 1)[0]
        recent = self._events.get(cid)
        if recent is None:
            recent = self._events[cid] = deque(maxlen=RECENT)
        recent.append(event)
        if action == "start":
            self._kills.pop(cid, None)
            self._ooms.pop(cid, None)
        elif action == "kill":
            signal = attribute_number(event.attributes, "signal")
            if signal is not None:
                self._kills[cid] = signal
            self._spawn(self._read_one(cid))
        elif action == "oom" and not _stopped(recent):  # a late oom: its die has it
            self._ooms[cid] = (event, now + OOM_GRACE)
            self._spawn(self._read_one(cid))
        elif action == "die":
            self._ooms.pop(cid, None)
            self._capture_later(event)
        elif action == "destroy":
            for table in (self._events, self._kills, self._ooms, self._procs, self._read_at):
                table.pop(cid, None)

    def _capture_later(self, event: Event) -> None:
        cid = event.actor_id
        events = tuple(self._events.get(cid, ()))
        procs = self._procs.get(cid)
        # the samples now: the store releases a gone container's rows after a grace
        samples = self._snapshots.history_since(cid, event.time_nano / 1e9 - SAMPLES_SECONDS)
        self._spawn(self._capture(event, events, self._kills.get(cid), procs, tuple(samples)))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """A short task owned here (a capture, a process-list read), stopped by stop()."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the I/O side -----------------------------------------------------------------

    async def _watch(self) -> None:
        """Each running container's processes every PROCESS_EVERY seconds, a new one's
        within PROCESS_TICK of its first sample."""
        while True:
            now = time.monotonic()
            due = {
                cid: t.location for cid, t in self._targets().items()
                if now - self._read_at.get(cid, -PROCESS_EVERY) >= PROCESS_EVERY
            }  # fmt: skip
            if due:
                lists = await asyncio.to_thread(read_lists, self._proc_root, due)
                wall = time.time()
                self._read_at.update((cid, now) for cid in due)
                self._procs.update((cid, (wall, flat)) for cid, flat in lists.items())
            self.prune(time.time_ns())
            await asyncio.sleep(PROCESS_TICK)

    def prune(self, now_nano: int) -> None:
        """Release what is kept for containers that are gone: neither sampled nor known
        to Docker, and no event of theirs for FORGET_AFTER seconds. ``destroy`` releases
        at once; this catches a destroy never seen (an events gap) and a read that
        finished after it."""
        known = self._targets().keys() | self._refs().keys()
        cutoff = now_nano - int(FORGET_AFTER * 1e9)
        for cid in [c for c, ev in self._events.items() if c not in known]:
            if self._events[cid][-1].time_nano < cutoff:
                del self._events[cid]
        for table in (self._kills, self._procs, self._read_at):
            for cid in [c for c in table if c not in known and c not in self._events]:
                del table[cid]

    async def _read_one(self, cid: str) -> None:
        target = self._targets().get(cid)
        if target is not None:
            lists = await asyncio.to_thread(read_lists, self._proc_root, {cid: target.location})
            if cid in lists:
                self._procs[cid] = (time.time(), lists[cid])

    async def _capture(
        self,
        event: Event,
        events: tuple[Event, ...],
        kill_signal: int | None,
        procs: tuple[float, tuple[ProcessInfo, ...]] | None,
        samples: tuple[HistoryRow, ...],
    ) -> None:
        async with self._limit:
            try:
                pm = await self.capture(event, events, kill_signal, procs, samples)
                await asyncio.to_thread(self.store.put, postmortem_json(pm))
            except WatchdogError as exc:
                self.failed += 1
                log.warning("post-mortem not stored", id=event.actor_id, error=str(exc))
                return
            except Exception:
                self.failed += 1
                log.exception("post-mortem capture failed", id=event.actor_id)
                return
        self.captured += 1
        log.info("post-mortem captured", id=pm.container_id, name=pm.name,
                 exit_code=pm.exit_code, oom_killed=pm.oom_killed)  # fmt: skip

    async def capture(
        self,
        event: Event,
        events: tuple[Event, ...],
        kill_signal: int | None,
        procs: tuple[float, tuple[ProcessInfo, ...]] | None,
        samples: tuple[HistoryRow, ...] | None = None,
    ) -> PostMortem:
        cid, attrs = event.actor_id, event.attributes
        client = self._client
        errors: list[str] = []
        ref = self._refs().get(cid)
        exit_code = attribute_number(attrs, "exitCode")
        oom_killed: bool | None = None
        logs: list[LogLine] = []
        if client is not None:
            try:
                ref = await client.inspect_container(cid)
                if event.action == "die":
                    exit_code, oom_killed = ref.exit_code, ref.oom_killed
                async with asyncio.timeout(LOG_TIMEOUT):
                    logs = await fetch_logs(client, cid, bool(ref.tty))
            except (WatchdogError, TimeoutError) as exc:
                errors.append(f"docker: {exc or 'timed out'}")
        if oom_killed is None and any(e.action == "oom" for e in events):
            oom_killed = True
        if samples is None:
            died = event.time_nano / 1e9
            samples = tuple(self._snapshots.history_since(cid, died - SAMPLES_SECONDS))
        return PostMortem(
            container_id=cid,
            name=attrs.get("name") or (ref.name if ref else None),
            image=attrs.get("image") or (ref.image if ref else None),
            action=event.action,
            died_at_nano=event.time_nano,
            exit_code=exit_code if event.action == "die" else None,
            oom_killed=oom_killed,
            signal=signal_of(exit_code, kill_signal) if event.action == "die" else None,
            started_at=ref.started_at if ref else None,
            samples=samples,
            processes=procs[1] if procs else (),
            processes_at=procs[0] if procs else None,
            logs=tuple(logs),
            events=events,
            captured_at=time.time(),
            errors=tuple(errors),
        )
