"""List, then inspect: Docker's container list with each live container's inspect document.

The list has no init PID and no limits; the inspect document has them. A live container
removed between the two answers is left out (normal flow: it is gone), never kept as a
summary that looks alive. Used by the agent's Inventory (inventory/follow.py) and by the
commands' DockerSource (inventory/sources.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from watchdog_agent.docker.engine import EngineAPI
from watchdog_agent.model import LIVE_STATES, ContainerRef


async def list_inspected(
    client: EngineAPI,
    all: bool = True,
    filters: Mapping[str, Sequence[str]] | None = None,
    known: Callable[[ContainerRef], ContainerRef | None] | None = None,
) -> list[ContainerRef]:
    """Docker's list (``all``: stopped ones too; ``filters``: Docker's), in its order, live
    containers as their inspect documents. ``known(summary)`` may give a container's
    inspect document from before, still good (nothing changed): it is not asked again."""
    listed = await client.list_containers(all=all, filters=filters)
    live = [c for c in listed if c.state in LIVE_STATES]
    inspected: dict[str, ContainerRef] = {}
    if known is not None:
        inspected = {c.id: ref for c in live if (ref := known(c)) is not None}
    inspected.update(await client.inspect_many(c.id for c in live if c.id not in inspected))
    return [
        inspected[c.id] if c.state in LIVE_STATES else c
        for c in listed
        if c.state not in LIVE_STATES or c.id in inspected
    ]
