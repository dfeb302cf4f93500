"""The wiring of ``serve``: every long-lived part, with an explicit lifecycle.

``Agent.contexts()`` gives aiohttp ``cleanup_ctx`` entries; aiohttp starts them in order
and tears them down in reverse:

1. Docker client (optional): negotiated at start. Without an engine the agent runs on
   cgroup-path discovery, reporting containers by id, and a task owned by the events
   context keeps trying (back-off capped at CONNECT_MAX seconds); once the engine
   answers, the events tap, the journal and the inventory start as if it had been there
   from the beginning (``no_docker``: never tried).
2. Event journal (optional): opened in a thread, closed after everything that writes it.
3. Events: Bus; with Docker, the EventsService task (tap -> journal -> bus) whose
   ``on_open`` resyncs the Inventory, and the Inventory.follow task.
4. Sampling: a task running one Sampler pass per interval in a thread, targets from the
   inventory (TargetCache) or from cgroup discovery, into the SnapshotStore.
5. Post-mortems: their store (next to the journal) and tasks fed by a bus subscription
   (agent/postmortem/capture.py), given the bus, the snapshot store and the client, not
   the Agent; they own their tasks and are stopped first, before the bus and the store
   close.
6. Disk use (after the post-mortems, stopped first): Docker's /system/df on its own
   slow task, cached, refreshed on demand at most every few seconds
   (agent/disksampler.py).
7. Host: a task (agent/hostsampler.py) reading the host's totals (collectors/host.py,
   psutil under --proc-root) and the agent's own cost on the sampling interval, in a
   worker thread apart from the container pass; its first reading is taken before the
   server answers, and ``host`` and ``cost`` give the latest.
8. Daemon info (with Docker): a task (agent/daemoninfo.py) pinging the engine, sampling
   its ``/info`` and the data root's filesystem, woken by daemon events on the bus;
   consumers get ``daemon_state``, a callable, never the Agent.

Each task is owned by the context that starts it, which cancels and awaits it. Streams
(the HTTP server's) end when the store and bus close, or earlier at the server's shutdown.
Nothing here does I/O before the contexts run.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping
from typing import Any, TypeVar

from aiohttp import web

from watchdog_agent.agent import gctune
from watchdog_agent.agent.daemoninfo import DaemonInfoSampler
from watchdog_agent.agent.disksampler import DiskSampler, fetch_through
from watchdog_agent.agent.hostsampler import HostSampler
from watchdog_agent.agent.malloctune import release_free_memory
from watchdog_agent.agent.postmortem.capture import PostMortems
from watchdog_agent.agent.postmortem.store import store_path
from watchdog_agent.agent.snapshots import SnapshotStore
from watchdog_agent.aio import FixedRate, cancel_and_wait, run_to_end, spawn, wait_within
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.collectors.targets import TargetCache, discovered_targets, target_for
from watchdog_agent.config import Settings
from watchdog_agent.docker.client import DockerClient
from watchdog_agent.errors import DockerError, DockerUnavailable
from watchdog_agent.events.bus import Bus
from watchdog_agent.events.journal import JOURNAL_FILE, Journal
from watchdog_agent.events.service import EventsService
from watchdog_agent.inventory.follow import Inventory
from watchdog_agent.logsetup import get_logger
from watchdog_agent.model import (
    LIVE_STATES,
    CgroupMode,
    ContainerRef,
    DaemonState,
    Gap,
    HostSample,
    ProcessCost,
    Snapshot,
)
from watchdog_agent.sqlitefile import make_parent

log = get_logger("watchdog_agent.agent.wiring")

CONNECT_FIRST = 0.25  # seconds before the second try to reach an engine absent at start
CONNECT_MAX = 3.0  # the back-off's cap: an engine that appears is picked up this soon
FIRST_SYNC_WAIT = 10.0  # seconds the first sample waits for the inventory's first list
RELEASE_EVERY = 60.0  # seconds between two hand-backs of free heap pages (malloctune.py)

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]
_T = TypeVar("_T")
Limits = tuple[int | None, float | None, int | None]


def _limits(ref: ContainerRef | None) -> Limits:
    if ref is None:
        return (None, None, None)
    return (ref.memory_limit_bytes, ref.cpu_limit, ref.pids_limit)


class Agent:
    """Owner of the client, journal, bus, inventory, sampler, store and their tasks."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started_at = time.time()
        self._started_mono = time.monotonic()
        self.store = SnapshotStore(settings.history)
        self.bus = Bus()
        self.layout: Layout | None = None
        self.client: DockerClient | None = None
        self.docker_version: dict[str, str | None] | None = None
        self.journal: Journal | None = None
        self.inventory: Inventory | None = None
        self.events: EventsService | None = None
        self.targets: Mapping[str, Target] = {}
        self.postmortems: PostMortems | None = None
        self.daemon: DaemonInfoSampler | None = None  # with Docker, once its context runs
        self.disk: DiskSampler | None = None  # Docker's disk use; None with no_docker
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.sample_errors = 0  # passes that raised
        self._synced = asyncio.Event()  # the inventory has listed containers once
        self._engine: DockerClient | None = None  # made at start; self.client once it answers
        self._connector: asyncio.Task[None] | None = None  # retries an absent engine
        self._sampler: Sampler | None = None
        self._cache: TargetCache | None = None
        self._limits: dict[str, Limits] = {}
        self._updates_seen: Mapping[str, int] = {}  # the inventory's limit_updates, last pass
        self._released = time.monotonic()  # free heap pages last handed back
        self.hosts: HostSampler | None = None  # the host task's readings, once it ran

    # -- what handlers read ---------------------------------------------------------------

    @property
    def mode(self) -> CgroupMode | None:
        return None if self.layout is None else self.layout.mode

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._started_mono

    @property
    def ready(self) -> bool:
        return self.store.latest is not None

    def refs(self) -> Mapping[str, ContainerRef]:
        """Every container known: Docker's (running or not), else the discovered ones."""
        if self.inventory is not None and self._synced.is_set():
            return self.inventory.refs
        return {cid: ContainerRef(id=cid, state="running") for cid in self.targets}

    @property
    def host(self) -> HostSample | None:
        """The latest host totals (None before the host task's first reading)."""
        return None if self.hosts is None else self.hosts.host

    @property
    def cost(self) -> ProcessCost | None:
        """The agent's own cost, read with the host totals."""
        return None if self.hosts is None else self.hosts.cost

    def daemon_state(self) -> DaemonState | None:
        """The daemon's latest state (None without Docker or before the first ping);
        hand this bound method to consumers, not the Agent."""
        return None if self.daemon is None else self.daemon.latest

    def sampling_errors(self) -> int:
        """Files that could not be read or parsed, over every pass so far."""
        return 0 if self._sampler is None else self._sampler.errors_total

    def events_gap(self) -> Gap | None:
        """None while Docker's events flow (or the tap is starting on an engine that just
        answered); otherwise a gap from when they stopped (or the agent started) to now,
        whose reason says why: "docker-unavailable" (no engine yet, or the tap lost it and
        is reconnecting) or "no-docker" (the agent never asks Docker)."""
        now = time.time_ns()
        start = min(now, int(self.started_at * 1e9))
        if self.client is not None:
            tap = None if self.events is None else self.events.tap
            if tap is None or tap.connected.is_set() or tap.down_since is None:
                return None
            start = tap.down_since
        reason = "no-docker" if self.settings.no_docker else "docker-unavailable"
        return Gap(start_nano=start, end_nano=max(now, start), reason=reason)

    def task_states(self) -> dict[str, str]:
        """Every long-lived task's state, the post-mortems' included."""
        tasks = {**self.tasks, **(self.postmortems.tasks if self.postmortems else {})}
        return {name: _state(task) for name, task in tasks.items()}

    async def target_of(self, ref: ContainerRef) -> Target | None:
        """Where a running container's cgroup is (from the last pass, or found now)."""
        if ref.state not in LIVE_STATES:
            return None
        target = self.targets.get(ref.id)
        if target is None and ref.pid is not None and self.layout is not None:
            target = await asyncio.to_thread(target_for, self.layout, self.settings.proc_root, ref)
        return target

    # -- lifecycle --------------------------------------------------------------------------

    def contexts(self) -> list[CleanupCtx]:
        return [
            self._docker_ctx, self._journal_ctx, self._events_ctx, self._sampling_ctx,
            self._postmortem_ctx, self._disk_ctx, self._host_ctx, self._daemon_ctx,
        ]  # fmt: skip

    async def _docker_ctx(self, app: web.Application) -> AsyncIterator[None]:
        self.layout = Layout(self.settings.cgroup_root)
        client = None if self.settings.no_docker else DockerClient(self.settings.docker_host)
        self._engine = client
        if client is not None:
            try:
                await self._connect(client)
            except (DockerUnavailable, DockerError) as exc:
                log.warning("no Docker engine yet: containers found by cgroup path (ids only) "
                            "until it answers", address=client.host, reason=_why(exc),
                            retry_max_seconds=CONNECT_MAX)  # fmt: skip
        try:
            yield
        finally:
            if client is not None:
                await client.close()

    async def _connect(self, client: DockerClient) -> None:
        await client.negotiate()
        version = await client.version()
        info = await client.info()
        self.docker_version = {
            "version": _text(version.get("Version")),
            "api_version": client.api_version,
            # which engine (the commands compare both: Docker 20.10's ID is the host's
            # key, the same for every engine on the host)
            "id": _text(info.get("ID")),
            "root_dir": _text(info.get("DockerRootDir")),
        }
        self.client = client

    async def _connect_later(self, client: DockerClient) -> None:
        """Try the engine with a capped back-off until it answers, then start what needs it."""
        delay = CONNECT_FIRST
        while True:
            await asyncio.sleep(delay)
            try:
                await self._connect(client)
            except (DockerUnavailable, DockerError) as exc:
                log.debug("Docker engine still not answering", reason=_why(exc))
                delay = min(delay * 2, CONNECT_MAX)
                continue
            version = (self.docker_version or {}).get("version")
            log.info("connected to the Docker engine", address=client.host, version=version,
                     api_version=client.api_version)  # fmt: skip
            self._start_docker_parts(client)
            return

    async def _journal_ctx(self, app: web.Application) -> AsyncIterator[None]:
        path = self.settings.journal
        if path is not None:
            journal = Journal(path)
            await asyncio.to_thread(_open_journal, journal)
            self.journal = journal
            log.info("event journal open", path=path)
        try:
            yield
        finally:
            if self.journal is not None:
                await asyncio.to_thread(self.journal.close)
                log.info("event journal closed", path=self.journal.path)

    async def _events_ctx(self, app: web.Application) -> AsyncIterator[None]:
        if self.client is not None:
            self._start_docker_parts(self.client)
        elif self._engine is not None:
            connect = self._connect_later(self._engine)
            self._connector = asyncio.create_task(connect, name="watchdog-docker-connect")
        try:
            yield
        finally:
            if self._connector is not None:
                await cancel_and_wait([self._connector])
            await self._stop("events")  # the tap hands what it queued to journal and bus
            await self._stop("inventory")
            self.bus.close()

    async def _sampling_ctx(self, app: web.Application) -> AsyncIterator[None]:
        assert self.layout is not None
        self._sampler = Sampler(self.settings.proc_root, self.layout.mode)
        self._cache = TargetCache(self.layout, self.settings.proc_root)
        self._spawn("sampler", self._sample_forever())
        try:
            yield
        finally:
            await self._stop("sampler")
            self.store.close()
            self._sampler.close()

    async def _postmortem_ctx(self, app: web.Application) -> AsyncIterator[None]:
        postmortems = PostMortems(
            store_path(self.settings.journal),
            bus=self.bus,
            snapshots=self.store,
            targets=lambda: self.targets,
            refs=self.refs,
            proc_root=self.settings.proc_root,
        )
        await postmortems.start()
        self.postmortems = postmortems
        if self.client is not None:  # else _start_docker_parts once an engine answers
            postmortems.follow(self.client)
        try:
            yield
        finally:
            await postmortems.stop()

    async def _host_ctx(self, app: web.Application) -> AsyncIterator[None]:
        self.hosts = HostSampler(self.settings.proc_root, self.settings.interval)
        await self.hosts.start()
        self._spawn("host", self.hosts.run())
        try:
            yield
        finally:
            await self._stop("host")

    async def _daemon_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """The daemon-info task, on the engine client even before it first answers."""
        if self._engine is not None:
            self.daemon = DaemonInfoSampler(self._engine, self.bus, self.settings.proc_root)
            self._spawn("daemon-info", self.daemon.run())
        try:
            yield
        finally:
            await self._stop("daemon-info")

    async def _disk_ctx(self, app: web.Application) -> AsyncIterator[None]:
        """Docker's disk use on its own slow task (agent/disksampler.py): never on the
        sampler's path. Without Docker yet it retries until the engine answers."""
        if not self.settings.no_docker:
            fetch = fetch_through(lambda: self.client, self.settings.docker_host)
            self.disk = DiskSampler(fetch, self.settings.disk_interval)
            self._spawn("disk", self.disk.run())
        try:
            yield
        finally:
            await self._stop("disk")
            if self.disk is not None:
                await self.disk.close()

    def _start_docker_parts(self, client: DockerClient) -> None:
        """The events tap (into journal and bus) and the inventory that follows it."""
        self.inventory = Inventory(client, self.settings.resync_interval)
        self.events = EventsService(client, self.bus, self.journal, self._on_open)
        follow = self.inventory.follow(self.bus.subscribe())
        self._spawn("events", self.events.run())
        self._spawn("inventory", follow)
        if self.postmortems is not None:  # an engine that answered after start-up
            self.postmortems.follow(client)

    async def _on_open(self) -> None:
        assert self.inventory is not None
        await self.inventory.resync()
        self._synced.set()

    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        self.tasks[name] = spawn(name, coro)

    async def _stop(self, name: str) -> None:
        task = self.tasks.get(name)
        if task is not None:
            await cancel_and_wait([task])

    # -- sampling -----------------------------------------------------------------------------

    async def _sample_forever(self) -> None:
        if self.inventory is not None:  # an empty first snapshot would read "no containers"
            # (an engine gone at once: cgroup paths after FIRST_SYNC_WAIT)
            await wait_within(self._synced, FIRST_SYNC_WAIT)
        rate = FixedRate(self.settings.interval)
        tuned = False
        while True:  # cgroup paths until the inventory has listed Docker's containers
            await rate.wait()
            refs = self._live_refs() if self._synced.is_set() else None
            updates = dict(self.inventory.limit_updates) if self.inventory is not None else {}
            try:
                snapshot, targets = await run_to_end(self._pass, refs, updates)
            except Exception:
                self.sample_errors += 1
                log.exception("sampling pass failed")
            else:
                self.targets = targets
                self.store.put(snapshot)
                if not tuned:
                    gctune.tune_for_service()  # after start-up and the first sample
                    tuned = True

    def _live_refs(self) -> list[ContainerRef]:
        assert self.inventory is not None
        return [r for r in self.inventory.refs.values() if r.state in LIVE_STATES]

    def _pass(
        self, refs: list[ContainerRef] | None, updates: Mapping[str, int]
    ) -> tuple[Snapshot, dict[str, Target]]:
        """One pass, in a thread: find targets, refresh changed limits (after a `docker
        update`: ``updates`` counts them per container), sample; once a minute, hand the
        free heap pages back (malloctune.py)."""
        assert self._sampler is not None and self._cache is not None and self.layout is not None
        if refs is None:
            targets = discovered_targets(self.layout)
        else:
            targets = self._cache.targets(refs)
            limits = {cid: _limits(t.ref) for cid, t in targets.items()}
            for cid, now in limits.items():
                if self._limits.get(cid, now) != now:  # `docker update`: read limits again
                    self._sampler.invalidate_limits(cid)
            self._limits = limits
        for cid, count in updates.items():
            if self._updates_seen.get(cid) != count:
                self._sampler.invalidate_limits(cid)
        self._updates_seen = updates
        sampled = self._sampler.sample(targets)
        if time.monotonic() - self._released >= RELEASE_EVERY:
            release_free_memory()  # what the rings' growth freed (malloctune.py)
            self._released = time.monotonic()
        return sampled, targets


def _open_journal(journal: Journal) -> None:
    make_parent(JOURNAL_FILE, journal.path)
    journal.open()


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _why(exc: DockerUnavailable | DockerError) -> str:
    return exc.reason if isinstance(exc, DockerUnavailable) else str(exc)


def _state(task: asyncio.Task[None]) -> str:
    if not task.done():
        return "running"
    if task.cancelled():
        return "stopped"
    return "failed" if task.exception() is not None else "ended"
