"""Password checks that a flood cannot turn against real logins.

- ``BcryptPool``: bcrypt runs in its own few threads; at most ``queue`` checks wait for
  one, and a check over that is refused at once (``Busy``: the caller answers 429), not
  queued. Checks from addresses without recent failures go first, and may take the place
  of the newest waiting check from an address that failed recently.
- ``FailureLimiter``: wrong passwords per client address, a token bucket each (a burst,
  then one every few seconds); an address out of tokens is refused without bcrypt. The
  table is bounded: the oldest addresses are forgotten first.
- ``check_costs``: a bcrypt cost whose check would take more than ``MAX_CHECK_SECONDS``
  of CPU here is refused at start-up, estimated from a small measured one (a cost of 31
  is never computed).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import bcrypt

from watchdog_agent.errors import UsageError

THREADS = 2  # bcrypt threads: the sampler and the server keep the other cores
QUEUE = 16  # checks that may wait for a thread; more are refused at once
FAIL_BURST = 5  # wrong passwords an address may send at once
FAIL_EVERY = 2.0  # then one each this many seconds
ADDRESSES = 4096  # addresses remembered at most
MAX_CHECK_SECONDS = 1.0  # a cost slower than this here is refused at start-up
PROBE_COST = 6  # the cost measured to estimate the others


class Busy(Exception):
    """Too many checks already waiting: answer 429 now rather than wait."""


class BcryptPool:
    """bcrypt.checkpw in ``threads`` threads, ``queue`` waiting at most; ``close`` it.

    Checks from suspect addresses (recent failures) use at most ``threads - 1`` threads,
    so a login from anywhere else always finds one free during a flood."""

    def __init__(self, threads: int = THREADS, queue: int = QUEUE) -> None:
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="bcrypt")
        self._free = threads
        self._suspect_threads = max(1, threads - 1)
        self._suspects_running = 0
        self._queue = queue
        self._clean: deque[asyncio.Future[None]] = deque()
        self._suspect: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._clean) + len(self._suspect)

    async def check(self, password: bytes, digest: bytes, suspect: bool = False) -> bool:
        """bcrypt.checkpw in the pool; Busy when the queue is full. ``suspect``: the
        address failed recently, so this check waits behind every other."""
        await self._slot(suspect)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, bcrypt.checkpw, password, digest)
        finally:
            self._release(suspect)

    def _can_run(self, suspect: bool) -> bool:
        return self._free > 0 and (not suspect or self._suspects_running < self._suspect_threads)

    def _take(self, suspect: bool) -> None:
        self._free -= 1
        self._suspects_running += suspect

    async def _slot(self, suspect: bool) -> None:
        line = self._suspect if suspect else self._clean
        if not line and self._can_run(suspect):
            self._take(suspect)
            return
        if self.waiting >= self._queue:
            if suspect or not self._suspect:
                raise Busy
            self._suspect.pop().set_exception(Busy())  # a clean check takes its place
        turn = asyncio.get_running_loop().create_future()
        line.append(turn)
        try:
            await turn  # resolved by _dispatch, which took a thread for this check
        except asyncio.CancelledError:
            if turn in line:
                line.remove(turn)
            elif turn.done() and not turn.cancelled() and turn.exception() is None:
                self._release(suspect)  # handed a thread, but gone: pass it on
            raise

    def _release(self, suspect: bool) -> None:
        self._free += 1
        self._suspects_running -= suspect
        self._dispatch()

    def _dispatch(self) -> None:
        for line, suspect in ((self._clean, False), (self._suspect, True)):
            while line and self._can_run(suspect):
                turn = line.popleft()
                if not turn.done():
                    self._take(suspect)
                    turn.set_result(None)

    def close(self) -> None:
        for line in (self._clean, self._suspect):
            while line:
                line.popleft().cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)


class FailureLimiter:
    """Wrong passwords per address: ``burst`` at once, then one each ``every`` seconds."""

    def __init__(
        self,
        burst: int = FAIL_BURST,
        every: float = FAIL_EVERY,
        size: int = ADDRESSES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.every = every
        self.size = size
        self.clock = clock
        self._spent: OrderedDict[str, tuple[float, float]] = OrderedDict()  # addr: (tokens, at)

    def _tokens(self, address: str) -> float:
        entry = self._spent.get(address)
        if entry is None:
            return float(self.burst)
        tokens, at = entry
        return min(float(self.burst), tokens + (self.clock() - at) / self.every)

    def allowed(self, address: str) -> bool:
        """May this address have a password checked now?"""
        return self._tokens(address) >= 1.0

    def suspect(self, address: str) -> bool:
        """Has this address sent a wrong password recently?"""
        return self._tokens(address) < self.burst

    def failed(self, address: str) -> None:
        tokens = self._tokens(address) - 1.0
        self._spent[address] = (tokens, self.clock())
        self._spent.move_to_end(address)
        while len(self._spent) > self.size:
            self._spent.popitem(last=False)
        while self._spent:  # addresses whose budget is whole again are forgotten
            oldest = next(iter(self._spent))
            if self._tokens(oldest) < self.burst:
                break
            del self._spent[oldest]

    def __len__(self) -> int:
        return len(self._spent)


def hash_cost(digest: bytes) -> int:
    """The cost of a ``$2b$NN$...`` hash (checked by the caller's pattern)."""
    return int(digest.split(b"$")[2])


def seconds_per_check(cost: int, probe: float) -> float:
    """The time of one check at ``cost``, from the time ``probe`` of one at PROBE_COST."""
    return probe * 2.0 ** (cost - PROBE_COST)


def measure_probe(repeat: int = 3) -> float:
    """CPU seconds one bcrypt check at PROBE_COST takes here (the fastest of ``repeat``).
    CPU time of this thread, not wall time: a busy host must not make a cost that fits
    look too slow (it would refuse to start one day and start the next)."""
    digest = bcrypt.hashpw(b"probe", bcrypt.gensalt(rounds=PROBE_COST))
    best = float("inf")
    for _ in range(repeat):
        start = time.thread_time()
        bcrypt.checkpw(b"probe", digest)
        best = min(best, time.thread_time() - start)
    return best


def check_costs(path: str, users: Iterable[tuple[str, bytes]], probe: float | None = None) -> None:
    """UsageError for a user whose hash would take more than MAX_CHECK_SECONDS a check."""
    probe = measure_probe() if probe is None else probe
    for user, digest in users:
        cost = hash_cost(digest)
        took = seconds_per_check(cost, probe)
        if took > MAX_CHECK_SECONDS:
            fits = PROBE_COST
            while seconds_per_check(fits + 1, probe) <= MAX_CHECK_SECONDS:
                fits += 1
            raise UsageError(
                f"{path}: the hash for {user!r} has bcrypt cost {cost}, about {took:.3g} s "
                f"of CPU a check here (more than {MAX_CHECK_SECONDS:g} s, so a few logins would "
                f"stall the agent); use a cost of at most {fits}"
            )
