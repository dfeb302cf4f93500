"""/metrics served by the agent: on fixture trees, and scraped by a real Prometheus."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess
from helpers.serving import serving, tree_settings, until

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def _need(tool: str | None, name: str) -> str:
    if tool is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is not installed (scripts/test installs Debian's prometheus)")
        pytest.skip(f"{name} is not installed")
    return tool


async def test_metrics_text_and_openmetrics_from_the_snapshot() -> None:
    async with serving(tree_settings("systemd")) as client:
        async with client.get("/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            text = await resp.text()
        accept = {"Accept": "application/openmetrics-text; version=1.0.0"}
        async with client.get("/metrics", headers=accept) as resp:
            assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
            open_text = await resp.text()
    assert open_text.endswith("# EOF\n")
    lines = [x for x in text.splitlines() if x.startswith("container_cpu_usage_seconds_total{")]
    assert len(lines) == 2  # the two containers of the systemd tree
    for family in ("container_memory_working_set_bytes", "container_spec_memory_limit_bytes",
                   "container_pressure_cpu_waiting_seconds_total", "watchdog_build_info",
                   "watchdog_sampling_duration_seconds", "watchdog_events_lost_total"):  # fmt: skip
        assert f"\n{family}" in text, family
    if PROMTOOL is not None:
        check = subprocess.run(
            [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
        )
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def busy(docker_cli: DockerCLI) -> Iterator[str]:
    name = unique_name("prom-busy")
    docker_cli.start("--cpus", "0.5", IMAGE, "sh", "-c", "while :; do :; done", name=name)
    yield name


@pytest.mark.engine
@pytest.mark.cpu_accuracy  # a --cpus 0.5 loop's rate: alone, not beside other tests
async def test_real_prometheus_scrapes_the_agent(
    busy: str, docker_host: str, tmp_path: Path
) -> None:
    prometheus = _need(PROMETHEUS, "prometheus")
    promtool = _need(PROMTOOL, "promtool")
    serve = ServeProcess(
        "--journal", str(tmp_path / "events.db"), "--interval", "0.5", docker_host=docker_host
    )
    prom: subprocess.Popen[bytes] | None = None
    try:
        await until(lambda: serve.said("serving") is not None or serve.proc.poll() is not None)
        entry = serve.said("serving")
        assert entry is not None, serve.logs
        agent = entry["addresses"][0]
        port = _free_port()
        (tmp_path / "prometheus.yml").write_text(
            "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: watchdog\n    static_configs: [{{targets: ['{agent}']}}]\n"
        )
        prom = subprocess.Popen(
            [prometheus, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        rate = f'rate(container_cpu_usage_seconds_total{{name="{busy}"}}[15s])'
        async with aiohttp.ClientSession(base, timeout=aiohttp.ClientTimeout(total=10)) as http:

            async def query(expr: str) -> list[dict[str, Any]]:
                try:
                    async with http.get("/api/v1/query", params={"query": expr}) as resp:
                        body = await resp.json()
                except aiohttp.ClientError:
                    return []
                result: list[dict[str, Any]] = body.get("data", {}).get("result", [])
                return result

            deadline = time.monotonic() + 30
            up: list[dict[str, Any]] = []
            while not up and time.monotonic() < deadline:
                up = await query('up{job="watchdog"}')
                await asyncio.sleep(0.5)
            # rate() over 15 s needs 15 s of samples: with less it extrapolates to a part
            await asyncio.sleep(17)
            got = await query(rate)
            value = float(got[0]["value"][1]) if got else None
            # Prometheus asks for gzip: every scrape it made was answered so, and it read
            # each whole (the counter is in the per-scrape part, after the snapshot's)
            served = {
                r["metric"]["encoding"]: float(r["value"][1])
                for r in await query("watchdog_metrics_scrapes_total")
            }
        assert up and up[0]["value"][1] == "1", up
        assert served.get("gzip", 0) >= 10 and served.get("identity") == 0, served
        assert value is not None and 0.4 <= value <= 0.6, value

        async with aiohttp.ClientSession() as http, http.get(f"http://{agent}/metrics") as resp:
            scrape = await resp.text()  # and promtool is happy with the scrape
        check = subprocess.run(
            [promtool, "check", "metrics"], input=scrape, capture_output=True, text=True, timeout=30
        )
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr
        assert f'name="{busy}"' in scrape
    finally:
        if prom is not None:
            prom.terminate()
            prom.wait(10)
        serve.kill()


async def test_container_state_series_and_label_allowlist() -> None:
    settings = tree_settings("systemd", metric_labels=("team",))
    async with serving(settings) as client, client.get("/metrics") as resp:
        text = await resp.text()
    states = [x for x in text.splitlines() if x.startswith("watchdog_container_state{")]
    assert len(states) == 2 and all('state="running"' in x and x.endswith(" 1.0") for x in states)
    info = [x for x in text.splitlines() if x.startswith("watchdog_container_info{")]
    assert len(info) == 2 and all('label_team=""' in x for x in info)  # no Docker: no labels


@pytest.mark.engine
async def test_exit_code_of_a_stopped_container(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    serve = ServeProcess("--journal", "none", "--metric-labels", "watchdog.test",
                         docker_host=docker_host)  # fmt: skip
    try:
        await until(lambda: serve.said("serving") is not None or serve.proc.poll() is not None)
        entry = serve.said("serving")
        assert entry is not None, serve.logs
        name = unique_name("exit3")
        running = docker_cli.start(IMAGE, "sleep", "1000", name=unique_name("labelled"))
        cid = docker_cli.start(IMAGE, "sh", "-c", "exit 3", name=name)
        docker_cli.run("wait", cid)
        labels = f'id="/docker/{cid}",image="{IMAGE}",name="{name}"'
        wanted = f"watchdog_container_exit_code{{{labels}}} 3.0"
        async with aiohttp.ClientSession() as http:

            async def scrape() -> str:
                async with http.get(f"http://{entry['addresses'][0]}/metrics") as resp:
                    return await resp.text()

            deadline = time.monotonic() + 15
            text = await scrape()

            def info_of_running(text: str) -> list[str]:
                return [
                    x for x in text.splitlines()
                    if x.startswith("watchdog_container_info{") and running in x
                ]  # fmt: skip

            while (wanted not in text or not info_of_running(text)) and time.monotonic() < deadline:
                await asyncio.sleep(0.3)
                text = await scrape()
        assert wanted in text
        assert f'watchdog_container_state{{{labels},state="exited"}} 1.0' in text
        # the tap's counters reach /metrics: it saw the container's "die"
        die = 'watchdog_events_total{action="die",type="container"} '
        dies = [x for x in text.splitlines() if x.startswith(die)]
        assert dies and float(dies[0].rsplit(" ", 1)[1]) >= 1, dies
        info = info_of_running(text)
        assert info and 'label_watchdog_test="1"' in info[0], info
    finally:
        serve.kill()
