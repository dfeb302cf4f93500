"""Awaits with a deadline (aio.next_within, aio.wait_within) never lose a cancel.

On Python 3.11, ``asyncio.wait_for`` drops a cancel that arrives in the loop turn its
inner await ends (CPython gh-86296): the task goes on, and its owner's ``cancel_and_wait``
waits for ever. A CI run caught an agent that got SIGTERM as an event reached its
inventory: it hung until SIGKILL. Each test below makes that turn happen on purpose (the
item, then the cancel, with no await between) and would hang with ``wait_for``.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

import watchdog_agent
from watchdog_agent.aio import next_within, wait_within
from watchdog_agent.docker.client import DockerClient
from watchdog_agent.events.bus import Bus, Subscription
from watchdog_agent.inventory.follow import Inventory
from watchdog_agent.model import Event

T0 = 1_724_400_000_000_000_000
PACKAGE = Path(watchdog_agent.__file__).parent


def network_event(n: int) -> Event:
    """An event the inventory reads and drops (no container): no Docker call."""
    return Event("network", "connect", f"{n:064x}", {}, "local", T0 // 10**9, T0 + n)


async def ended(task: asyncio.Task[object]) -> bool:
    done, _ = await asyncio.wait([task], timeout=2)
    if not done:  # the bug: clean up before failing
        task.cancel()
        await asyncio.wait([task])
    return bool(done)


async def test_a_cancel_that_comes_with_the_next_item_ends_the_reader() -> None:
    bus = Bus()
    sub = bus.subscribe()
    got: list[object] = []

    async def read(items: Subscription) -> None:
        while True:
            got.append(await next_within(items, 60))

    task = asyncio.create_task(read(sub))
    await asyncio.sleep(0)  # it awaits the next item
    bus.publish(network_event(1))
    task.cancel()
    assert await ended(task), "the cancel was lost"
    assert task.cancelled()
    assert got == []
    assert sub.qsize() == 1  # the item stays queued for whoever reads next


async def test_next_within_gives_the_item_none_on_time_and_ends_at_the_end() -> None:
    bus = Bus()
    sub = bus.subscribe()
    assert await next_within(sub, 0.01) is None
    bus.publish(network_event(2))
    assert await next_within(sub, 0.01) == network_event(2)
    bus.close()
    with pytest.raises(StopAsyncIteration):
        await next_within(sub, None)


async def test_a_cancel_that_comes_as_the_event_is_set_ends_the_waiter() -> None:
    wake = asyncio.Event()
    rounds = 0

    async def sleeper() -> None:
        nonlocal rounds
        while True:
            await wait_within(wake, 60)
            wake.clear()
            rounds += 1

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0)
    wake.set()
    task.cancel()
    assert await ended(task), "the cancel was lost"
    assert (task.cancelled(), rounds) == (True, 0)


async def test_wait_within_says_whether_the_event_was_set() -> None:
    wake = asyncio.Event()
    assert await wait_within(wake, 0.01) is False
    wake.set()
    assert await wait_within(wake, 0.01) is True


async def test_the_inventory_stops_when_cancelled_as_an_event_arrives() -> None:
    """The hang CI saw: the events tap hands its last events to the bus at shutdown while
    the inventory's follow task is being cancelled; the bus closes only after it ends."""
    async with DockerClient("unix:///nonexistent/docker.sock") as client:
        inventory = Inventory(client, resync_seconds=3600)
        bus = Bus()
        task = asyncio.create_task(inventory.follow(bus.subscribe()))
        await asyncio.sleep(0)
        bus.publish(network_event(3))
        task.cancel()
        assert await ended(task), "the cancel was lost"
        assert task.cancelled()


def test_the_package_never_awaits_through_asyncio_wait_for() -> None:
    calls = [
        f"{path.relative_to(PACKAGE)}:{number}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"\bwait_for\(", line)
    ]
    assert calls == [], "use aio.next_within or aio.wait_within (aio.py: why)"
