"""Where the list of containers comes from: Docker when it answers, cgroup paths otherwise.

Both give the same thing per poll: the containers to show, and the sampling targets of
those that have processes. Docker's inspect (for the init PID) is done once per container
start, not per poll.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import Protocol

from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.sampler import Target
from watchdog_agent.collectors.targets import TargetCache, discovered_targets
from watchdog_agent.config import Settings
from watchdog_agent.docker.engine import EngineAPI
from watchdog_agent.errors import DockerUnavailable, UsageError
from watchdog_agent.inventory.listing import list_inspected
from watchdog_agent.model import LIVE_STATES, ContainerRef

Filters = Mapping[str, Sequence[str]]
# keys `docker ps --filter` accepts (the Engine's /containers/json filters)
DOCKER_FILTER_KEYS = frozenset(
    {
        "ancestor", "before", "expose", "exited", "health", "id", "isolation", "is-task",
        "label", "name", "network", "publish", "since", "status", "volume",
    }
)  # fmt: skip


class ContainerSource(Protocol):
    kind: str

    async def poll(
        self, all: bool = False, filters: Filters | None = None
    ) -> tuple[list[ContainerRef], dict[str, Target]]: ...

    async def close(self) -> None: ...


def parse_filters(items: Sequence[str]) -> dict[str, list[str]]:
    """``k=v`` flags into Docker's filter map; unknown keys and bad shapes are errors."""
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"bad filter {item!r}: expected KEY=VALUE")
        if key not in DOCKER_FILTER_KEYS:
            raise UsageError(
                f"unknown filter key {key!r}; known: {', '.join(sorted(DOCKER_FILTER_KEYS))}"
            )
        out.setdefault(key, []).append(value)
    return out


class DockerSource:
    kind = "docker"

    def __init__(self, client: EngineAPI, layout: Layout, proc_root: str) -> None:
        self.client = client
        self.proc_root = proc_root
        self.cache = TargetCache(layout, proc_root)
        self._inspected: dict[str, ContainerRef] = {}

    async def poll(
        self, all: bool = False, filters: Filters | None = None
    ) -> tuple[list[ContainerRef], dict[str, Target]]:
        refs = await list_inspected(self.client, all, filters, self._still_good)
        self._inspected = {r.id: r for r in refs if r.state in LIVE_STATES}
        return refs, self.cache.targets(self._inspected.values())

    def _still_good(self, summary: ContainerRef) -> ContainerRef | None:
        """The inspect document from an earlier poll, unless the container is new, its
        state changed, or it restarted (the init PID we knew has exited: a restart between
        two polls keeps the listed state "running")."""
        known = self._inspected.get(summary.id)
        if known is None or known.state != summary.state:
            return None
        if known.pid is not None and not os.path.exists(f"{self.proc_root}/{known.pid}"):
            return None
        return known

    async def close(self) -> None:
        await self.client.close()


class PathSource:
    """No Docker: containers found by cgroup path, known by id only."""

    kind = "cgroup-path"

    def __init__(self, layout: Layout) -> None:
        self.layout = layout

    async def poll(
        self, all: bool = False, filters: Filters | None = None
    ) -> tuple[list[ContainerRef], dict[str, Target]]:
        targets = discovered_targets(self.layout)
        for key, values in (filters or {}).items():
            if key != "id":
                raise UsageError(f"filter {key!r} needs Docker; without it only 'id' works")
            targets = {k: t for k, t in targets.items() if any(k.startswith(v) for v in values)}
        refs = [ContainerRef(id=cid, state="running") for cid in sorted(targets)]
        return refs, targets

    async def close(self) -> None:
        return None


async def open_source(settings: Settings, layout: Layout, light: bool = False) -> ContainerSource:
    """Docker at ``settings.docker_host`` when it answers (never with ``no_docker``);
    otherwise the cgroup-path fallback, said on stderr, unless the user named the address
    (``docker_host_named``): then DockerUnavailable, as docker itself fails. ``light``
    picks the transport without aiohttp, for short-lived commands."""
    if not settings.no_docker:
        client: EngineAPI
        if light:
            from watchdog_agent.docker.lite import LiteDockerClient

            client = LiteDockerClient(settings.docker_host)
        else:
            from watchdog_agent.docker.client import DockerClient

            client = DockerClient(settings.docker_host)
        try:
            await client.negotiate()
            return DockerSource(client, layout, settings.proc_root)
        except DockerUnavailable as exc:
            await client.close()
            if settings.docker_host_named:
                raise
            print(
                f"watchdog-agent: {exc}; listing containers found by cgroup path (ids only)",
                file=sys.stderr,
            )
    return PathSource(layout)
