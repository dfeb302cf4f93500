"""/metrics serves the latest snapshot to a scraper that comes back after a while: a scrape
waits for the rendering it starts when the last rendering lags the latest snapshot by
more than two sampling intervals (Prometheus scrapes every 15 s against sampling every
second). Before, every scrape got the rendering the previous scrape had started: values
one scrape interval old, and a removed container's series for one more scrape."""

from __future__ import annotations

import asyncio

from helpers.serving import serving, tree_settings

from watchdog_agent.agent.wiring import Agent

INTERVAL = 0.1
SERIES = "watchdog_last_sample_timestamp_seconds "


def _sampled_at(body: str) -> float:
    lines = [x for x in body.splitlines() if x.startswith(SERIES)]
    assert len(lines) == 1, lines
    return float(lines[0].split()[1])


async def test_a_scrape_after_a_pause_gets_the_latest_snapshot() -> None:
    settings = tree_settings(interval=INTERVAL)
    agent = Agent(settings)
    async with serving(settings, agent) as client:
        async with client.get("/metrics") as resp:
            assert resp.status == 200
            first = _sampled_at(await resp.text())
        await asyncio.sleep(20 * INTERVAL)  # many passes, no scrape
        latest = agent.store.latest
        assert latest is not None and latest.taken_at > first + 10 * INTERVAL
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            async with client.get("/metrics", headers=headers) as resp:
                assert resp.status == 200
                served = _sampled_at(await resp.text())  # aiohttp inflates gzip
            assert served >= latest.taken_at - 2 * INTERVAL, (served, latest.taken_at)
        # scrapes in quick succession share one rendering and all answer
        answers = await asyncio.gather(*(client.get("/metrics") for _ in range(10)))
        for resp in answers:
            assert resp.status == 200
            resp.release()
