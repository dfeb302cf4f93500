"""The tap's de-duplication window: keys near the newest event, bounded in span and count.

A resume asks Docker for ``since`` = the newest event seen, so only keys within a short
span of it can come again; a window bounded by count alone held 4,096 keys (about 1.7 MB)
for as long as the agent ran (Step 4d's soak).
"""

from __future__ import annotations

import json
from typing import Any, cast

from watchdog_agent.events.tap import SEEN_KEYS, SEEN_SPAN_NS, Tap

NS = 1_000_000_000
T0 = 1_764_000_000 * NS


def line(t: int, n: int) -> bytes:
    msg = {
        "Type": "container",
        "Action": "start",
        "Actor": {"ID": f"{n:064x}", "Attributes": {"name": f"c{n}"}},
        "scope": "local",
        "time": t // NS,
        "timeNano": t,
    }
    return json.dumps(msg).encode()


def tap() -> Tap:
    return Tap(cast(Any, None), on_item=lambda item: None)


def test_keys_older_than_the_span_are_forgotten_and_recent_ones_still_dropped() -> None:
    t = tap()
    for n in range(300):  # one event a second for five minutes
        assert t._take(line(T0 + n * NS, n)) is not None
    assert len(t._seen) == SEEN_SPAN_NS // NS + 1
    # a resume replays the newest events: still recognised
    assert t._take(line(T0 + 299 * NS, 299)) is None
    assert t._take(line(T0 + 250 * NS, 250)) is None
    assert t.duplicates == 2
    # a key outside the span is gone (Docker never replays it: since = the newest)
    assert (T0, "container", "start", f"{0:064x}") not in t._seen


def test_a_burst_inside_the_span_is_bounded_by_count() -> None:
    t = tap()
    for n in range(SEEN_KEYS + 100):  # all within one millisecond
        t._take(line(T0 + n, n))
    assert len(t._seen) == SEEN_KEYS
