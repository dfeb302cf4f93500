"""Durable SQLite journal of Docker events and gaps (stdlib sqlite3, WAL, synchronous=NORMAL).

History reaches further back than Docker's 256-event buffer. ``seq`` is the insertion
order, which is Docker's publish order; the key ``(time_nano, type, action, actor_id)``
makes a replayed event (``since`` is inclusive) a no-op.

One owner opens and closes a Journal; its methods may be called from any thread (the tap
calls them through ``asyncio.to_thread``) and are serialised by an internal lock, so a
reader and the writer never interleave inside one transaction. Every sqlite3 or OS error
leaves this module as a StoreError naming the file. The file's set-up (WAL, busy timeout,
application_id, schema version and migrations) is the shared one in sqlitefile.py.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from watchdog_agent.events.filters import Narrowing
from watchdog_agent.model import Event, Gap
from watchdog_agent.sqlitefile import FileKind, guard, open_file, transaction

APPLICATION_ID = 0x5744_4A4C  # PRAGMA application_id, "WDJL": marks the file as ours

# _MIGRATIONS[v] takes a file from user_version v to v + 1.
# The UNIQUE index leads with time_nano, so it is also the time index; the other two end
# with time_nano so a filter plus a window is one index range.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        time_nano INTEGER NOT NULL,
        type TEXT NOT NULL,
        action TEXT NOT NULL,
        actor_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        time INTEGER NOT NULL,
        attributes TEXT NOT NULL,
        status TEXT,
        id TEXT,
        from_ TEXT
    );
    CREATE UNIQUE INDEX events_key ON events (time_nano, type, action, actor_id);
    CREATE INDEX events_type_action ON events (type, action, time_nano);
    CREATE INDEX events_actor ON events (actor_id, time_nano);
    CREATE TABLE gaps (
        start_nano INTEGER NOT NULL,
        end_nano INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE INDEX gaps_start ON gaps (start_nano);
    """,
)

