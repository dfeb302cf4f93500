"""The latest Snapshot, a short history of them, and their fan-out to stream subscribers.

The sampler task ``put``s each new Snapshot; HTTP handlers read ``latest`` and
``history`` (read-only conversions, never I/O) and streams iterate a subscription.

Fan-out follows the bus's rules (DESIGN.md style 9) with one difference: for snapshots
only the newest matters, so a subscriber that falls behind skips the oldest snapshots it
has not read (``skipped`` counts them) instead of being told about losses. ``put`` never
blocks and never waits for a subscriber. Everything runs on the event loop's thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from watchdog_agent.mailbox import Mailbox
from watchdog_agent.model import ContainerStats, Snapshot

DEFAULT_HISTORY = 300
SUBSCRIBER_QUEUE = 4  # snapshots a subscriber may lag behind before the oldest are skipped


class SnapshotSubscription(Mailbox[Snapshot]):
    """``async for snapshot in sub``: each new Snapshot; ends on close (either side)."""

    __slots__ = ("skipped",)

    def __init__(self, maxsize: int, on_close: Callable[[SnapshotSubscription], None]) -> None:
        super().__init__(deque(maxlen=maxsize), on_close)
        self.skipped = 0  # snapshots dropped for this subscriber because it lagged

    def _offer(self, snapshot: Snapshot) -> None:
        if self._ended:
            return
        if len(self._items) == self._items.maxlen:
            self.skipped += 1  # the deque drops the oldest
        self._items.append(snapshot)
        self._wake()


class SnapshotStore:
    """Latest Snapshot, the last ``history`` of them, and their subscribers."""

    def __init__(self, history: int = DEFAULT_HISTORY, queue: int = SUBSCRIBER_QUEUE) -> None:
        if history < 1 or queue < 1:
            raise ValueError("history and queue must be at least 1")
        self._history: deque[Snapshot] = deque(maxlen=history)
        self._queue = queue
        self._subs: tuple[SnapshotSubscription, ...] = ()  # replaced, never mutated
        self._closed = False
        self.puts = 0

    @property
    def latest(self) -> Snapshot | None:
        return self._history[-1] if self._history else None

    @property
    def maxlen(self) -> int:
        return self._history.maxlen or 0

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def put(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` as the latest and offer it to every subscriber (never blocks)."""
        self._history.append(snapshot)
        self.puts += 1
        for sub in self._subs:
            sub._offer(snapshot)

    def history(self, container_id: str, n: int) -> list[ContainerStats]:
        """The container's last ``n`` samples, oldest first (passes without it are skipped)."""
        out: list[ContainerStats] = []
        for snapshot in reversed(self._history):
            if len(out) >= n:
                break
            stats = snapshot.containers.get(container_id)
            if stats is not None:
                out.append(stats)
        out.reverse()
        return out

    def subscribe(self) -> SnapshotSubscription:
        """Snapshots put from now on (an ended subscription once the store is closed)."""
        sub = SnapshotSubscription(self._queue, self._remove)
        if self._closed:
            sub._finish()
        else:
            self._subs += (sub,)
        return sub

    def close(self) -> None:
        """End every subscription (consumers still read what was queued for them)."""
        self._closed = True
        for sub in self._subs:
            sub._finish()

    def _remove(self, sub: SnapshotSubscription) -> None:
        self._subs = tuple(s for s in self._subs if s is not sub)
