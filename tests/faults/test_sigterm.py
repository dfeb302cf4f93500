"""SIGTERM with 20 streams open, then a start on the same journal.

``watchdog-agent serve --journal J`` on a private engine (so that Docker's own 256-event
buffer holds everything this test does) serves 20 open streams: events (NDJSON and SSE),
log follows and stats streams. SIGTERM must end it by itself (exit 0; ServeProcess.stop
sends SIGKILL only after 15 s, as systemd and the kubelet do) with every stream ended as
HTTP says (its last chunk sent) from the client's side, and the journal must pass
SQLite's ``PRAGMA integrity_check``. Events that happen while no agent runs must be in
the journal once the next agent has started on it, each exactly once, and no gap
recorded: compared with ``docker events --since --until`` of the engine.
"""

from __future__ import annotations

import collections
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.dockercli import IMAGE, TEST_LABEL, unique_name
from helpers.faultkit import Stream, wait_for
from helpers.privateengine import Key, PrivateEngine, key_of, started_engine
from helpers.serveproc import ServeProcess

pytestmark = pytest.mark.engine

SSE = {"Accept": "text/event-stream"}


@pytest.fixture(scope="module")
def engine() -> Iterator[PrivateEngine]:
    with started_engine() as eng:
        yield eng


def run(eng: PrivateEngine, *args: str) -> str:
    labels = ("--label", TEST_LABEL, "--label", eng.session_label, "--network", "none")
    out = eng.docker("run", *labels, *args).stdout.decode().strip()
    return out.splitlines()[-1] if out else ""


def journal_keys(path: Path) -> collections.Counter[Key]:
    """Every stored event's key, read-only (the agent may be writing)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT time_nano, type, action, actor_id FROM events").fetchall()
    finally:
        conn.close()
    return collections.Counter((int(t), str(ty), str(a), str(i)) for t, ty, a, i in rows)


def journal_gaps(path: Path) -> list[tuple[int, int, str]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [(int(s), int(e), str(r)) for s, e, r in
                conn.execute("SELECT start_nano, end_nano, reason FROM gaps")]  # fmt: skip
    finally:
        conn.close()


def agent_on(eng: PrivateEngine, journal: Path) -> ServeProcess:
    return ServeProcess(
        "--docker-host", eng.host, "--journal", str(journal), "--interval", "0.2",
        docker_host=eng.host,
    )  # fmt: skip


def test_sigterm_with_20_streams_then_resume(engine: PrivateEngine, tmp_path: Path) -> None:
    eng, journal = engine, tmp_path / "events.db"
    cid = run(eng, "-d", "--name", unique_name("sigterm"), IMAGE, "sh", "-c",
              "while true; do echo tick; sleep 0.2; done")  # fmt: skip
    agent = agent_on(eng, journal)
    streams: list[Stream] = []
    try:
        base = agent.wait_url()
        paths: list[tuple[str, dict[str, str]]] = (
            [("/api/v1/events", {})] * 6
            + [("/api/v1/events", SSE)] * 2
            + [(f"/api/v1/events?filter=container={cid}", {})] * 2
            + [(f"/api/v1/containers/{cid}/logs?follow=1&tail=1", {})] * 5
            + [(f"/api/v1/containers/{cid}/stats?stream=1", {})] * 4
            + [(f"/api/v1/containers/{cid}/stats?stream=1", SSE)]
        )
        assert len(paths) == 20
        for path, headers in paths:
            stream = Stream(base + path, headers)
            stream.start()
            streams.append(stream)
        for stream in streams:
            stream.opened.wait(20)
            assert stream.status == 200, (stream.url, stream.status, stream.ended)
        since = time.time_ns()
        run(eng, "--rm", IMAGE, "true")  # events while every stream is open
        eng.docker("pause", cid)
        eng.docker("unpause", cid)
        wait_for(lambda: all(s.lines for s in streams), 20, "a line on every stream")
    finally:
        code = agent.stop()
        for stream in streams:
            stream.join(10)
    assert code == 0, f"SIGTERM: exit {code}: {agent.logs[-10:]}"
    ended = collections.Counter(s.ended for s in streams)
    assert ended == {"eof": 20}, ended
    assert agent.said("stopped") is not None, agent.logs[-10:]
    conn = sqlite3.connect(journal)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        conn.close()

    # while no agent runs: Docker buffers these
    run(eng, "--rm", IMAGE, "true")
    eng.docker("pause", cid)
    eng.docker("unpause", cid)
    stored_before = sum(journal_keys(journal).values())
    until = time.time_ns()
    docker = [key_of(json.loads(line)) for line in eng.events(since, until)]
    assert 0 < len(docker) < 256, f"{len(docker)} events: more than Docker buffers"

    second = agent_on(eng, journal)
    try:
        second.wait_url()
        wait_for(lambda: set(docker) <= set(journal_keys(journal)), 30,
                 "the events of the downtime in the journal")  # fmt: skip
    finally:
        code = second.stop()
    assert code == 0, second.logs[-10:]
    stored = journal_keys(journal)
    assert sum(stored.values()) > stored_before
    assert not [k for k in docker if stored[k] != 1], "an event stored twice or not at all"
    assert journal_gaps(journal) == [], "continuity was provable: no gap for a quick restart"
