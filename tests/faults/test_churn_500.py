"""500 containers created and removed on a private engine while an in-process agent
samples every 100 ms and a client scrapes /metrics and polls the API in a loop.

During the churn: no 5xx; every per-container counter in /metrics never goes back for
the same series, no sample is negative or NaN; every rate the API serves is within
physical bounds (CPU at most the cores, throttling and memory at most 100 %), its
totals never go back (tests/helpers/scrapecheck.py).

After it (this replaces tests/agent/test_release.py's 200-container run: one churn,
both proofs): once the grace period is over, no series in /metrics and no history row
names a removed container, and nothing reachable from the app (the agent, its store,
history, inventory, sampler, target cache, post-mortem tables, metrics caches; closures
and the frames of its tasks too) holds any of the 500 ids. Left out of that walk: the
events tap's de-duplication window (the keys of the last minute of events, bounded by
SEEN_KEYS, kept on purpose: a reconnect must not repeat an event) and what is stored on
purpose in SQLite (the journal, the post-mortems), which are not Python objects. Each
removed container's post-mortem is still served after it is gone. What holds "the
latest" of something (the snapshot, the disk sample) is renewed first: a container of
our own comes and goes, and the disk sample is refreshed (?refresh=1).

Containers are made through the Engine API (a CLI process each is too slow), WORKERS
at a time, each living about a second: half remove themselves (AutoRemove), half are
removed with force while they run.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers.dockercli import IMAGE, TEST_LABEL
from helpers.leaks import reachable_ids
from helpers.privateengine import PrivateEngine, started_engine
from helpers.scrapecheck import ScrapeCheck
from helpers.serving import serving

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.config import Settings

pytestmark = pytest.mark.engine

TOTAL = 500
WORKERS = 16  # containers in their life at once (create, start, run, remove)
LIFE = "1.5"  # seconds a container's command runs (a dozen sampling passes)
GRACE = 2.0  # seconds the history keeps a gone container's rows (30 s in service)
INTERVAL = 0.1
SCRAPE_PAUSE = 0.3  # between two rounds of the scraper (parsing costs the engine CPU)


@pytest.fixture(scope="module")
def engine() -> Iterator[PrivateEngine]:
    with started_engine() as eng:
        yield eng


async def wait_for(check: Any, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not await check():
        assert loop.time() < end, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


class Churn:
    """WORKERS loops creating, starting and removing TOTAL containers in all."""

    def __init__(self, engine: aiohttp.ClientSession, session_label: str) -> None:
        self.engine = engine
        self.labels = dict(label.split("=", 1) for label in (TEST_LABEL, session_label))
        self.ids: list[str] = []
        self._next = 0

    async def run(self) -> None:
        await asyncio.gather(*(self._worker() for _ in range(WORKERS)))

    async def _worker(self) -> None:
        while self._next < TOTAL:
            n = self._next
            self._next += 1
            await self._one(n)

    async def _one(self, n: int) -> None:
        auto = bool(n % 2)  # half remove themselves, half are removed running
        body = {
            "Image": IMAGE,
            "Cmd": ["sleep", LIFE],
            "Labels": self.labels,
            "HostConfig": {"NetworkMode": "none", "AutoRemove": auto},
        }
        async with self.engine.post("/containers/create", json=body) as resp:
            assert resp.status == 201, await resp.text()
            cid: str = (await resp.json())["Id"]
        self.ids.append(cid)
        async with self.engine.post(f"/containers/{cid}/start") as resp:
            assert resp.status == 204, await resp.text()
        if auto:
            params = {"condition": "removed"}
            async with self.engine.post(f"/containers/{cid}/wait", params=params) as resp:
                assert resp.status in (200, 404), await resp.text()
        else:
            await asyncio.sleep(float(LIFE) / 2)
            async with self.engine.delete(f"/containers/{cid}", params={"force": "1"}) as resp:
                assert resp.status in (204, 404), await resp.text()


def leftovers(ids: list[str], metrics: str, agent: Agent, engine: PrivateEngine) -> str:
    """What tells an agent that keeps a gone container's series from an engine or a
    kernel that kept it: for each id, the agent's ref, Docker's state, the cgroup
    directories still there, and a line of /metrics naming it."""
    out = [f"series left for {len(ids)} removed containers:"]
    for cid in ids[:5]:
        ref = agent.refs().get(cid)
        known = engine.docker("inspect", "-f", "{{.State.Status}}", cid, check=False)
        docker = known.stdout.decode().strip() or known.stderr.decode().strip()[:80]
        dirs = [str(p) for p in Path("/sys/fs/cgroup").glob(f"*/*/{cid}")]
        line = next((ln for ln in metrics.splitlines() if cid in ln), "")
        out.append(
            f"{cid[:12]}: agent ref {ref and ref.state}, docker {docker!r}, "
            f"cgroup dirs {dirs[:2] or 'none'}; {line[:160]}"
        )
    return "\n".join(out)


async def scrape(client: Any, check: ScrapeCheck, stop: asyncio.Event) -> None:
    """/metrics, /api/v1/containers?all=1 and /api/v1/host in a loop until ``stop``."""
    while not stop.is_set():
        for path in ("/metrics", "/api/v1/containers?all=1", "/api/v1/host"):
            async with client.get(path) as resp:
                check.statuses[resp.status] += 1
                text = await resp.text()
            if resp.status != 200:
                check.problem(f"{path}: {resp.status} {text[:200]}")
                continue
            if path == "/metrics":
                await asyncio.to_thread(check.metrics, text)
            elif path.startswith("/api/v1/containers"):
                check.containers(json.loads(text))
            else:
                check.host(json.loads(text))
        await asyncio.sleep(SCRAPE_PAUSE)


async def test_500_containers_churn_under_sampling_and_scraping_leave_nothing(
    engine: PrivateEngine, tmp_path: Path
) -> None:
    settings = Settings(docker_host=engine.host, interval=INTERVAL, journal=str(tmp_path / "ev.db"))
    agent = Agent(settings)
    agent.store.rows.grace = GRACE
    check = ScrapeCheck()
    stop = asyncio.Event()
    socket = engine.host.removeprefix("unix://")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    phases: dict[str, float] = {}

    async with (
        aiohttp.ClientSession(
            "http://docker",
            connector=aiohttp.UnixConnector(path=socket, limit=WORKERS * 2),
            timeout=aiohttp.ClientTimeout(total=120),
        ) as docker,
        serving(settings, agent) as client,
    ):
        churn = Churn(docker, engine.session_label)
        scraper = asyncio.create_task(scrape(client, check, stop))
        try:
            await churn.run()
            phases["churned"] = loop.time() - t0
        finally:
            stop.set()
            await scraper
        wanted = set(churn.ids)
        assert len(wanted) == TOTAL
        seen = len(wanted & check.ids_in_metrics)
        print(f"churned in {phases['churned']:.1f} s; {check.scrapes} scrapes, {seen} ids seen")

        # during the churn
        assert not check.problems, "\n".join(check.problems)
        assert set(check.statuses) == {200}, check.statuses
        assert check.scrapes >= 10 and check.polls >= 10, (check.scrapes, check.polls)
        assert seen >= TOTAL // 2, f"only {seen} were ever in /metrics"  # sampled, exported
        # (the API joins the inventory, which follows Docker's events: under load it
        # lists a short-lived container later than the sampler finds its cgroup)
        assert len(wanted & check.ids_in_api) >= TOTAL // 20, len(check.ids_in_api)

        # after it: the destroy events, then a post-mortem for each
        async def all_gone() -> bool:
            return not wanted & agent.refs().keys()

        await wait_for(all_gone, 60, "the destroy events")

        async def captured() -> bool:
            assert agent.postmortems is not None
            return agent.postmortems.captured + agent.postmortems.failed >= TOTAL

        await wait_for(captured, 90, "the post-mortems")
        phases["captured"] = loop.time() - t0
        with_samples = 0
        for cid in churn.ids[:: TOTAL // 10]:
            async with client.get(f"/api/v1/containers/{cid}/postmortem") as resp:
                assert resp.status == 200, (cid, await resp.text())
                with_samples += bool((await resp.json())["samples"])
            async with client.get(f"/api/v1/containers/{cid}/stats?history=5") as resp:
                assert resp.status == 404
        assert with_samples > 0

        # the grace period, then a container of our own whose events and samples replace
        # the churn's in whatever holds "the latest" (a loop's last item, the snapshot)
        await asyncio.sleep(GRACE + 0.5)
        flush = await asyncio.to_thread(
            lambda: engine.docker(
                "run", "-d", "--network", "none", "--label", engine.session_label,
                IMAGE, "sleep", "30",
            ).stdout.decode().strip()
        )  # fmt: skip

        async def flushed() -> bool:
            latest = agent.store.latest
            return latest is not None and flush in latest.containers

        await wait_for(flushed, 30, "the flush container's first sample")
        await asyncio.sleep(0.5)
        await asyncio.to_thread(engine.docker, "rm", "-f", flush)
        await asyncio.sleep(GRACE + 0.5)

        # the disk sample (Docker's df, every --disk-interval) taken during the churn
        # lists the containers of that moment until the next: ask for a fresh one
        # (before the scrape below, whose disk series then render it)
        async with client.get("/api/v1/disk?refresh=1&verbose=1") as resp:
            assert resp.status == 200
            assert not [c for c in churn.ids if c in await resp.text()]
        assert not [c for c in churn.ids if c in agent.store.rows]
        async with client.get("/metrics") as resp:
            assert resp.status == 200
            metrics = await resp.text()
        left_series = [c for c in churn.ids if c in metrics]
        assert not left_series, leftovers(left_series, metrics, agent, engine)
        gc.collect()
        assert agent.events is not None and agent.events.tap is not None
        window = agent.events.tap._seen  # bounded on purpose (SEEN_SPAN_NS, SEEN_KEYS)
        left = reachable_ids(client.app, wanted, exclude=[window])
        assert not left, f"{len(left)} ids still held, e.g. {next(iter(left.items()))}"
        phases["checked"] = loop.time() - t0
        print(f"phases (s since start): {phases}; scrapes {check.scrapes}")
