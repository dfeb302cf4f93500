"""An asyncio event loop on a thread of its own, and the bridges to and from it.

The data side (network, JSON decoding; the in-process agent) runs on such loops so that
nothing it does delays the UI's loop. ``LoopThread`` owns its thread and loop: ``stop``
cancels what still runs there, closes the loop and joins the thread.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import AsyncIterator, Coroutine
from typing import Any, TypeVar

_T = TypeVar("_T")
STOP_WAIT = 10.0  # seconds stop() waits for the loop's tasks to end


class LoopThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._started = False
        self._stopped = False

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, _T]) -> concurrent.futures.Future[_T]:
        """Run ``coro`` on this loop (started if need be); its future, for any thread."""
        if self._stopped:
            coro.close()
            raise RuntimeError(f"{self.name} is stopped")
        self.start()
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        """Await ``coro`` run on this loop from another loop (cancelling it cancels both)."""
        return await asyncio.wrap_future(self.submit(coro))

    async def iterate(self, source: AsyncIterator[_T], buffer: int = 256) -> AsyncIterator[_T]:
        """Items of ``source`` (iterated on this loop) on the caller's loop, with back
        pressure: at most ``buffer`` items wait. Leaving the loop early stops ``source``;
        ``stop`` ends the iteration (after the items already handed over)."""
        caller = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[bool, Any]] = asyncio.Queue(buffer)

        async def hand(item: tuple[bool, Any]) -> None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(queue.put(item), caller))

        async def pump() -> None:
            try:
                async for item in source:
                    await hand((True, item))
            except asyncio.CancelledError:
                raise
            except BaseException as exc:  # handed to the consumer, raised there
                await hand((False, exc))
                return
            finally:
                aclose = getattr(source, "aclose", None)
                if aclose is not None:
                    await aclose()
            await hand((False, None))

        future = self.submit(pump())
        pumped = asyncio.wrap_future(future)
        try:
            while True:
                if queue.empty() and pumped.done():
                    return  # cancelled on this thread (stop): the stream ends here
                getter = asyncio.ensure_future(queue.get())
                waiting: set[asyncio.Future[Any]] = {getter, pumped}
                await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    getter.cancel()
                    continue
                ok, value = getter.result()
                if ok:
                    yield value
                elif value is None:
                    return
                else:
                    raise value
        finally:
            future.cancel()

    def stop(self) -> None:
        """Cancel every task still on the loop, stop it, join the thread (idempotent)."""
        if self._stopped:
            return
        self._stopped = True
        if not self._started:
            self.loop.close()
            return

        async def cancel_all() -> None:
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        future = asyncio.run_coroutine_threadsafe(cancel_all(), self.loop)
        with contextlib.suppress(
            concurrent.futures.TimeoutError, concurrent.futures.CancelledError
        ):
            future.result(STOP_WAIT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(STOP_WAIT)
        if not self._thread.is_alive():
            self.loop.close()
