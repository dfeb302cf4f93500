"""The latest Snapshot, each container's short history, and the fan-out to subscribers.

The sampler task ``put``s each new Snapshot; HTTP handlers read ``latest`` and
``history`` (read-only conversions, never I/O) and streams iterate a subscription.
Only the latest Snapshot is kept whole: the history is per container, in compact rows
(agent/history.py), and a container's rows are released GONE_GRACE seconds after its last
sample (post-mortems take theirs at the ``die`` event, well before).

Fan-out follows the bus's rules (events/bus.py) with one difference: for snapshots
only the newest matters, so a subscriber that falls behind skips the oldest snapshots it
has not read (``skipped`` counts them) instead of being told about losses. ``put`` never
blocks and never waits for a subscriber. Everything runs on the event loop's thread.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from watchdog_agent.agent.history import History
from watchdog_agent.aio import Mailbox
from watchdog_agent.model import HistoryRow, Snapshot

DEFAULT_HISTORY = 300
GONE_GRACE = 30.0  # seconds a container's rows outlive its last sample
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
    """Latest Snapshot, each container's last ``history`` samples, and the subscribers."""

    def __init__(
        self,
        history: int = DEFAULT_HISTORY,
        queue: int = SUBSCRIBER_QUEUE,
        grace: float = GONE_GRACE,
    ) -> None:
        if history < 1 or queue < 1:
            raise ValueError("history and queue must be at least 1")
        self.rows = History(history, grace)
        self._latest: Snapshot | None = None
        self._queue = queue
        self._subs: tuple[SnapshotSubscription, ...] = ()  # replaced, never mutated
        self._closed = False
        self.puts = 0

    @property
    def latest(self) -> Snapshot | None:
        return self._latest

    @property
    def maxlen(self) -> int:
        return self.rows.capacity

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def put(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` as the latest and offer it to every subscriber (never blocks)."""
        self._latest = snapshot
        self.rows.record(snapshot.containers, snapshot.taken_at)
        self.puts += 1
        for sub in self._subs:
            sub._offer(snapshot)

    def history(self, container_id: str, n: int) -> list[HistoryRow]:
        """The container's last ``n`` samples, oldest first (passes without it are skipped)."""
        return self.rows.rows(container_id, n)

    def history_since(self, container_id: str, t: float) -> list[HistoryRow]:
        """The container's samples taken at or after unix time ``t``, oldest first."""
        return self.rows.since(container_id, t)

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
