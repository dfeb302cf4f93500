"""The event bus: every fast subscriber gets everything in order; a stalled one loses only
its own events, is told how many with one Lost marker, and never holds more than maxsize."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.events.bus import Bus, Item, Subscription
from watchdog_agent.model import Event, Gap, Lost

T0 = 1_724_400_000_000_000_000


def ev(n: int, action: str = "start") -> Event:
    return Event("container", action, f"{n:064x}", {"name": f"c{n}"}, "local", T0 // 10**9, T0 + n)


async def collect(sub: Subscription) -> list[Item]:
    return [item async for item in sub]


def numbers(items: list[Item]) -> list[int]:
    return [item.time_nano - T0 for item in items if isinstance(item, Event)]


async def test_stalled_subscriber_loses_only_its_own_events() -> None:
    bus = Bus()  # maxsize 1024
    fast = [asyncio.create_task(collect(bus.subscribe())) for _ in range(2)]
    stalled = bus.subscribe()
    for n in range(10_000):
        bus.publish(ev(n))
        assert stalled.qsize() <= bus.maxsize
        if n % 100 == 99:
            await asyncio.sleep(0)  # the fast readers drain their queues
    assert stalled.qsize() == 1024
    assert stalled.dropped == 10_000 - 1024
    assert bus.published == 10_000
    assert bus.dropped_total == 10_000 - 1024

    got = [await anext(stalled) for _ in range(1024)]
    assert numbers(got) == list(range(1024))
    assert await anext(stalled) == Lost(10_000 - 1024)
    bus.publish(ev(10_000))
    bus.publish(Gap(T0, T0 + 10_001, "disconnected"))
    assert await anext(stalled) == ev(10_000)
    assert await anext(stalled) == Gap(T0, T0 + 10_001, "disconnected")

    bus.close()
    for task in fast:
        items = await task
        assert numbers(items) == list(range(10_001))
        assert not any(isinstance(item, Lost) for item in items)
    assert await collect(stalled) == []


async def test_lost_marker_waits_for_room_and_counts_exactly() -> None:
    bus = Bus(maxsize_per_subscriber=3)
    sub = bus.subscribe()
    for n in range(10):
        bus.publish(ev(n))
    assert [await anext(sub), await anext(sub)] == [ev(0), ev(1)]
    # the marker took the slot freed by the first read; ev(2) is still queued before it
    bus.publish(ev(10))
    assert sub.qsize() == 3
    assert [await anext(sub), await anext(sub), await anext(sub)] == [ev(2), Lost(7), ev(10)]
    assert sub.dropped == 7


async def test_loss_while_marker_is_pending_is_added_to_it() -> None:
    bus = Bus(maxsize_per_subscriber=2)
    sub = bus.subscribe()
    for n in range(5):  # 0, 1 queued; 2, 3, 4 dropped
        bus.publish(ev(n))
    await anext(sub)  # room: Lost(3) is queued behind ev(1)
    bus.publish(ev(5))  # full again: dropped, counted for the next marker
    assert [await anext(sub), await anext(sub)] == [ev(1), Lost(3)]
    bus.publish(ev(6))
    assert [await anext(sub), await anext(sub)] == [Lost(1), ev(6)]
    assert sub.dropped == 4


async def test_close_ends_iteration_for_everyone() -> None:
    bus = Bus()
    subs = [bus.subscribe() for _ in range(3)]
    tasks = [asyncio.create_task(collect(s)) for s in subs]
    bus.publish(ev(1))
    await asyncio.sleep(0)
    bus.publish(ev(2))  # queued, not yet read: still delivered before the end
    bus.close()
    results = await asyncio.wait_for(asyncio.gather(*tasks), timeout=5)
    assert results == [[ev(1), ev(2)]] * 3
    assert bus.subscribers == 0
    late = bus.subscribe()
    assert late.closed
    assert await collect(late) == []


async def test_unsubscribe_stops_delivery_and_wakes_the_reader() -> None:
    bus = Bus()
    async with bus.subscribe() as sub:
        task = asyncio.create_task(collect(sub))
        await asyncio.sleep(0)
    assert await asyncio.wait_for(task, timeout=5) == []
    assert bus.subscribers == 0
    bus.publish(ev(1))
    assert sub.qsize() == 0


async def test_predicate_filters_events_but_never_gaps() -> None:
    bus = Bus()
    dies = bus.subscribe(lambda e: e.action == "die")
    everything = bus.subscribe()
    gap = Gap(T0, T0 + 5, "daemon-restart")
    for item in (ev(1, "start"), ev(2, "die"), gap, ev(3, "die"), ev(4, "stop")):
        bus.publish(item)
    bus.close()
    assert await collect(dies) == [ev(2, "die"), gap, ev(3, "die")]
    assert len(await collect(everything)) == 5


async def test_broken_predicate_ends_only_its_own_subscription() -> None:
    bus = Bus()

    def broken(event: Event) -> bool:
        if event.time_nano - T0 == 2:
            raise KeyError("exitCode")
        return True

    bad = bus.subscribe(broken)
    good = bus.subscribe()
    for n in range(4):
        bus.publish(ev(n))
    bus.close()
    assert [await anext(bad), await anext(bad)] == [ev(0), ev(1)]
    with pytest.raises(KeyError):
        await anext(bad)
    assert await collect(bad) == []
    assert numbers(await collect(good)) == [0, 1, 2, 3]


async def test_one_consumer_at_a_time() -> None:
    bus = Bus()
    sub = bus.subscribe()
    first = asyncio.create_task(anext(sub))
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="one consumer"):
        await anext(sub)
    bus.publish(ev(1))
    assert await first == ev(1)


@settings(max_examples=200)
@given(
    st.integers(1, 8),
    st.lists(st.one_of(st.integers(1, 20), st.just(0)), max_size=40),
)
def test_nothing_is_lost_silently(maxsize: int, script: list[int]) -> None:
    """Publish k events (k > 0) or read what is queued (0), in any order: at every moment
    the queue holds at most maxsize items, and what is read plus the Lost counts is exactly
    what was published, in order."""

    async def run() -> None:
        bus = Bus(maxsize)
        sub = bus.subscribe()
        published = 0
        read: list[Item] = []
        for step in script:
            if step == 0:
                while sub.qsize():
                    read.append(await anext(sub))
            for _ in range(step):
                bus.publish(ev(published))
                published += 1
                assert sub.qsize() <= maxsize
        bus.close()
        read += await collect(sub)
        assert numbers(read) == sorted(numbers(read))
        lost = sum(item.count for item in read if isinstance(item, Lost))
        assert len(numbers(read)) + lost == published
        assert lost == sub.dropped == bus.dropped_total
        assert not any(isinstance(a, Lost) and isinstance(b, Lost) for a, b in pairwise(read))

    asyncio.run(run())
