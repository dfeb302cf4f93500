"""Counts of things that come in floods (connections shed, logins refused), logged as
one line with the counts at most once per interval instead of a line each."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from watchdog_agent.logsetup import get_logger

log = get_logger("watchdog_agent.server")

LOG_EVERY = 10.0  # seconds between two lines of one tally at most


class Tally:
    """``count(what)`` now; one ``event`` line with every count since the last one, a
    ``log_every`` seconds after the first count. Its owner calls ``close`` (logs what is
    left)."""

    def __init__(self, event: str, log_every: float = LOG_EVERY) -> None:
        self.event = event
        self.log_every = log_every
        self.recent: Counter[str] = Counter()  # since the last line
        self.total: Counter[str] = Counter()  # since start
        self._flush: asyncio.TimerHandle | None = None

    def count(self, what: str, **context: Any) -> None:
        self.recent[what] += 1
        self.total[what] += 1
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(self.log_every, self.flush)

    def flush(self, **context: Any) -> None:
        self._flush = None
        if self.recent:
            log.warning(self.event, **context, **dict(sorted(self.recent.items())))
            self.recent.clear()

    def close(self, **context: Any) -> None:
        if self._flush is not None:
            self._flush.cancel()
        self.flush(**context)
