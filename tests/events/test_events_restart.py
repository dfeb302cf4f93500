"""No event lost or stored twice when the engine or the agent goes away and comes back.

These tests run their own throwaway engine (never the shared one): it is stopped and
started again with the same state while a workload of short containers keeps producing
events and `watchdog-agent events --journal J` runs throughout. What Docker reported
(`docker events --since --until`, asked before each stop) must be in the journal exactly
once, and each restart must leave a gap spanning the downtime. Killing the agent with
SIGKILL and starting it again must recover what Docker still buffered, with no gap.
"""

from __future__ import annotations

import collections
import contextlib
import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from helpers.agentcli import AGENT, Following
from helpers.dockercli import IMAGE, TEST_LABEL
from helpers.privateengine import Key, PrivateEngine, key_of, poll, started_engine

from watchdog_agent.events.journal import Journal
from watchdog_agent.model import Event

engine = pytest.mark.engine

BUFFER = 256


@pytest.fixture(scope="module")
def private_engine() -> Iterator[PrivateEngine]:
    with started_engine() as eng:
        yield eng


class Workload(threading.Thread):
    """Short `docker run --rm ... true` containers, one after another, until stopped;
    failures (the engine is down) are counted and retried after a short pause."""

    def __init__(self, eng: PrivateEngine) -> None:
        super().__init__(name="workload", daemon=True)
        self.eng = eng
        self.ok = 0
        self.failed = 0
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            try:
                proc = self.eng.docker(
                    "run", "--rm", "--network", "none", "--label", TEST_LABEL,
                    "--label", self.eng.session_label, IMAGE, "true",
                    check=False, timeout=30,
                )  # fmt: skip
                good = proc.returncode == 0
            except subprocess.TimeoutExpired:
                good = False
            if good:
                self.ok += 1
                self.halt.wait(0.1)
            else:
                self.failed += 1
                self.halt.wait(0.3)

    def wait_runs(self, n: int, timeout: float = 60) -> None:
        target = self.ok + n
        poll(lambda: self.ok >= target, timeout, f"{n} more workload containers")

    def stop(self) -> None:
        self.halt.set()
        self.join(60)


@contextlib.contextmanager
def workload(eng: PrivateEngine) -> Iterator[Workload]:
    w = Workload(eng)
    w.start()
    try:
        yield w
    finally:
        w.stop()


class Agent(Following):
    """`watchdog-agent events --journal J --format json` on the private engine."""

    def __init__(self, eng: PrivateEngine, journal: Path) -> None:
        argv = [AGENT, "events", "--journal", str(journal), "--format", "json"]
        super().__init__([*argv, "--docker-host", eng.host])

    def events(self) -> list[dict[str, object]]:
        """The events it printed (lines that are not JSON objects are left out)."""
        found = []
        for line in self.lines:
            with contextlib.suppress(ValueError):
                msg = json.loads(line)
                if isinstance(msg, dict):
                    found.append(msg)
        return found


def journal_keys(path: Path) -> collections.Counter[Key]:
    with Journal(str(path)) as j:
        return collections.Counter(e.key for e in j.query(None, None))


def journal_events(path: Path) -> list[Event]:
    with Journal(str(path)) as j:
        return j.query(None, None)


def wait_journal_has(path: Path, wanted: Sequence[Key], timeout: float = 30) -> None:
    def done() -> bool:
        return path.exists() and set(wanted) <= set(journal_keys(path))

    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            break  # the assertions that follow say what is missing
        time.sleep(0.2)


def assert_once(docker: Sequence[str], path: Path, printed: Sequence[dict[str, object]]) -> None:
    """Every event Docker reported is in the journal exactly once; nothing printed twice."""
    wanted = [key_of(json.loads(x)) for x in docker]
    assert len(set(wanted)) == len(wanted), "docker itself reported an event twice"
    stored = journal_keys(path)
    missing = [k for k in wanted if stored[k] == 0]
    assert not missing, f"{len(missing)} of {len(wanted)} events missing from the journal: " + (
        ", ".join(f"{k[1]}/{k[2]}@{k[0]}" for k in missing[:10])
    )
    assert not [k for k in wanted if stored[k] > 1]
    twice = [k for k, n in collections.Counter(key_of(m) for m in printed).items() if n > 1]
    assert not twice, f"printed more than once: {twice[:5]}"


@engine
def test_engine_restarts_lose_nothing_and_leave_gaps(
    private_engine: PrivateEngine, tmp_path: Path
) -> None:
    eng, path = private_engine, tmp_path / "events.db"
    agent = Agent(eng, path)
    docker: list[str] = []
    downtimes: list[tuple[int, int]] = []  # (engine gone, engine starting again)
    try:
        with workload(eng) as load:
            # subscribed once it prints an event; Docker reports from that event on
            poll(lambda: bool(agent.events()), 30, "the agent's first event")
            phase_start = key_of(agent.events()[0])[0]
            for phase in range(3):
                load.wait_runs(4)
                reported = eng.events(phase_start, time.time_ns())
                assert 0 < len(reported) < BUFFER, f"phase {phase}: {len(reported)} events"
                docker += reported
                if phase == 2:
                    break
                eng.stop()
                gone = time.time_ns()
                time.sleep(0.5)  # the workload and the agent both find the socket dead
                phase_start = time.time_ns()
                eng.start()
                downtimes.append((gone, phase_start))
        wait_journal_has(path, [key_of(json.loads(x)) for x in docker])
    finally:
        code, err = agent.stop()
    assert code == 0, f"SIGTERM: exit {code}\n{err}"
    assert load.failed > 0, "the workload should have hit the engine while it was down"
    assert_once(docker, path, agent.events())
    with Journal(str(path)) as j:
        gaps = j.gaps(None, None)
    for gone, back in downtimes:
        spanning = [g for g in gaps if g.start_nano <= gone and g.end_nano >= back]
        assert spanning, f"no gap spans the downtime {gone}..{back}: {gaps}"
        assert spanning[0].reason in ("daemon-restart", "disconnected"), spanning[0]


@engine
def test_agent_killed_and_restarted_loses_nothing(
    private_engine: PrivateEngine, tmp_path: Path
) -> None:
    eng, path = private_engine, tmp_path / "events.db"
    with workload(eng) as load:
        first = Agent(eng, path)
        try:
            poll(lambda: bool(first.events()), 30, "the agent's first event")  # subscribed
            start = key_of(first.events()[0])[0]
            load.wait_runs(3)
        finally:
            code, _ = first.stop(signal.SIGKILL)
        assert code == -signal.SIGKILL
        stored_before = sum(journal_keys(path).values())
        load.wait_runs(2)  # Docker buffers these while no agent runs
        second = Agent(eng, path)
        try:
            load.wait_runs(3)
            load.halt.set()
            load.join(60)
            docker = eng.events(start, time.time_ns())
            assert len(docker) < BUFFER, "more than Docker buffers: the test cannot prove much"
            wait_journal_has(path, [key_of(json.loads(x)) for x in docker])
        finally:
            code, err = second.stop()
    assert code == 0, f"SIGTERM: exit {code}\n{err}"
    assert_once(docker, path, second.events())
    assert sum(journal_keys(path).values()) > stored_before
    with Journal(str(path)) as j:
        assert j.gaps(None, None) == [], "continuity was provable: no gap for a quick restart"
    assert "may be missing" not in err
