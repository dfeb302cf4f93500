"""The Docker daemon killed with SIGKILL, and started again, under a busy agent.

A private engine (never the shared one) runs with --live-restore, so its containers
outlive dockerd as they do on a production host whose daemon crashes: their shims keep
them running. A real ``watchdog-agent serve`` samples them every 0.2 s, taps the events
(an events stream is open), follows a chatty container's logs and answers a scraping
loop. Then dockerd gets SIGKILL and is started again on the same state.

Proven: /healthz and /metrics answer 200 throughout and the container routes answer
200 or the documented 503; sampling goes on while Docker is down; the log follow ends
cleanly and a new one works; the tap reconnects (a new container's events reach the
open stream) and records the downtime as a gap (on the stream, in the journal, in
``watchdog_events_gaps_total``); and the agent holds no more asyncio tasks, threads or
file descriptors afterwards than before, counted from its own /proc and its
``watchdog_agent_tasks`` gauge.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers.dockercli import IMAGE, TEST_LABEL, unique_name
from helpers.faultkit import (
    Resources,
    Scraper,
    Stream,
    http_get,
    metric,
    resources,
    settle,
    statuses,
    typical,
    wait_for,
)
from helpers.privateengine import PrivateEngine, started_engine
from helpers.serveproc import ServeProcess

pytestmark = pytest.mark.engine

# asyncio's default executor starts workers on demand (when none is idle) up to
# min(32, CPUs + 4) and keeps them: more threads after than before are a leak only
# beyond the main thread plus that cap
THREADS_CAP = 1 + min(32, (os.cpu_count() or 1) + 4)


@pytest.fixture(scope="module")
def engine() -> Iterator[PrivateEngine]:
    with started_engine(["--live-restore"]) as eng:
        yield eng


def run(eng: PrivateEngine, *args: str) -> str:
    labels = ("--label", TEST_LABEL, "--label", eng.session_label, "--network", "none")
    out = eng.docker("run", *labels, *args).stdout.decode().strip()
    return out.splitlines()[-1] if out else ""


def gaps_in(stream: Stream) -> list[dict[str, object]]:
    return [item["gap"] for item in stream.items() if isinstance(item.get("gap"), dict)]  # type: ignore[misc]


def spans(gap: dict[str, object], moment: int) -> bool:
    start, end = gap.get("start_nano"), gap.get("end_nano")
    return isinstance(start, int) and isinstance(end, int) and start <= moment <= end


def probe(eng: PrivateEngine, events: Stream, since: int) -> None:
    """A short container; its destroy event must reach ``events``."""
    run(eng, "--rm", IMAGE, "true")

    def seen() -> bool:
        for item in events.items():
            t = item.get("timeNano")
            if item.get("Action") == "destroy" and isinstance(t, int) and t >= since:
                return True
        return False

    wait_for(seen, 30, "a new container's events on the stream")


def test_dockerd_sigkill_and_restart(engine: PrivateEngine, tmp_path: Path) -> None:
    eng = engine
    name = unique_name("chatty")
    cid = run(
        eng, "-d", "--name", name, IMAGE, "sh", "-c", "while true; do echo tick; sleep 0.2; done"
    )
    agent = ServeProcess(
        "--docker-host", eng.host, "--journal", str(tmp_path / "events.db"), "--interval", "0.2",
        docker_host=eng.host,
    )  # fmt: skip
    streams: list[Stream] = []
    scraper: Scraper | None = None

    def stream(path: str) -> Stream:
        s = Stream(base + path)
        s.start()
        streams.append(s)
        s.opened.wait(10)
        assert s.status == 200, (path, s.status, s.ended, s.lines[:3])
        return s

    def scrape() -> bytes:
        status, body = http_get(base + "/metrics")
        assert status == 200, body[:300]
        return body

    try:
        base = agent.wait_url()
        cpu = "container_cpu_usage_seconds_total"
        wait_for(lambda: metric(scrape(), cpu, {"name": name}) is not None, 30, "its series")
        events = stream("/api/v1/events")
        logs = stream(f"/api/v1/containers/{cid}/logs?follow=1&tail=1")
        wait_for(lambda: len(logs.lines) >= 3, 15, "log lines from the follow")
        # the same Docker traffic as after the restart (inventory look-ups, a follow), so
        # that the client's pool of idle connections is as large before as after
        probe(eng, events, time.time_ns())
        before = typical(lambda: resources(agent.proc.pid, base))

        scraper = Scraper(base, ("/healthz", "/metrics", "/api/v1/containers"))
        scraper.start()
        wait_for(lambda: scraper.count("/metrics") >= 2, 15, "the scraping loop")
        killed = time.time_ns()
        eng.kill()
        wait_for(lambda: logs.ended is not None, 15, "the log follow to end with its engine")
        assert logs.ended == "eof", f"the log follow broke instead of ending: {logs.ended}"

        def sampled_at() -> float:
            value = metric(scrape(), "watchdog_last_sample_timestamp_seconds")
            assert value is not None
            return value

        down_sample = sampled_at()
        wait_for(lambda: sampled_at() > down_sample + 0.3, 10, "a sample while Docker is down")
        assert metric(scrape(), cpu, {"name": name}) is not None
        status, body = http_get(base + "/healthz")
        assert status == 200, body

        eng.start()
        back = time.time_ns()
        # the tap reconnects: the gap it records reaches the open stream, then a new
        # container's events do
        wait_for(lambda: any(spans(g, killed) for g in gaps_in(events)), 30,
                 "a gap spanning the kill on the events stream")  # fmt: skip
        probe(eng, events, back)
        scraper.stop()
        gaps_total = metric(scrape(), "watchdog_events_gaps_total")
        assert gaps_total is not None and gaps_total >= 1

        status, body = http_get(
            base + f"/api/v1/events?since={killed / 1e9 - 5:.3f}&until={time.time():.3f}"
        )
        assert status == 200, body[:300]
        stored = [json.loads(x) for x in body.splitlines() if x.strip()]
        journal_gaps = [x["gap"] for x in stored if "gap" in x]
        assert any(spans(g, killed) and g["reason"] in ("daemon-restart", "disconnected")
                   for g in journal_gaps), journal_gaps  # fmt: skip

        logs.close()
        streams.remove(logs)
        logs = stream(f"/api/v1/containers/{cid}/logs?follow=1&tail=1")
        wait_for(lambda: len(logs.lines) >= 3, 15, "log lines from a follow after the restart")

        # Leaks across a daemon kill are what still points at the dead daemon (a socket
        # whose peer is gone) or what outgrows the "before" reading; the Docker client's
        # pool may hold one more idle connection to the new daemon for a while (it
        # expires after aiohttp's keep-alive), so live sockets are not compared.
        def no_more(now: Resources) -> bool:
            threads_ok = now.threads <= max(before.threads, THREADS_CAP)
            return (now.tasks <= before.tasks and now.files <= before.files and not now.dead
                    and threads_ok)  # fmt: skip

        after = settle(lambda: typical(lambda: resources(agent.proc.pid, base)), no_more, 20)
        print(f"before the kill: {before}; after the restart: {after}")
        assert after.tasks <= before.tasks, f"asyncio tasks leaked: {before} -> {after}"
        assert after.files <= before.files, f"descriptors leaked: {before} -> {after}"
        assert not after.dead, f"sockets left to the dead daemon or gone clients: {after.dead}"
        assert after.threads <= max(before.threads, THREADS_CAP), (
            f"threads leaked: {before} -> {after}"
        )
    finally:
        if scraper is not None:
            scraper.stop()
        for s in streams:
            s.close()
        code = agent.stop()
    assert code == 0, agent.logs[-20:]

    assert scraper is not None
    for path in ("/healthz", "/metrics"):
        assert statuses(scraper.answers, path) == {200}, [
            a[:3] for a in scraper.answers if a[1] == path and a[2] != 200
        ][:5]
    container_answers = statuses(scraper.answers, "/api/v1/containers")
    assert container_answers <= {200, 503}, container_answers
    for when, path, answer, body in scraper.answers:
        if answer == 503:
            assert path == "/api/v1/containers" and killed / 1e9 <= when, (when, path, body)
            assert json.loads(body).get("error"), body
    assert scraper.count("/metrics") >= 5
