"""Event-loop helpers shared by the packages.

- ``Mailbox``: one consumer's queue for fan-out: producers append without ever blocking,
  the consumer awaits ``async for``; either side can end it. Subclasses decide what to
  drop when the consumer falls behind (the bus drops the newest and says how many; the
  snapshot store drops the oldest).
- ``spawn``: start a long-lived task whose end is reported in the log when it happens;
  ``cancel_and_wait``: its owner's shutdown.
- ``FixedRate``: waits that keep a loop on a fixed rate (a late turn moves the schedule
  rather than firing a burst to catch up).
- ``run_to_end``: a blocking call in a thread whose caller, when cancelled, still waits
  for the thread before it closes what the thread uses.
- ``next_within``, ``wait_within``: an await with a deadline. Never ``asyncio.wait_for``
  in a task someone cancels: on Python 3.11 it runs the await in a task of its own and,
  when that task ends in the loop turn the cancel arrives, returns its result and drops
  the cancel (CPython gh-86296; 3.12 rewrote it). The owner's ``cancel_and_wait`` then
  waits for ever: an agent that got SIGTERM as an event reached its inventory hung until
  SIGKILL. ``asyncio.timeout`` awaits in the caller's own task, where a cancel always
  lands.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Coroutine
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

from watchdog_agent.logsetup import get_logger

log = get_logger("watchdog_agent.aio")

T = TypeVar("T")


def spawn(name: str, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
    """Start ``coro`` as the task ``watchdog-<name>``. Such a task runs until cancelled,
    so its end is logged the moment it happens (an error with the traceback if it failed,
    a warning if it returned), not when, or if, someone awaits it. The caller owns the
    task: it cancels and awaits it (``cancel_and_wait``) at shutdown."""
    task = asyncio.get_running_loop().create_task(coro, name=f"watchdog-{name}")
    task.add_done_callback(functools.partial(_report, name))
    return task


async def cancel_and_wait(tasks: Collection[asyncio.Task[Any]]) -> None:
    """Cancel the tasks and wait until each has finished (its error is left to it)."""
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks)


def _report(name: str, task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("background task failed", task=name, exc_info=exc)
    else:
        log.warning("background task ended", task=name)


class Mailbox(Generic[T]):
    __slots__ = ("_ended", "_items", "_on_close", "_waiter")

    def __init__(self, items: deque[T], on_close: Callable[[Any], None]) -> None:
        self._items = items
        self._on_close = on_close
        self._ended = False
        self._waiter: asyncio.Future[None] | None = None

    @property
    def closed(self) -> bool:
        """True once no more items will arrive."""
        return self._ended

    def qsize(self) -> int:
        """Items waiting."""
        return len(self._items)

    def close(self) -> None:
        """Unsubscribe: queued items are discarded and iteration ends."""
        self._items.clear()
        self._finish()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        items = self._items
        while not items:
            if self._ended:
                self._at_end()
                raise StopAsyncIteration
            if self._waiter is not None:
                raise RuntimeError(f"a {type(self).__name__} has only one consumer at a time")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return items.popleft()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _at_end(self) -> None:
        """Called when iteration is about to end (raise to end it with an error)."""

    def _finish(self) -> None:
        """No more items: the consumer reads what is queued, then iteration ends."""
        if not self._ended:
            self._ended = True
            self._on_close(self)
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


async def run_to_end(func: Callable[..., T], *args: Any) -> T:
    """``asyncio.to_thread`` that, when cancelled, still waits for the thread to finish
    before re-raising: the caller may then close what the thread was using."""
    job = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        await asyncio.wait([job])
        raise


async def next_within(items: AsyncIterator[T], timeout: float | None) -> T | None:
    """The next item, or None when ``timeout`` seconds passed first (None: no deadline);
    StopAsyncIteration at the end. A cancel is never lost (the module's doc: why)."""
    try:
        async with asyncio.timeout(timeout):
            return await anext(items)
    except TimeoutError:
        return None


async def wait_within(event: asyncio.Event, timeout: float) -> bool:
    """True once ``event`` is set, False when ``timeout`` seconds passed first. A cancel
    is never lost (the module's doc: why)."""
    try:
        async with asyncio.timeout(timeout):
            await event.wait()
    except TimeoutError:
        return False
    return True


class FixedRate:
    """``await rate.wait()`` at the top of a loop: the first wait ends ``first`` seconds
    after the first call, each next one ``interval`` seconds after the previous end, or at
    once when the loop's work took longer than that."""

    def __init__(self, interval: float, first: float = 0.0) -> None:
        self.interval = interval
        self.first = first
        self._due: float | None = None

    async def wait(self) -> None:
        loop = asyncio.get_running_loop()
        if self._due is None:
            self._due = loop.time() + self.first
        else:
            self._due = max(self._due + self.interval, loop.time())
        await asyncio.sleep(max(0.0, self._due - loop.time()))
