"""The SQLite event journal: exact round trips, replays ignored, windows, retention, bad files."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from watchdog_agent.errors import StoreError, WatchdogError
from watchdog_agent.events.filters import parse_filters
from watchdog_agent.events.journal import SCHEMA_VERSION, Journal
from watchdog_agent.model import Event, Gap

T0 = 1_724_400_000_000_000_000  # unix nanoseconds
S = 1_000_000_000  # one second in nanoseconds
ID = "ede54ee1afda366ab42f824e8a5ffd195155d853ceaec74a927f249ea270c743"


def ev(
    n: int, action: str = "start", actor: str = ID, type_: str = "container", **attrs: str
) -> Event:
    """An event n seconds after T0."""
    return Event(
        type=type_,
        action=action,
        actor_id=actor,
        attributes={"name": "web", "image": "alpine:3.20", **attrs},
        scope="local",
        time=(T0 + n * S) // S,
        time_nano=T0 + n * S,
    )


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(str(tmp_path / "events.db"), clock=lambda: T0) as j:
        yield j


def test_round_trip_keeps_every_field(journal: Journal) -> None:
    legacy = Event(
        type="container",
        action="exec_start: sh -c 'echo hi'",
        actor_id=ID,
        attributes={"z": "last", "com.example.team": "payments", "execID": "abc", "": "é✓"},
        scope="local",
        time=1_724_400_000,
        time_nano=1_724_400_000_123_456_789,
        status="exec_start: sh -c 'echo hi'",
        id=ID,
        from_="alpine:3.20",
    )
    prune = Event("image", "prune", "", {"reclaimed": "0"}, "local", 1, 1_000_000_001)
    assert journal.append([legacy, prune]) == 2
    assert journal.query(None, None) == [legacy, prune]
    assert journal.query(None, None)[0].from_ == "alpine:3.20"
    assert journal.query(None, None)[1].status is None


def test_attributes_are_stored_as_sorted_json(journal: Journal, tmp_path: Path) -> None:
    journal.append([ev(0, b="2", a="1")])
    journal.close()
    with sqlite3.connect(tmp_path / "events.db") as raw:
        (text,) = raw.execute("SELECT attributes FROM events").fetchone()
    assert text == '{"a":"1","b":"2","image":"alpine:3.20","name":"web"}'


def test_replayed_events_are_ignored_and_counted(journal: Journal) -> None:
    assert journal.append([ev(0), ev(1)]) == 2
    # resuming with since=<last timeNano> replays the last event: only ev(2) is new
    assert journal.append([ev(1), ev(2)]) == 1
    assert journal.append([ev(0), ev(0)]) == 0
    assert journal.count() == 3
    assert journal.stats().duplicates_total == 3
    assert [e.time_nano for e in journal.query(None, None)] == [T0, T0 + S, T0 + 2 * S]


def test_same_time_different_action_is_not_a_duplicate(journal: Journal) -> None:
    assert journal.append([ev(0, "kill"), ev(0, "die"), ev(0, "die", actor="b" * 64)]) == 3


def test_bounds_are_inclusive(journal: Journal) -> None:
    journal.append([ev(n) for n in range(10)])
    got = journal.query(T0 + 3 * S, T0 + 6 * S)
    assert [e.time_nano for e in got] == [T0 + n * S for n in (3, 4, 5, 6)]
    assert [e.time_nano for e in journal.query(T0 + 8 * S, None)] == [T0 + 8 * S, T0 + 9 * S]
    assert [e.time_nano for e in journal.query(None, T0)] == [T0]
    assert journal.query(T0 + 6 * S, T0 + 5 * S) == []


def test_order_is_insertion_order_not_time(journal: Journal) -> None:
    # publish order is the truth: a clock stepping back must not reorder history
    batch = [ev(5, "create"), ev(3, "start"), ev(4, "die")]
    journal.append(batch[:1])
    journal.append(batch[1:])
    assert journal.query(None, None) == batch
    assert journal.last_time_nano() == T0 + 4 * S


def test_sql_narrowing_and_predicate(journal: Journal) -> None:
    other = "b" * 64
    journal.append(
        [
            ev(0, "start"),
            ev(1, "die", exitCode="0"),
            ev(2, "die", actor=other, exitCode="137"),
            ev(3, "create", type_="network", actor="net1"),
            ev(4, "die", exitCode="1"),
        ]
    )
    dies = journal.query(None, None, types=["container"], actions=["die"])
    assert [e.time_nano for e in dies] == [T0 + S, T0 + 2 * S, T0 + 4 * S]
    mine = journal.query(None, None, actor_ids=[ID], actions=["die", "start"])
    assert [e.time_nano for e in mine] == [T0, T0 + S, T0 + 4 * S]
    assert journal.query(None, None, types=["network"])[0].actor_id == "net1"
    assert journal.query(None, None, types=[]) == []
    failed = journal.query(
        None, None, actions=["die"], predicate=lambda e: e.attributes["exitCode"] != "0", limit=1
    )
    assert [e.time_nano for e in failed] == [T0 + 2 * S]
    assert len(journal.query(None, None, limit=2)) == 2


def test_a_filters_narrowing_skips_in_sql_what_it_cannot_keep(journal: Journal) -> None:
    journal.append(
        [
            ev(0, "start", tier="web"),
            ev(1, "die", tier="db"),
            ev(2, "exec_start: sh -c true", tier="web"),
            ev(3, "exec_die", tier='say "web"'),
            ev(4, "die", type_="network", actor="net1", tier="web"),
            ev(5, "die", tier="wéb"),
        ]
    )

    def narrowed(*filters: str) -> list[int]:
        narrow = parse_filters(filters).narrowing()
        return [(e.time_nano - T0) // S for e in journal.query(None, None, narrow=narrow)]

    assert narrowed() == [0, 1, 2, 3, 4, 5]
    assert narrowed("event=die") == [1, 4, 5]
    assert narrowed("event=die", "type=container") == [1, 5]
    # exec_start switches every value to a prefix: "exec_start: sh ...", "st..."
    assert narrowed("event=exec_start") == [2]
    assert narrowed("event=exec_start", "event=st") == [0, 2]
    assert narrowed("event=di") == []
    assert narrowed("event=exec_start", "event=di") == [1, 2, 4, 5]
    assert narrowed("label=tier=web") == [0, 2, 4]
    assert narrowed("label=tier=wéb") == [5]
    assert narrowed('label=tier=say "web"') == [3]
    assert narrowed("label=tier", "event=die") == [1, 4, 5]
    assert narrowed("label=tier", "label=tier=web") == [0, 2, 4]  # a key with and without
    assert narrowed("label=team") == []
    assert narrowed("scope=swarm") == []
    # exclusions and names are the predicate's: the narrowing keeps them all
    assert narrowed("event!=die", "container=nothing") == [0, 1, 2, 3, 4, 5]
    assert journal.query(None, None, limit=0) == []


def test_gaps_overlapping_the_window(journal: Journal) -> None:
    a = Gap(T0, T0 + 10 * S, "disconnected")
    b = Gap(T0 + 20 * S, T0 + 30 * S, "daemon-restart")
    journal.add_gap(b)
    journal.add_gap(a)
    assert journal.gaps(None, None) == [a, b]
    assert journal.gaps(T0 + 10 * S, T0 + 20 * S) == [a, b]  # inclusive at both ends
    assert journal.gaps(T0 + 11 * S, T0 + 19 * S) == []
    assert journal.gaps(T0 + 25 * S, None) == [b]
    assert journal.gaps(None, T0 - 1) == []
    assert journal.gaps(T0 + 5 * S, T0 + 6 * S) == [a]  # the window inside a gap
    assert journal.stats().gaps == 2


def test_retention_by_age(tmp_path: Path) -> None:
    with Journal(str(tmp_path / "j.db"), max_age_seconds=60) as journal:
        journal.append([ev(n) for n in range(0, 200, 10)])  # T0 .. T0+190 s
        journal.add_gap(Gap(T0, T0 + 5 * S, "agent-down"))
        journal.add_gap(Gap(T0 + 100 * S, T0 + 150 * S, "disconnected"))
        assert journal.prune(T0 + 190 * S) == 13  # everything before T0+130 s goes
        assert journal.query(None, None)[0].time_nano == T0 + 130 * S
        assert journal.count() == 7
        assert journal.gaps(None, None) == [Gap(T0 + 100 * S, T0 + 150 * S, "disconnected")]
        assert journal.prune(T0 + 190 * S) == 0


def test_retention_by_count_keeps_the_newest(tmp_path: Path) -> None:
    with Journal(str(tmp_path / "j.db"), max_events=5) as journal:
        journal.append([ev(n) for n in range(8)])
        assert journal.prune(T0 + 10 * S) == 3
        assert [e.time_nano for e in journal.query(None, None)] == [T0 + n * S for n in range(3, 8)]
        assert journal.stats().pruned_total == 3


def test_append_prunes_every_n_inserts(tmp_path: Path) -> None:
    j = Journal(str(tmp_path / "j.db"), max_events=10, prune_every=25, clock=lambda: T0)
    with j:
        for start in range(0, 40, 4):
            j.append([ev(n) for n in range(start, start + 4)])
            assert j.count() <= 10 + 24  # bounded between two prunes
        assert j.stats().pruned_total > 0
        assert j.query(None, None)[-1].time_nano == T0 + 39 * S


def test_survives_close_and_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "j.db")
    with Journal(path) as journal:
        journal.append([ev(0), ev(1)])
        journal.add_gap(Gap(T0, T0 + S, "agent-down"))
    with Journal(path) as journal:
        assert journal.count() == 2
        assert journal.last_time_nano() == T0 + S
        assert journal.gaps(None, None) == [Gap(T0, T0 + S, "agent-down")]
        assert journal.append([ev(1), ev(2)]) == 1  # dedupe holds across restarts
        stats = journal.stats()
    assert (stats.events, stats.oldest_time_nano, stats.last_time_nano) == (3, T0, T0 + 2 * S)
    assert stats.file_bytes > 0
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_empty_journal(journal: Journal) -> None:
    assert journal.last_time_nano() is None
    assert journal.count() == 0
    assert journal.append([]) == 0
    assert journal.stats().oldest_time_nano is None


@pytest.mark.parametrize("garbage", [b"not a database", b"\x00\xffgarbage" * 4096])
def test_corrupt_file_raises_store_error(tmp_path: Path, garbage: bytes) -> None:
    path = tmp_path / "events.db"
    path.write_bytes(garbage)
    journal = Journal(str(path))
    with pytest.raises(StoreError) as info:
        journal.open()
    assert isinstance(info.value, WatchdogError)
    assert info.value.path == str(path) and info.value.store == "event journal"
    assert str(info.value).startswith(f"event journal {path}: ")
    assert "not a database" in info.value.reason


def test_unopenable_path_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open"):
        Journal(str(tmp_path / "missing-dir" / "events.db")).open()


def test_foreign_or_newer_database_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as raw:
        raw.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreError, match="not an event journal"):
        Journal(str(other)).open()
    newer = tmp_path / "newer.db"
    with Journal(str(newer)):
        pass  # creates the schema
    with sqlite3.connect(newer) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer"):
        Journal(str(newer)).open()


def test_use_before_open_is_a_store_error(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "j.db"))
    with pytest.raises(StoreError, match="not open"):
        journal.query(None, None)
    journal.close()  # closing a closed journal is fine


async def test_writer_and_readers_on_worker_threads(journal: Journal) -> None:
    """The tap appends through asyncio.to_thread while API handlers query the same way."""

    async def write(start: int) -> None:
        for n in range(start, start + 200, 20):
            await asyncio.to_thread(journal.append, [ev(k) for k in range(n, n + 20)])

    async def read() -> None:
        for _ in range(20):
            got = await asyncio.to_thread(journal.query, None, None)
            assert len(got) % 20 == 0  # a reader sees whole batches only

    await asyncio.gather(write(0), write(1000), read(), read())
    assert journal.count() == 400


def test_lone_surrogate_is_scrubbed_not_lost(journal: Journal) -> None:
    assert journal.append([ev(0, actor="bad\ud800id")]) == 1
    assert journal.query(None, None)[0].actor_id == "bad?id"


_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.builds(
            Event,
            type=_text,
            action=_text,
            actor_id=_text,
            attributes=st.dictionaries(_text, _text, max_size=5),
            scope=st.sampled_from(["local", "swarm"]),
            time=st.integers(0, 2**40),
            time_nano=st.integers(-(2**63), 2**63 - 1),
            status=st.none() | _text,
            id=st.none() | _text,
            from_=st.none() | _text,
        ),
        max_size=20,
    )
)
def test_any_batch_round_trips_once(
    tmp_path_factory: pytest.TempPathFactory, batch: list[Event]
) -> None:
    first: dict[tuple[int, str, str, str], Event] = {}
    for e in batch:
        first.setdefault(e.key, e)
    with Journal(str(tmp_path_factory.mktemp("j") / "j.db")) as journal:
        assert journal.append(batch) == len(first)
        assert journal.append(batch) == 0
        assert journal.query(None, None) == list(first.values())
