"""GET /api/v1/host and the host's series in /metrics: against this host's /proc (the
numbers `nproc`, /proc/meminfo and /proc/loadavg give), and `serve --proc-root` over a
tree whose numbers this host cannot produce."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from helpers import hosttree
from helpers.serveproc import agent
from helpers.serving import check_schema, response_schema, serving
from prometheus_client.parser import text_string_to_metric_families

from watchdog_agent.config import Settings

PROMTOOL = shutil.which("promtool")
HOST_SERIES = {
    "machine_cpu_cores": "cpus",
    "machine_memory_bytes": "memory_total_bytes",
    "watchdog_host_cpu_percent": "cpu_percent",
    "watchdog_host_load1": "load1",
    "watchdog_host_load5": "load5",
    "watchdog_host_load15": "load15",
    "watchdog_host_memory_available_bytes": "memory_available_bytes",
}
PROCESS_SERIES = (
    "process_virtual_memory_bytes",
    "process_resident_memory_bytes",
    "process_start_time_seconds",
    "process_cpu_seconds_total",
    "process_open_fds",
    "process_max_fds",
)


def live_settings() -> Settings:
    """This host's /proc and cgroups, no Docker, no journal, a fast interval."""
    return Settings(no_docker=True, journal=None, interval=0.2)


def meminfo_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal in /proc/meminfo")


def loadavg() -> tuple[float, float, float]:
    a, b, c = Path("/proc/loadavg").read_text().split()[:3]
    return float(a), float(b), float(c)


def nproc() -> int:
    return int(subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout)


async def get_host(client: TestClient[Any, Any]) -> dict[str, Any]:
    async with client.get("/api/v1/host") as resp:
        assert resp.status == 200, await resp.text()
        body: dict[str, Any] = await resp.json()
    check_schema(body, response_schema("/api/v1/host", 200))
    return body


async def next_host(client: TestClient[Any, Any], after: str | None) -> dict[str, Any]:
    """The first host sample taken after ``after`` (bounded wait)."""
    for _ in range(100):
        body = await get_host(client)
        if after is None or body["sampled_at"] > after:
            return body
        await asyncio.sleep(0.05)
    raise AssertionError("no new host sample")


async def test_host_is_this_host() -> None:
    async with serving(live_settings()) as client:
        body = await get_host(client)
        assert body["cpus"] == os.cpu_count() == nproc()
        assert body["memory_total_bytes"] == meminfo_total()
        assert body["proc_root"] == "/proc"
        assert body["data_root"] is None  # no Docker here: no data root to measure
        assert body["kernel"] == os.uname().release
        assert body["hostname"] == Path("/proc/sys/kernel/hostname").read_text().strip()
        for key in ("os", "boot_time", "swap_total_bytes", "memory_available_bytes"):
            assert body[key] is not None, key
        # the load averages of a sample taken between two readings of /proc/loadavg that
        # agree (the kernel changes them every 5 s): bounded tries
        for _ in range(20):
            before = loadavg()
            start = time.time()
            sample = await next_host(client, body["sampled_at"])
            after = loadavg()
            body = sample
            if before == after and start <= _unix(sample["sampled_at"]):
                break
        assert (body["load1"], body["load5"], body["load15"]) == before == after
        body = await next_host(client, body["sampled_at"])
        assert body["cpu_percent"] is not None
        assert 0.0 <= body["cpu_percent"] <= 100.0 * body["cpus"]
        assert body["cpu_fraction"] == body["cpu_percent"] / (100.0 * body["cpus"])


def _unix(rfc3339: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def host_values(text: str) -> dict[str, float]:
    wanted = {*HOST_SERIES, *PROCESS_SERIES}
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in wanted:
                assert not s.labels, s
                out[s.name] = s.value
    return out


async def test_metrics_carry_the_api_numbers() -> None:
    async with serving(live_settings()) as client:
        await next_host(client, (await get_host(client))["sampled_at"])  # CPU % known
        for _ in range(20):  # one sample on both sides of the scrape: bounded tries
            before = await get_host(client)
            async with client.get("/metrics") as resp:
                text = await resp.text()
            after = await get_host(client)
            if before == after:
                break
        assert before == after
    values = host_values(text)
    assert {name: values.get(name) for name in HOST_SERIES} == {
        name: before[key] for name, key in HOST_SERIES.items()
    }
    assert set(PROCESS_SERIES) <= set(values)
    assert values["process_start_time_seconds"] <= time.time()
    assert values["process_open_fds"] >= 3
    if PROMTOOL is not None:
        check = subprocess.run(
            [PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
        )
        assert check.returncode == 0 and not check.stdout.strip(), check.stdout + check.stderr


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
        return resp.read().decode()  # type: ignore[no-any-return]


def test_serve_reads_the_proc_root_tree(tmp_path: Path) -> None:
    """`serve --proc-root` over a tree: every value is the tree's, not this host's."""
    proc = hosttree.host_tree(tmp_path)
    with agent("--proc-root", str(proc)) as running:
        body = json.loads(_get(running.port, "/api/v1/host"))
        assert body["cpus"] == hosttree.CPUS
        assert body["memory_total_bytes"] == hosttree.MEM_TOTAL_KB * 1024
        assert body["memory_available_bytes"] == hosttree.MEM_AVAILABLE_KB * 1024
        assert body["swap_free_bytes"] == hosttree.SWAP_FREE_KB * 1024
        assert (body["load1"], body["load5"], body["load15"]) == hosttree.LOAD
        assert body["hostname"] == hosttree.HOSTNAME
        assert body["kernel"] == hosttree.KERNEL
        assert body["os"] == hosttree.OS_NAME
        assert body["boot_time"] == "2023-11-14T22:13:20.000000Z"
        assert body["proc_root"] == str(proc)
        assert body["cpu_percent"] is None  # the tree's CPU times do not move
        # the tree's CPU time moves by CPU_BEFORE -> CPU_AFTER's step (half busy) each
        # round: any two readings with moves between them give the same 150 %
        step = [b - a for a, b in zip(hosttree.CPU_BEFORE, hosttree.CPU_AFTER, strict=True)]
        for k in range(1, 200):  # bounded: a sample every 0.2 s
            cpu = tuple(a + k * d for a, d in zip(hosttree.CPU_BEFORE, step, strict=True))
            hosttree.write_stat(proc, cpu)
            time.sleep(0.05)
            body = json.loads(_get(running.port, "/api/v1/host"))
            if body["cpu_percent"] is not None:
                break
        assert body["cpu_percent"] == hosttree.CPU_PERCENT_BETWEEN
        values = host_values(_get(running.port, "/metrics"))
    assert values["machine_cpu_cores"] == hosttree.CPUS
    assert values["machine_memory_bytes"] == hosttree.MEM_TOTAL_KB * 1024
    assert values["watchdog_host_load15"] == hosttree.LOAD[2]
