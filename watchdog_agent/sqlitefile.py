"""The SQLite set-up shared by the two on-disk stores: the event journal
(events/journal.py) and the post-mortem store (agent/postmortem/store.py).

A store describes its file with a FileKind: its name in error messages, the
``PRAGMA application_id`` that marks a file as that kind, and the migrations that build
its schema (``PRAGMA user_version`` counts those applied). ``open_file`` connects
(autocommit, usable from any thread, busy timeout, WAL), refuses a file of another kind
or with a newer schema, and migrates an older one; ``open_readonly`` reads an existing
file without ever writing to it. ``guard`` turns every sqlite3 or OS error into a
StoreError naming the file. The store owns its connection and serialises its use with a
lock of its own.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from watchdog_agent.errors import StoreError

BUSY_TIMEOUT_MS = 5000  # a writer in another process holds the file this long at most
IN_MEMORY = ":memory:"  # what errors name when a store has no file


@dataclass(frozen=True, slots=True)
class FileKind:
    """What makes a SQLite file one store's."""

    name: str  # "event journal": errors read "event journal PATH: reason"
    article: str  # "an": a foreign file is "not an event journal"
    application_id: int
    migrations: tuple[str, ...]  # migrations[v] takes user_version v to v + 1 (";"-separated)

    @property
    def version(self) -> int:
        """The schema version this agent writes."""
        return len(self.migrations)

    def error(self, path: str | None, reason: str) -> StoreError:
        return StoreError(self.name, path or IN_MEMORY, reason)


@contextmanager
def guard(kind: FileKind, path: str | None, doing: str) -> Iterator[None]:
    """Every sqlite3 or OS error inside leaves as a StoreError: "``doing``: why"."""
    try:
        yield
    except (sqlite3.Error, OSError) as exc:
        raise kind.error(path, f"{doing}: {exc}") from exc


def make_parent(kind: FileKind, path: str) -> None:
    """Create the file's directory (and its parents) if missing."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError as exc:
        raise kind.error(path, f"cannot create {directory}: {exc.strerror}") from exc


def open_file(
    kind: FileKind, path: str | None, synchronous: str | None = None
) -> sqlite3.Connection:
    """A read-write connection to ``path`` (None: a private in-memory database), its
    schema created or migrated; ``synchronous`` sets that PRAGMA (e.g. "NORMAL")."""
    with guard(kind, path, "cannot open"):
        conn = sqlite3.connect(path or IN_MEMORY, isolation_level=None, check_same_thread=False)
    try:
        with guard(kind, path, "cannot open"):
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")  # reads the header: bad files fail here
            if synchronous is not None:
                conn.execute(f"PRAGMA synchronous = {synchronous}")
            version = _check(kind, path, conn)
            if version is None or version < kind.version:
                _migrate(kind, conn)
    except BaseException:
        conn.close()
        raise
    return conn


def open_readonly(kind: FileKind, path: str) -> sqlite3.Connection:
    """A read-only connection to an existing file of this kind (nothing is created or
    migrated; a file an older agent wrote is read as it is)."""
    with guard(kind, path, "cannot open"):
        if not os.path.isfile(path):
            raise sqlite3.OperationalError("no such file")
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    try:
        with guard(kind, path, "cannot open"):
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if _check(kind, path, conn) is None:
                raise kind.error(path, f"not {kind.article} {kind.name} (an empty database)")
    except BaseException:
        conn.close()
        raise
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``; rolled back if the block raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.execute("COMMIT")


def _check(kind: FileKind, path: str | None, conn: sqlite3.Connection) -> int | None:
    """The file's schema version, or None for an empty database; a StoreError for a file
    of another kind or one newer than this agent."""
    (app_id,) = conn.execute("PRAGMA application_id").fetchone()
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if app_id != kind.application_id:
        (tables,) = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        if app_id == 0 and version == 0 and tables == 0:
            return None
        raise kind.error(path, f"not {kind.article} {kind.name} (another SQLite database)")
    if version > kind.version:
        raise kind.error(
            path, f"schema version {version} is newer than this agent's {kind.version}"
        )
    return int(version)


def _migrate(kind: FileKind, conn: sqlite3.Connection) -> None:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    with transaction(conn):
        for step in kind.migrations[version:]:
            for statement in step.split(";"):
                if statement.strip():
                    conn.execute(statement)
        conn.execute(f"PRAGMA application_id = {kind.application_id}")
        conn.execute(f"PRAGMA user_version = {kind.version}")
