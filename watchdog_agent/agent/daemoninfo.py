"""The daemon's configuration and health, kept current for ``serve``.

A ping every PING_INTERVAL seconds says whether the engine answers (``up``); Docker's
``GET /info`` (with ``/version``) is read every INFO_INTERVAL seconds, at once on a
daemon event (``reload`` after a ``daemon.json`` change, ...) and when the engine
(re)appears, and at most every REFRESH_MIN seconds after container or image events
(they change the counts). With it, the filesystem holding the data root is measured
(statvfs in a thread, collectors/fsusage.py: through the host's PID 1 root, so a
containerised agent measures the host's filesystem). Consumers read ``latest``, an
immutable DaemonState.
"""

from __future__ import annotations

import asyncio
import time

from watchdog_agent.aio import wait_within
from watchdog_agent.collectors.fsusage import measure_data_root
from watchdog_agent.docker.engine import EngineAPI
from watchdog_agent.errors import DockerError, DockerUnavailable, ParseError
from watchdog_agent.events.bus import Bus
from watchdog_agent.logsetup import get_logger
from watchdog_agent.model import DaemonState, Event, Gap

log = get_logger("watchdog_agent.agent.daemoninfo")

PING_INTERVAL = 5.0  # seconds between liveness pings
INFO_INTERVAL = 60.0  # seconds between /info samples while nothing happens
REFRESH_MIN = 5.0  # container/image events refresh the counts at most this often
COUNTED = frozenset({"container", "image"})  # event types that change /info's counts


class DaemonInfoSampler:
    """Owner of nothing but its own task (``run``): the caller spawns, cancels and awaits
    it, and gives it a bus subscription's source, the Bus."""

    def __init__(
        self,
        client: EngineAPI,
        bus: Bus,
        proc_root: str,
        *,
        ping_interval: float = PING_INTERVAL,
        info_interval: float = INFO_INTERVAL,
    ) -> None:
        self.client = client
        self.bus = bus
        self.proc_root = proc_root
        self.ping_interval = ping_interval
        self.info_interval = info_interval
        self.latest: DaemonState | None = None
        self.samples = 0  # /info samples taken
        self._wake = asyncio.Event()  # a daemon event: sample /info now
        self._dirty = False  # counts changed: sample at the next tick

    async def run(self) -> None:
        """Ping, sample and listen until cancelled."""
        listener = asyncio.create_task(self._listen(), name="watchdog-daemon-events")
        try:
            await self._loop()
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_info = loop.time()  # due now
        last_info = -REFRESH_MIN
        was_up = False
        while True:
            up = await self._ping()
            now = loop.time()
            due = (
                (up and not was_up)  # (re)appeared
                or self._wake.is_set()
                or now >= next_info
                or (self._dirty and now - last_info >= REFRESH_MIN)
            )
            if up and due:
                self._wake.clear()
                self._dirty = False
                await self._sample()
                last_info, next_info = now, now + self.info_interval
            elif not up:
                self._wake.clear()  # read once it answers again (it reappears)
            was_up = up
            await wait_within(self._wake, self.ping_interval)  # or a daemon event

    async def _ping(self) -> bool:
        try:
            await self.client.request("GET", "/_ping", versioned=False)
            up = True
        except (DockerUnavailable, DockerError):
            up = False
        old = self.latest
        if old is None or old.up != up:
            log.info("Docker engine answers" if up else "Docker engine not answering",
                     address=self.client.host)  # fmt: skip
        self.latest = DaemonState(
            up=up,
            checked_at=time.time(),
            info=None if old is None else old.info,
            sampled_at=None if old is None else old.sampled_at,
            data_root_fs=None if old is None else old.data_root_fs,
        )
        return up

    async def _sample(self) -> None:
        try:
            info = await self.client.daemon_info()
        except (DockerUnavailable, DockerError, ParseError) as exc:
            log.warning("could not read the daemon's /info", reason=str(exc))
            return
        fs = None
        if info.data_root is not None:
            fs = await asyncio.to_thread(measure_data_root, self.proc_root, info.data_root)
            if fs is None:
                log.debug("data root not readable", data_root=info.data_root)
        self.samples += 1
        now = time.time()
        self.latest = DaemonState(True, now, info, now, fs)

    async def _listen(self) -> None:
        sub = self.bus.subscribe(lambda e: e.type == "daemon" or e.type in COUNTED)
        try:
            async for item in sub:
                if isinstance(item, Gap) or (isinstance(item, Event) and item.type == "daemon"):
                    self._wake.set()  # a reload, or the engine came back: read it again
                elif isinstance(item, Event):
                    self._dirty = True
        finally:
            sub.close()
