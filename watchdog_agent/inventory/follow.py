"""The containers the agent knows, kept current by Docker events, with a periodic full
resync as a backstop (and after any gap in the event stream).

Subscribe to events before the first resync: an event that lands between the two is
then applied after the list, never lost (EventsService's ``on_open`` is the place).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from watchdog_agent.aio import next_within
from watchdog_agent.docker.engine import EngineAPI
from watchdog_agent.errors import DockerUnavailable, NotFound
from watchdog_agent.events.bus import Subscription
from watchdog_agent.inventory.listing import list_inspected
from watchdog_agent.logsetup import get_logger
from watchdog_agent.model import LIVE_STATES, ContainerRef, Event, Gap

log = get_logger("watchdog_agent.inventory.follow")

# container actions after which a container's inspect document may have changed
REINSPECT = frozenset(
    {"create", "start", "restart", "die", "stop", "kill", "pause", "unpause", "update",
     "rename", "oom", "health_status"}
)  # fmt: skip


class Inventory:
    """id -> ContainerRef for every container (running or not)."""

    def __init__(self, client: EngineAPI, resync_seconds: float = 60.0) -> None:
        self.client = client
        self.resync_seconds = resync_seconds
        self._refs: dict[str, ContainerRef] = {}
        self.resyncs = 0
        self.updates = 0
        # id -> how many `docker update` events it had: the sampler re-reads its limits
        self.limit_updates: dict[str, int] = {}

    @property
    def refs(self) -> Mapping[str, ContainerRef]:
        return self._refs

    def running(self) -> list[ContainerRef]:
        return [r for r in self._refs.values() if r.state in LIVE_STATES]

    async def resync(self) -> None:
        """List every container and inspect the live ones (their init PID). A stopped
        container keeps the inspect document it had while the list agrees with it: the
        list has no OOMKilled and no RestartCount, which its metrics would otherwise lose."""
        before = self._refs
        listed = await list_inspected(self.client, all=True)
        self._refs = {ref.id: _still_known(ref, before.get(ref.id)) for ref in listed}
        self.resyncs += 1

    async def apply(self, event: Event) -> None:
        """Bring one container up to date after one of its events."""
        if event.type != "container" or not event.actor_id:
            return
        action = event.action.split(":", 1)[0]
        if action == "destroy":
            self._refs.pop(event.actor_id, None)
            self.limit_updates.pop(event.actor_id, None)
        elif action in REINSPECT:
            try:
                self._refs[event.actor_id] = await self.client.inspect_container(event.actor_id)
            except NotFound:
                self._refs.pop(event.actor_id, None)
        else:
            return
        if action == "update":
            self.limit_updates[event.actor_id] = self.limit_updates.get(event.actor_id, 0) + 1
        self.updates += 1

    async def follow(self, events: Subscription) -> None:
        """Apply events as they come; resync on a gap, a loss, or every resync_seconds."""
        loop = asyncio.get_running_loop()
        next_resync = loop.time() + self.resync_seconds
        iterator = aiter(events)
        while True:
            timeout = max(0.0, next_resync - loop.time())
            try:
                item = await next_within(iterator, timeout)
            except StopAsyncIteration:
                return
            try:
                if isinstance(item, Event):
                    await self.apply(item)
                    continue
                await self.resync()  # a Gap, a Lost marker, or the periodic backstop
                next_resync = loop.time() + self.resync_seconds
                if isinstance(item, Gap):
                    log.info("inventory resynced after an events gap", reason=item.reason)
            except DockerUnavailable as exc:
                log.warning("inventory update failed", reason=exc.reason)


def _still_known(listed: ContainerRef, before: ContainerRef | None) -> ContainerRef:
    """``before`` (an inspect document) for a stopped container whose state and exit code
    the list still shows, else what the list gave."""
    if (
        listed.state not in LIVE_STATES
        and before is not None
        and before.oom_killed is not None  # inspected, not an earlier list summary
        and (before.state, before.exit_code) == (listed.state, listed.exit_code)
    ):
        return before
    return listed