_INSERT = (
    "INSERT OR IGNORE INTO events (time_nano, type, action, actor_id, scope, time,"
    " attributes, status, id, from_) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# column order = Event's positional order
_SELECT = (
    "SELECT type, action, actor_id, attributes, scope, time, time_nano, status, id, from_"
    " FROM events"
)

Row = tuple[int, str, str, str, str, int, str, str | None, str | None, str | None]

JOURNAL_FILE = FileKind("event journal", "an", APPLICATION_ID, _MIGRATIONS)
SCHEMA_VERSION = JOURNAL_FILE.version  # PRAGMA user_version


@dataclass(frozen=True, slots=True)
class JournalStats:
    """Numbers for metrics: what is stored, and what retention and de-duplication did."""

    events: int
    gaps: int
    oldest_time_nano: int | None
    last_time_nano: int | None
    file_bytes: int  # database plus its WAL
    duplicates_total: int  # appended events that were already stored (this process)
    pruned_total: int  # events removed by retention (this process)


class Journal:
    """Events and gaps on disk; ``open()`` before use, or use it as a context manager."""

    def __init__(
        self,
        path: str,
        max_age_seconds: float = 7 * 86400,
        max_events: int = 1_000_000,
        *,
        prune_every: int = 10_000,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        if max_age_seconds <= 0 or max_events <= 0 or prune_every <= 0:
            raise ValueError("max_age_seconds, max_events and prune_every must be positive")
        self.path = path
        self.max_age_seconds = max_age_seconds
        self.max_events = max_events
        self._prune_every = prune_every  # new events between two automatic prunes
        self._clock = clock  # unix nanoseconds, for automatic prunes
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        self._count = 0
        self._since_prune = 0
        self._duplicates = 0
        self._pruned = 0

    # -- lifecycle ------------------------------------------------------------------------

    def open(self) -> None:
        """Open the file (creating or migrating the schema); a no-op when already open."""
        with self._lock:
            if self._conn is not None:
                return
            conn = open_file(JOURNAL_FILE, self.path, synchronous="NORMAL")
            try:
                with self._guard("cannot open"):
                    (count,) = conn.execute("SELECT count(*) FROM events").fetchone()
            except BaseException:
                conn.close()
                raise
            self._conn, self._count, self._since_prune = conn, count, 0

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            conn, self._conn = self._conn, None
            if conn is not None:
                with self._guard("cannot close"):
                    try:
                        conn.execute("PRAGMA optimize")
                    finally:
                        conn.close()

    def __enter__(self) -> Journal:
        self.open()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing --------------------------------------------------------------------------

    def append(self, events: Sequence[Event]) -> int:
        """Store a batch in one transaction; returns how many were new (not replays).

        Every ``prune_every`` new events it also prunes; should that fail, the batch is
        already stored and appending it again is harmless.
        """
        if not events:
            return 0
        rows = [_row(e) for e in events]
        with self._lock:
            try:
                new = self._insert(rows)
            except UnicodeEncodeError:  # a lone surrogate: store it scrubbed, never lose it
                new = self._insert([_scrub(r) for r in rows])
            self._count += new
            self._duplicates += len(rows) - new
            self._since_prune += new
            if self._since_prune >= self._prune_every:
                self.prune(self._clock())
        return new

    def add_gap(self, gap: Gap) -> None:
        """Record a stretch of time in which events may have been missed."""
        with self._transaction("cannot record a gap") as conn:
            conn.execute(
                "INSERT INTO gaps (start_nano, end_nano, reason) VALUES (?, ?, ?)",
                (gap.start_nano, gap.end_nano, gap.reason),
            )

    def prune(self, now_nano: int) -> int:
        """Apply retention (age, then count: oldest first); returns how many events went."""
        cutoff = now_nano - int(self.max_age_seconds * 1_000_000_000)
        with self._transaction("cannot prune") as conn:
            gone = conn.execute("DELETE FROM events WHERE time_nano < ?", (cutoff,)).rowcount
            excess = self._count - gone - self.max_events
            if excess > 0:
                gone += conn.execute(
                    "DELETE FROM events WHERE seq <= "
                    "(SELECT seq FROM events ORDER BY seq LIMIT 1 OFFSET ?)",
                    (excess - 1,),
                ).rowcount
            conn.execute("DELETE FROM gaps WHERE end_nano < ?", (cutoff,))
        self._count -= gone
        self._pruned += gone
        self._since_prune = 0
        return gone

    # -- reading --------------------------------------------------------------------------

    def query(
        self,
        since_nano: int | None,
        until_nano: int | None,
        types: Sequence[str] | None = None,
        actions: Sequence[str] | None = None,
        actor_ids: Sequence[str] | None = None,
        predicate: Callable[[Event], bool] | None = None,
        limit: int | None = None,
        narrow: Narrowing | None = None,
    ) -> list[Event]:
        """Stored events in insertion order, oldest first; both bounds are inclusive.

        ``types``/``actions``/``actor_ids`` match exactly (None: any; empty: none), in SQL;
        ``narrow`` (an EventFilter's ``narrowing()``) skips in SQL what its filter cannot
        keep; ``predicate`` (that filter's ``matches``) does the rest; ``limit`` caps the
        result after the predicate.
        """
        where: list[str] = []
        params: list[Any] = []
        if since_nano is not None:
            where.append("time_nano >= ?")
            params.append(since_nano)
        if until_nano is not None:
            where.append("time_nano <= ?")
            params.append(until_nano)
        for column, values in (("type", types), ("action", actions), ("actor_id", actor_ids)):
            if values is not None:
                if not values:
                    return []
                where.append(f"{column} IN ({', '.join('?' * len(values))})")
                params.extend(values)
        if narrow is not None:
            for term, term_params in _narrowing_terms(narrow):
                where.append(term)
                params.extend(term_params)
        if limit is not None and limit <= 0:
            return []
        sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq"
        if limit is not None and predicate is None:
            sql += " LIMIT ?"
            params.append(limit)
        out: list[Event] = []
        with self._lock, self._guard("cannot read events"):
            for row in self._require().execute(sql, params):
                event = _event(row)
                if predicate is None or predicate(event):
                    out.append(event)
                    if len(out) == limit:
                        break
        return out

    def gaps(self, since_nano: int | None, until_nano: int | None) -> list[Gap]:
        """Gaps overlapping the window (bounds inclusive), by start time."""
        with self._lock, self._guard("cannot read gaps"):
            rows = (
                self._require()
                .execute(
                    "SELECT start_nano, end_nano, reason FROM gaps"
                    " WHERE end_nano >= ? AND start_nano <= ? ORDER BY start_nano, rowid",
                    (
                        -(2**63) if since_nano is None else since_nano,
                        2**63 - 1 if until_nano is None else until_nano,
                    ),
                )
                .fetchall()
            )
        return [Gap(*row) for row in rows]

    def last_time_nano(self) -> int | None:
        """``time_nano`` of the most recently stored event: where the tap resumes from."""
        return self._scalar("SELECT time_nano FROM events ORDER BY seq DESC LIMIT 1")

    def first_time_nano(self) -> int | None:
        """``time_nano`` of the oldest stored event: where the journal's coverage begins."""
        return self._scalar("SELECT min(time_nano) FROM events")

    def count(self) -> int:
        """How many events are stored."""
        with self._lock:
            self._require()
            return self._count

    def stats(self) -> JournalStats:
        """Numbers for metrics (cheap: index look-ups and two stat calls)."""
        with self._lock:
            gaps = self._scalar("SELECT count(*) FROM gaps") or 0
            oldest = self.first_time_nano()
            size = 0
            for name in (self.path, self.path + "-wal"):
                try:
                    size += os.stat(name).st_size
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    raise JOURNAL_FILE.error(self.path, f"cannot stat {name}: {exc}") from exc
            return JournalStats(
                events=self._count,
                gaps=gaps,
                oldest_time_nano=oldest,
                last_time_nano=self.last_time_nano(),
                file_bytes=size,
                duplicates_total=self._duplicates,
                pruned_total=self._pruned,
            )

    # -- internals ------------------------------------------------------------------------

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise JOURNAL_FILE.error(self.path, "journal is not open")
        return self._conn

    def _guard(self, doing: str) -> AbstractContextManager[None]:
        return guard(JOURNAL_FILE, self.path, doing)

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._require()
            with self._guard(doing), transaction(conn):
                yield conn

    def _insert(self, rows: list[Row]) -> int:
        with self._transaction("cannot append events") as conn:
            before = conn.total_changes
            conn.executemany(_INSERT, rows)
            return conn.total_changes - before

    def _scalar(self, sql: str) -> int | None:
        with self._lock, self._guard("cannot read"):
            row = self._require().execute(sql).fetchone()
        return None if row is None else row[0]


def _attributes_json(attributes: Mapping[str, str]) -> str:
    """The stored text of an event's attributes (ASCII: json's default escapes the rest)."""
    return json.dumps(attributes, sort_keys=True, separators=(",", ":"), default=dict)


def _narrowing_terms(narrow: Narrowing) -> Iterator[tuple[str, list[str]]]:
    """SQL conditions every event ``narrow`` keeps meets. A value SQLite cannot bind (a
    lone surrogate, which no stored text holds) leaves its part out: the predicate
    still decides."""
    for column, values in (("type", narrow.types), ("scope", narrow.scopes)):
        if values and all(_encodable(v) for v in values):
            yield f"{column} IN ({', '.join('?' * len(values))})", sorted(values)
    actions = narrow.actions
    if actions and all(_encodable(v) for v in actions):
        if not narrow.action_prefixes:
            yield f"action IN ({', '.join('?' * len(actions))})", sorted(actions)
        else:
            ranges = [(v, _after_prefix(v)) for v in sorted(actions)]
            if all(end is not None for _, end in ranges):
                terms = " OR ".join(["(action >= ? AND action < ?)"] * len(ranges))
                yield f"({terms})", [x for r in ranges for x in r if x is not None]
    for key, value in narrow.labels:
        # the attributes column is _attributes_json: a label is its key's JSON, a colon
        # and (when a value is asked) the value's JSON, somewhere in it
        needle = json.dumps(key) + ":" + ("" if value is None else json.dumps(value))
        yield "instr(attributes, ?) > 0", [needle]


def _after_prefix(prefix: str) -> str | None:
    """The least text greater than every text starting with ``prefix`` (UTF-8 order, as
    SQLite's BINARY collation compares, is code point order); None when there is none."""
    if not prefix:
        return None
    code = ord(prefix[-1]) + 1
    if 0xD800 <= code <= 0xDFFF:
        code = 0xE000
    return None if code > 0x10FFFF else prefix[:-1] + chr(code)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _row(e: Event) -> Row:
    attributes = _attributes_json(e.attributes)
    legacy = (e.status, e.id, e.from_)
    return (e.time_nano, e.type, e.action, e.actor_id, e.scope, e.time, attributes, *legacy)


def _event(r: tuple[Any, ...]) -> Event:
    return Event(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], r[6], r[7], r[8], r[9])


def _scrub(row: Row) -> Row:
    """Replace what UTF-8 cannot encode (lone surrogates) with "?"."""
    return tuple(  # type: ignore[return-value]
        v.encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else v for v in row
    )
