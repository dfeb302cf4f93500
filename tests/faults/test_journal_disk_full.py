"""The event journal's disk full, and space coming back.

``watchdog-agent serve --journal`` writes to a small tmpfs of the test's own; a filler
file takes the rest of it. Events made then (``docker pause``/``unpause`` of a test
container) must still reach an open events stream; the failure must be logged and
counted (``watchdog_journal_errors_total``); nothing crashes (/healthz stays 200, the
tap stays connected). Once the filler is gone the journal stores again, and a gap with
reason ``journal-error`` spans the events it missed (events/service.py).
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.dockercli import IMAGE, TEST_LABEL, unique_name
from helpers.faultkit import Stream, http_get, metric, wait_for
from helpers.fleet import mount_tmpfs, unmount
from helpers.privateengine import PrivateEngine, started_engine
from helpers.serveproc import ServeProcess

pytestmark = pytest.mark.engine

TMPFS_MIB = 4


@pytest.fixture(scope="module")
def engine() -> Iterator[PrivateEngine]:
    """An engine of its own: only this test's events pass through the agent's tap."""
    with started_engine() as eng:
        yield eng


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    mount_tmpfs(disk, TMPFS_MIB)
    try:
        yield disk
    finally:
        unmount(disk)


def fill(path: Path) -> int:
    """Write ``path`` until the filesystem is full; bytes written."""
    chunk = b"\0" * 65536
    written = 0
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                written += f.write(chunk) or 0
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                break
        # the last partial blocks too, so that not even a page is left
        for size in (4096, 512, 1):
            while True:
                try:
                    written += f.write(b"\0" * size) or 0
                except OSError:
                    break
    return written


def toggle(eng: PrivateEngine, cid: str) -> None:
    """Two events: pause, unpause."""
    eng.docker("pause", cid)
    eng.docker("unpause", cid)


def times_of(stream: Stream, cid: str, action: str) -> list[int]:
    out = []
    for item in stream.items():
        actor = item.get("Actor")
        t = item.get("timeNano")
        if item.get("Action") == action and isinstance(actor, dict) and actor.get("ID") == cid:
            assert isinstance(t, int)
            out.append(t)
    return out


def test_journal_disk_full_then_space_returns(engine: PrivateEngine, small_disk: Path) -> None:
    labels = ("--label", TEST_LABEL, "--label", engine.session_label, "--network", "none")
    run = engine.docker("run", "-d", *labels, "--name", unique_name("jfull"), IMAGE, "sleep", "300")
    cid = run.stdout.decode().split()[-1]
    journal = small_disk / "events.db"
    agent = ServeProcess(
        "--docker-host", engine.host, "--journal", str(journal), "--interval", "1",
        docker_host=engine.host,
    )  # fmt: skip
    stream: Stream | None = None
    filler = small_disk / "filler"
    try:
        base = agent.wait_url()
        stream = Stream(base + f"/api/v1/events?filter=container={cid}")
        stream.start()
        stream.opened.wait(10)
        assert stream.status == 200
        toggle(engine, cid)
        wait_for(lambda: times_of(stream, cid, "unpause"), 20, "a first event on the stream")

        def errors() -> float | None:
            status, body = http_get(base + "/metrics")
            assert status == 200, body[:300]
            return metric(body, "watchdog_journal_errors_total")

        assert errors() == 0
        fill(filler)
        # SQLite may still find room in pages it has (its WAL): toggle until a write fails
        full_from = time.time_ns()
        deadline = time.monotonic() + 30
        while not errors():
            assert time.monotonic() < deadline, "the journal never failed on a full disk"
            toggle(engine, cid)
        failed = errors()
        assert failed is not None and failed >= 1
        # live events keep flowing while the journal cannot store them
        live = times_of(stream, cid, "unpause")
        toggle(engine, cid)
        wait_for(lambda: len(times_of(stream, cid, "unpause")) > len(live), 20,
                 "an event on the stream while the disk is full")  # fmt: skip
        during = times_of(stream, cid, "pause")[-1]
        status, body = http_get(base + "/healthz")
        assert status == 200, body
        said = agent.said("event journal cannot store events: live subscribers still get them, "
                          "a gap will mark them in the journal")  # fmt: skip
        assert said is not None and "database or disk is full" in str(said.get("error")), said

        # what the stream showed was published after its store failed: nothing in flight
        failed = errors()
        filler.unlink()
        toggle(engine, cid)
        wait_for(lambda: agent.said("event journal stores events again") is not None, 20,
                 "the journal to store again")  # fmt: skip
        after = times_of(stream, cid, "unpause")[-1]
        status, body = http_get(
            base + f"/api/v1/events?filter=container={cid}&since={full_from / 1e9 - 1:.3f}"
            f"&until={time.time():.3f}"
        )
        assert status == 200, body[:300]
        stored = [json.loads(line) for line in body.splitlines() if line.strip()]
        gaps = [x["gap"] for x in stored if "gap" in x and x["gap"]["reason"] == "journal-error"]
        assert gaps, stored
        assert any(g["start_nano"] <= during <= g["end_nano"] for g in gaps), (during, gaps)
        stored_times = {x.get("timeNano") for x in stored}
        assert after in stored_times, "an event after space returned is not in the journal"
        assert errors() == failed, "the journal still fails with space back"
        assert agent.proc.poll() is None
    finally:
        if stream is not None:
            stream.close()
        code = agent.stop()
        if filler.exists():
            filler.unlink()
    assert code == 0, agent.logs[-10:]
