"""events/replay.py, the one replay behind `events --journal --since` and /api/v1/events:
a real SQLite journal; Docker's buffer given as the function that reads it (the engine
tests in test_events_backlog.py read a real one)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from watchdog_agent.errors import DockerUnavailable, UsageError
from watchdog_agent.events.filters import EventFilter, parse_filters
from watchdog_agent.events.journal import Journal
from watchdog_agent.events.replay import replay
from watchdog_agent.model import Event, Gap

T0 = 1_700_000_000 * 10**9
S = 10**9
NOW = T0 + 100 * S


def ev(n: int, action: str = "start") -> Event:
    nano = T0 + n * S
    return Event("container", action, f"{n:064x}", {"name": "web"}, "local", nano // S, nano)


anything = EventFilter()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(str(tmp_path / "events.db")) as j:
        j.append([ev(10), ev(11, "die"), ev(12)])
        yield j


class Buffer:
    """Docker's buffer as a replay reads it: these events, or no engine; records the asks."""

    def __init__(self, events: list[Event] | None) -> None:
        self.events = events
        self.asked: list[int] = []

    async def __call__(self, until: int) -> list[Event]:
        self.asked.append(until)
        if self.events is None:
            raise DockerUnavailable("unix:///nowhere", "no such file")
        return [e for e in self.events if e.time_nano <= until]


async def test_a_window_the_journal_covers_is_read_from_it_alone(journal: Journal) -> None:
    buffer = Buffer([ev(5)])
    got = await replay(journal, buffer, anything, (T0 + 10 * S, None), NOW)
    assert got == [ev(10), ev(11, "die"), ev(12)]
    assert buffer.asked == []  # nothing to complete: Docker is not asked


async def test_an_older_window_is_completed_from_docker_once_and_in_order(
    journal: Journal,
) -> None:
    buffer = Buffer([ev(5), ev(10), ev(11, "die")])  # the last two are in the journal too
    got = await replay(journal, buffer, anything, (T0, T0 + 11 * S), NOW)
    assert got == [ev(5), ev(10), ev(11, "die")]
    assert len(buffer.asked) == 1


async def test_the_filter_applies_to_both_sources(journal: Journal) -> None:
    buffer = Buffer([ev(5, "die"), ev(6)])
    got = await replay(journal, buffer, parse_filters(["event=die"]), (T0, None), NOW)
    assert got == [ev(5, "die"), ev(11, "die")]


async def test_what_no_engine_completes_is_a_gap_named_by_the_caller(journal: Journal) -> None:
    got = await replay(journal, Buffer(None), anything, (T0, None), NOW, unavailable="no-docker")
    assert got == [Gap(T0, T0 + 10 * S - 1, "no-docker"), ev(10), ev(11, "die"), ev(12)]
    got = await replay(journal, None, anything, (T0, None), NOW)
    assert got[0] == Gap(T0, T0 + 10 * S - 1, "docker-unavailable")


async def test_without_a_journal_docker_alone_answers_and_a_gap_says_why() -> None:
    got = await replay(None, Buffer([ev(5)]), anything, (T0, T0 + 9 * S), NOW)
    assert got == [ev(5)]  # Docker's buffer is not full: it holds everything
    got = await replay(None, None, anything, (T0, T0 + 9 * S), NOW)
    assert got == [Gap(T0, T0 + 9 * S, "no-journal")]


async def test_more_events_than_the_limit_ask_for_a_narrower_window(journal: Journal) -> None:
    window = (T0 + 10 * S, None)
    assert len(await replay(journal, None, anything, window, NOW, limit=3)) == 3
    with pytest.raises(UsageError, match="more than 2 events match: narrow since/until"):
        await replay(journal, None, anything, window, NOW, limit=2)
