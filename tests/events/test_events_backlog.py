"""A replay is never silently shorter than what Docker still holds.

- a fresh agent's journal takes in Docker's buffer, so events made before the agent
  started replay through it exactly as `docker events` shows them;
- a window that begins before the journal is completed from Docker's buffer
  (`events --journal --since` and the agent's /api/v1/events), de-duplicated, in order;
- what neither holds is a gap (stderr for the CLI, a gap object in the API).

The engine tests run a private engine of their own (tests/helpers/privateengine.py): its buffer
holds only what these tests made, so the windows compare line for line.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.agentcli import agent
from helpers.dockercli import IMAGE, TEST_LABEL
from helpers.privateengine import PrivateEngine, started_engine
from helpers.serveproc import ServeProcess
from helpers.serving import until

from watchdog_agent.docker.decode import event_from_json
from watchdog_agent.events.backlog import DOCKER_BUFFER, complete, interleave
from watchdog_agent.events.journal import Journal
from watchdog_agent.events.timeparse import to_docker_since
from watchdog_agent.model import Event, Gap

NOWHERE = "unix:///nonexistent/docker.sock"  # proves the answer came from the agent
T0 = 1_700_000_000 * 10**9
S = 10**9


def ev(n: int, action: str = "start", name: str = "web") -> Event:
    nano = T0 + n * S
    return Event("container", action, f"{n:064x}", {"name": name}, "local", nano // S, nano)


def anything(event: Event) -> bool:
    return True


# --- completing a window: the pure part ---------------------------------------------------


def test_a_window_the_journal_covers_needs_nothing_from_docker() -> None:
    stored = [ev(5), ev(6)]
    done = complete(stored, T0 + 5 * S, None, (T0 + 5 * S, T0 + 9 * S), anything)
    assert done.events == [] and done.gaps == []


def test_older_events_come_from_the_buffer_once_filtered_and_in_order() -> None:
    stored = [ev(5), ev(6)]
    buffered = [ev(1), ev(2, name="db"), ev(3), ev(5), ev(6), ev(7)]

    def web_only(e: Event) -> bool:
        return e.attributes.get("name") == "web"

    done = complete(stored, T0 + 5 * S, buffered, (T0 + 2 * S, T0 + 6 * S), web_only)
    assert done.events == [ev(3)]  # ev(1) before since, ev(2) filtered, ev(5) stored
    assert done.gaps == []  # the buffer is not full: it holds all since the daemon began
    assert interleave([*done.events, *stored], done.gaps) == [ev(3), ev(5), ev(6)]


def test_a_full_buffer_that_does_not_reach_back_leaves_a_gap() -> None:
    buffered = [ev(100 + i) for i in range(DOCKER_BUFFER)]
    stored = [ev(300)]
    done = complete(stored, T0 + 300 * S, buffered, (T0, T0 + 400 * S), anything)
    assert done.gaps == [Gap(T0, T0 + 100 * S, "before-journal")]
    # up to the journal's first event (stored: not twice); after it the journal decides
    assert done.events == buffered[:200]
    history = interleave([*done.events, *stored], done.gaps)
    assert history[0] == done.gaps[0] and history[1:] == [*buffered[:200], ev(300)]


def test_without_an_engine_the_uncovered_part_is_a_gap_naming_why() -> None:
    done = complete([ev(5)], T0 + 5 * S, None, (T0, T0 + 9 * S), anything)
    assert done.gaps == [Gap(T0, T0 + 5 * S - 1, "docker-unavailable")]
    done = complete([], None, None, (T0, T0 + 9 * S), anything, no_journal=True)
    assert done.gaps == [Gap(T0, T0 + 9 * S, "no-journal")]


def test_journal_replay_says_on_stderr_what_no_engine_could_complete(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    with Journal(str(path)) as journal:
        journal.append([ev(10), ev(11)])
    window = ["--since", to_docker_since(T0), "--until", to_docker_since(T0 + 20 * S)]
    proc = agent("events", "--journal", str(path), *window, "--format", "{{.Action}}",
                 "--docker-host", f"unix://{tmp_path}/none.sock")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["start", "start"]
    (note,) = proc.stderr.splitlines()
    assert "may be missing (docker-unavailable)" in note


# --- against a real engine ----------------------------------------------------------------


@pytest.fixture(scope="module")
def private_engine() -> Iterator[PrivateEngine]:
    with started_engine() as eng:
        yield eng


def make_events(eng: PrivateEngine, runs: int) -> None:
    for _ in range(runs):
        eng.docker("run", "--rm", "--network", "none", "--label", TEST_LABEL,
                   "--label", eng.session_label, IMAGE, "true")  # fmt: skip


def docker_events(eng: PrivateEngine, since: int, until: int) -> list[str]:
    lines = eng.events(since, until)
    assert 8 <= len(lines) < DOCKER_BUFFER, f"{len(lines)} events: the test proves little"
    return lines


async def serving_url(serve: ServeProcess) -> str:
    await until(lambda: serve.said("serving") is not None or serve.proc.poll() is not None)
    entry = serve.said("serving")
    assert entry is not None, serve.logs
    return f"http://{entry['addresses'][0]}"


def through_agent(url: str, since: int, until: int) -> list[str]:
    window = ["--since", to_docker_since(since), "--until", to_docker_since(until)]
    proc = agent("events", "--agent", url, *window, "--format", "json", docker_host=NOWHERE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", "no gap: Docker's buffer held the whole window"
    return proc.stdout.splitlines()


@pytest.mark.engine
async def test_a_fresh_agent_replays_what_docker_held_before_it_started(
    private_engine: PrivateEngine, tmp_path: Path
) -> None:
    eng, path = private_engine, tmp_path / "events.db"
    before = time.time_ns()
    make_events(eng, 3)  # before any agent runs
    serve = ServeProcess("--journal", str(path), docker_host=eng.host)
    try:
        url = await serving_url(serve)
        await until(lambda: serve.said("took in Docker's buffered events") is not None, 30)
        now = time.time_ns()
        docker = docker_events(eng, before, now)
        assert through_agent(url, before, now) == docker
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(30) == 0, serve.logs
    finally:
        serve.kill()
    # the journal itself holds them (taken in at start, not only completed on replay)
    with Journal(str(path)) as journal:
        stored = {e.key for e in journal.query(before, now)}
    assert {event_from_json(line.encode()).key for line in docker} <= stored


@pytest.mark.engine
async def test_a_window_older_than_the_journal_is_completed_from_docker(
    private_engine: PrivateEngine, tmp_path: Path
) -> None:
    eng = private_engine
    before = time.time_ns()
    make_events(eng, 2)
    middle = time.time_ns()
    make_events(eng, 2)
    end = time.time_ns()
    docker = docker_events(eng, before, end)
    # a journal that began at `middle` (its agent started then): the later events only
    path = tmp_path / "events.db"
    later = [line for line in docker if json.loads(line)["timeNano"] >= middle]
    assert 0 < len(later) < len(docker)
    with Journal(str(path)) as journal:
        journal.append([event_from_json(line.encode()) for line in later])
    window = ["--since", to_docker_since(before), "--until", to_docker_since(end)]
    replay = agent("events", "--journal", str(path), *window, "--format", "json",
                   docker_host=eng.host)  # fmt: skip
    assert replay.returncode == 0 and replay.stderr == "", replay.stderr
    assert replay.stdout.splitlines() == docker
    # the same through an agent serving that journal (GET /api/v1/events?since=...)
    serve = ServeProcess("--journal", str(path), docker_host=eng.host)
    try:
        url = await serving_url(serve)
        assert through_agent(url, before, end) == docker
    finally:
        serve.kill()
