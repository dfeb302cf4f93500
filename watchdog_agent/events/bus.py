"""Fan-out of events and gaps to any number of subscribers through bounded queues.

``Bus.publish`` is synchronous and never blocks: each subscriber has its own queue of at
most ``maxsize`` items. When a queue is full, new items for that subscriber are dropped
and counted; once it has room again the subscriber first gets one ``Lost(count)``, then
the newer items. A slow subscriber loses its own items, never anyone else's.

Everything runs on one event loop: publish, subscribe and iterate from the loop's thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from watchdog_agent.aio import Mailbox
from watchdog_agent.model import Event, Gap, Lost

Item = Event | Gap | Lost
Predicate = Callable[[Event], bool]


class Subscription(Mailbox[Item]):
    """One subscriber's bounded queue; ``async for item in sub`` yields Event | Gap | Lost.

    One consumer at a time. The predicate applies to events only: gaps always come
    through. Iteration ends after ``Bus.close()`` (once the queued items are read) or at
    once after ``close()``; if the predicate raises, iteration raises that error after the
    queued items.
    """

    __slots__ = ("_error", "_lost", "_predicate", "dropped", "maxsize")

    def __init__(
        self, maxsize: int, predicate: Predicate | None, on_close: Callable[[Subscription], None]
    ) -> None:
        super().__init__(deque(), on_close)
        self.maxsize = maxsize
        self.dropped = 0  # items dropped for this subscriber, in total
        self._predicate = predicate
        self._lost = 0  # dropped since the last Lost marker was queued
        self._error: Exception | None = None

    def close(self) -> None:
        self._lost = 0
        super().close()

    async def __anext__(self) -> Item:
        item = await super().__anext__()
        if self._lost:  # room again: tell how many were dropped before anything newer
            self._items.append(Lost(self._lost))
            self._lost = 0
        return item

    def _at_end(self) -> None:
        error, self._error = self._error, None
        if error is not None:
            raise error

    # -- called by the Bus ----------------------------------------------------------------

    def _offer(self, item: Event | Gap) -> None:
        if self._ended:
            return
        if self._predicate is not None and isinstance(item, Event):
            try:
                if not self._predicate(item):
                    return
            except Exception as exc:  # a broken filter ends its own subscription only
                self._error = exc
                self._finish()
                return
        items = self._items
        if self._lost and len(items) < self.maxsize:
            items.append(Lost(self._lost))
            self._lost = 0
        if len(items) >= self.maxsize:
            self._lost += 1
            self.dropped += 1
            return
        items.append(item)
        self._wake()


class Bus:
    """Publishes every Event and Gap to every open Subscription."""

    def __init__(self, maxsize_per_subscriber: int = 1024) -> None:
        if maxsize_per_subscriber < 1:
            raise ValueError("maxsize_per_subscriber must be at least 1")
        self.maxsize = maxsize_per_subscriber
        self.published = 0  # items published, in total
        self._subs: tuple[Subscription, ...] = ()  # replaced, never mutated: safe to iterate
        self._retired_dropped = 0  # dropped by subscriptions that have ended
        self._closed = False

    @property
    def dropped_total(self) -> int:
        """Items dropped for slow subscribers, over every subscription ever made."""
        return self._retired_dropped + sum(s.dropped for s in self._subs)

    @property
    def subscribers(self) -> int:
        """Open subscriptions."""
        return len(self._subs)

    def subscribe(self, predicate: Predicate | None = None) -> Subscription:
        """A new subscription to items published from now on (ended if the bus is closed)."""
        sub = Subscription(self.maxsize, predicate, self._remove)
        if self._closed:
            sub._finish()
        else:
            self._subs += (sub,)
        return sub

    def publish(self, item: Event | Gap) -> None:
        """Queue ``item`` for every subscriber; never blocks, never raises for a subscriber."""
        self.published += 1
        for sub in self._subs:
            sub._offer(item)

    def close(self) -> None:
        """End every subscription; consumers still read what was queued for them."""
        self._closed = True
        for sub in self._subs:
            sub._finish()

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs = tuple(s for s in self._subs if s is not sub)
            self._retired_dropped += sub.dropped
