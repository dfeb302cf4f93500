"""Docker's disk use (``GET /system/df``), sampled on its own slow interval and cached.

``/system/df`` walks every layer, writable layer and volume: seconds, even minutes, on a
big host. It runs as its own task, never on the container sampler's path (a disk sample
only awaits a socket; nothing of it runs on the sampler's thread), so it cannot delay a
stats pass. Readers get the cached sample (``latest``). ``refresh()`` asks for a new one
but at most once every ``min_refresh`` seconds (a refresh sooner gets the last sample),
and every caller during a request in flight shares that one request.

The owner (agent/wiring.py) starts ``run()`` as a task and calls ``close()`` at shutdown,
which cancels the request in flight.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from watchdog_agent.aio import cancel_and_wait
from watchdog_agent.docker.decode import disk_usage_from_json
from watchdog_agent.docker.engine import EngineAPI
from watchdog_agent.errors import DockerError, DockerUnavailable, ParseError
from watchdog_agent.logsetup import get_logger
from watchdog_agent.model import DiskUsage

log = get_logger("watchdog_agent.agent.disksampler")

MIN_REFRESH = 5.0  # seconds: ?refresh=1 asks Docker at most this often
RETRY = 10.0  # seconds before trying again after a failed sample (if sooner than interval)
Fetch = Callable[[], Awaitable[DiskUsage]]
FAILURES = (DockerUnavailable, DockerError, ParseError)


class DiskSampler:
    """The latest disk sample, its periodic refresh and rate-limited forced refreshes."""

    def __init__(
        self,
        fetch: Fetch,
        interval: float,
        min_refresh: float = MIN_REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.interval = interval
        self.min_refresh = min_refresh
        self._clock = clock
        self.latest: DiskUsage | None = None
        self.last_error: str | None = None  # why the last sample failed, None if it did not
        self.samples = 0  # successful samples so far (the exporter's cache key)
        self.requests = 0  # requests sent to Docker (the rate limit's witness)
        self._started: float | None = None  # clock() when the last request began
        self._inflight: asyncio.Task[DiskUsage] | None = None
        self._closed = False

    async def run(self) -> None:
        """Sample every ``interval`` seconds (sooner after a failure) until cancelled."""
        failing = False
        while True:
            try:
                await self._request()
            except FAILURES as exc:
                # said once per stretch of failures, not on every retry
                (log.debug if failing else log.warning)("disk sample failed", reason=str(exc))
                failing = True
                await asyncio.sleep(min(self.interval, RETRY))
                continue
            if failing:
                log.info("disk sample taken again")
                failing = False
            await asyncio.sleep(self.interval)

    async def refresh(self) -> DiskUsage:
        """A sample at most ``min_refresh`` seconds old by its start: the one in flight if
        any, the latest if it began less than ``min_refresh`` ago, else a new one."""
        if self._inflight is not None and not self._inflight.done():
            return await asyncio.shield(self._inflight)
        if (
            self.latest is not None
            and self._started is not None
            and self._clock() - self._started < self.min_refresh
        ):
            return self.latest
        return await self._request()

    async def current(self) -> DiskUsage:
        """The latest sample; before the first one, the first one (shared)."""
        if self.latest is not None:
            return self.latest
        return await self.refresh()

    async def _request(self) -> DiskUsage:
        if self._closed:
            raise DockerUnavailable("docker", "the agent is stopping")
        if self._inflight is None or self._inflight.done():
            self._started = self._clock()
            self.requests += 1
            self._inflight = asyncio.create_task(self._sample(), name="watchdog-disk-sample")
        return await asyncio.shield(self._inflight)

    async def _sample(self) -> DiskUsage:
        try:
            usage = await self._fetch()
        except FAILURES as exc:
            self.last_error = str(exc)
            raise
        self.latest = usage
        self.last_error = None
        self.samples += 1
        return usage

    async def close(self) -> None:
        """Cancel the request in flight (the owner cancels ``run``)."""
        self._closed = True
        task, self._inflight = self._inflight, None
        if task is not None:
            await cancel_and_wait([task])


async def fetch_disk_usage(client: EngineAPI) -> DiskUsage:
    """One ``GET /system/df``, decoded, with when it answered and how long it took."""
    start = time.monotonic()
    raw = await client.get_json("/system/df")
    return disk_usage_from_json(raw, time.time(), time.monotonic() - start)


def fetch_through(client: Callable[[], EngineAPI | None], host: str) -> Fetch:
    """A Fetch over whichever client the agent has when it runs (None: no engine yet)."""

    async def fetch() -> DiskUsage:
        engine = client()
        if engine is None:
            raise DockerUnavailable(host, "no Docker engine yet")
        return await fetch_disk_usage(engine)

    return fetch
