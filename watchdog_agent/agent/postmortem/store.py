"""Post-mortems on disk: one SQLite file next to the event journal, one JSON document a
row (the API's own shape, ``postmortem_json``), found by container id, name or id prefix
after the container is gone. Without a journal it is an in-memory database (served
until the agent stops). Methods may be called from any thread; a lock serialises them.
The file's set-up (WAL, busy timeout, application_id, schema version) is the shared one
in sqlitefile.py; every sqlite3 or OS error leaves as a StoreError naming the file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from contextlib import AbstractContextManager
from typing import Any

from watchdog_agent.model import PostMortem
from watchdog_agent.sqlitefile import (
    FileKind,
    guard,
    make_parent,
    open_file,
    open_readonly,
    transaction,
)
from watchdog_agent.wire.tojson import event_json, history_json, process_json, rfc3339

KEEP = 1000  # post-mortems kept on disk (the oldest go first)
# without a journal the store is an in-memory database: a document with a minute of
# samples, 100 log lines and 50 events is up to ~100 KB, so keep fewer (~10 MB at most)
KEEP_IN_MEMORY = 100
APPLICATION_ID = 0x5744_504D  # PRAGMA application_id, "WDPM"
# _MIGRATIONS[v] takes a file from user_version v to v + 1. "IF NOT EXISTS": files written
# before the store had a user_version are at 0 and already hold these tables.
_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE IF NOT EXISTS postmortems (
        seq INTEGER PRIMARY KEY,
        container_id TEXT NOT NULL,
        name TEXT,
        died_at_nano INTEGER NOT NULL,
        doc TEXT NOT NULL
    );
    CREATE INDEX IF NOT EXISTS postmortems_id ON postmortems (container_id, seq);
    CREATE INDEX IF NOT EXISTS postmortems_name ON postmortems (name, seq);
    """,
)
POSTMORTEM_FILE = FileKind("post-mortem store", "a", APPLICATION_ID, _MIGRATIONS)


def store_path(journal: str | None) -> str | None:
    """``/var/lib/x/events.db`` -> ``/var/lib/x/events.postmortems.db``; None: in memory."""
    if journal is None:
        return None
    root, ext = os.path.splitext(journal)
    return f"{root}.postmortems{ext or '.db'}"


def postmortem_json(pm: PostMortem) -> dict[str, Any]:
    return {
        "id": pm.container_id,
        "name": pm.name,
        "image": pm.image,
        "action": pm.action,
        "died_at": rfc3339(pm.died_at_nano / 1e9),
        "died_at_nano": pm.died_at_nano,
        "exit_code": pm.exit_code,
        "oom_killed": pm.oom_killed,
        "signal": pm.signal,
        "started_at": rfc3339(pm.started_at),
        "samples": [history_json(s) for s in pm.samples],
        "processes": [process_json(p) for p in pm.processes],
        "processes_at": rfc3339(pm.processes_at),
        "logs": [{"stream": x.stream, "time": x.time, "line": x.line} for x in pm.logs],
        "events": [event_json(e) for e in pm.events],
        "captured_at": rfc3339(pm.captured_at),
        "errors": list(pm.errors),
    }


class PostMortemStore:
    """``open()``, ``put(doc)``, ``lookup(ident)``, ``latest(cid)``, ``close()``."""

    def __init__(self, path: str | None, keep: int | None = None) -> None:
        self.path = path
        self.keep = keep if keep is not None else KEEP if path is not None else KEEP_IN_MEMORY
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def open(self) -> None:
        """Open (creating the file, its directory and its schema as needed)."""
        with self._lock:
            if self._conn is not None:
                return
            if self.path is not None:
                make_parent(POSTMORTEM_FILE, self.path)
            self._conn = open_file(POSTMORTEM_FILE, self.path)

    def open_readonly(self) -> None:
        """Open an existing store without writing to it (the CLI reading what an agent
        stored); StoreError when there is none or it is not a post-mortem store."""
        with self._lock:
            if self._conn is not None:
                return
            if self.path is None:
                raise POSTMORTEM_FILE.error(None, "cannot open: no such file")
            self._conn = open_readonly(POSTMORTEM_FILE, self.path)

    def close(self) -> None:
        with self._lock, self._guard("cannot close"):
            conn, self._conn = self._conn, None
            if conn is not None:
                conn.close()

    def put(self, doc: dict[str, Any]) -> None:
        """Store one post-mortem document and drop the oldest beyond ``keep``."""
        row = (doc["id"], doc["name"], doc["died_at_nano"], json.dumps(doc))
        with (
            self._lock,
            self._guard("cannot store a post-mortem"),
            transaction(self._require()) as conn,
        ):
            conn.execute(
                "INSERT INTO postmortems (container_id, name, died_at_nano, doc)"
                " VALUES (?, ?, ?, ?)",
                row,
            )
            conn.execute(
                "DELETE FROM postmortems WHERE seq <= (SELECT seq FROM postmortems"
                " ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                (self.keep,),
            )

    def lookup(self, ident: str) -> list[str]:
        """Stored container ids for ``ident``: the id, else the latest container of that
        name, else the ids it is a prefix of (several: ambiguous)."""
        with self._lock, self._guard("cannot read post-mortems"):
            conn = self._require()
            exact = "SELECT 1 FROM postmortems WHERE container_id = ?"
            if conn.execute(exact, (ident,)).fetchone():
                return [ident]
            row = conn.execute(
                "SELECT container_id FROM postmortems WHERE name = ? ORDER BY seq DESC LIMIT 1",
                (ident,),
            ).fetchone()
            if row is not None:
                return [row[0]]
            rows = conn.execute(
                "SELECT DISTINCT container_id FROM postmortems"
                " WHERE substr(container_id, 1, ?) = ? ORDER BY container_id",
                (len(ident), ident),
            ).fetchall()
        return [r[0] for r in rows]

    def latest(self, container_id: str) -> dict[str, Any] | None:
        """The container's most recent post-mortem document, or None."""
        with self._lock, self._guard("cannot read post-mortems"):
            row = (
                self._require()
                .execute(
                    "SELECT doc FROM postmortems WHERE container_id = ? ORDER BY seq DESC LIMIT 1",
                    (container_id,),
                )
                .fetchone()
            )
        return None if row is None else json.loads(row[0])

    def _require(self) -> sqlite3.Connection:
        if self._conn is None:
            raise POSTMORTEM_FILE.error(self.path, "post-mortem store is not open")
        return self._conn

    def _guard(self, doing: str) -> AbstractContextManager[None]:
        return guard(POSTMORTEM_FILE, self.path, doing)
