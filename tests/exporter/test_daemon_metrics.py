"""The ``watchdog_docker_*`` families: the writer's bytes against prometheus_client's
(the oracle) in both formats, and promtool, for the real test engine's state and for the
states the engine cannot produce on demand (down, never read, labels needing escapes)."""

from __future__ import annotations

import dataclasses
import subprocess
from collections.abc import Callable

import pytest
from helpers.exporting import om_latest
from helpers.oracle import Oracle
from prometheus_client import generate_latest
from prometheus_client.registry import CollectorRegistry
from test_exposition import promtool

from watchdog_agent.collectors.fsusage import measure_data_root
from watchdog_agent.docker.client import DockerClient
from watchdog_agent.exporter.cache import MetricsCache
from watchdog_agent.exporter.exposition import Format
from watchdog_agent.exporter.scrape import Scrape
from watchdog_agent.model import DaemonState, FsUsage


async def engine_state(docker_host: str) -> DaemonState:
    async with DockerClient(docker_host) as client:
        info = await client.daemon_info()
    assert info.data_root is not None
    fs = measure_data_root("/proc", info.data_root)
    return DaemonState(True, 1.0, info, 1.0, fs)


def variants(real: DaemonState) -> dict[str, DaemonState]:
    assert real.info is not None
    odd = dataclasses.replace(
        real.info, version='2"0\\.10\nx', storage_driver=None, cgroup_version=None,
        registry_mirrors=("https://a.example.invalid/", "https://b.example.invalid/"),
    )  # fmt: skip
    no_inodes = FsUsage("/x", 10, 4, 5, None, None)
    return {
        "engine": real,
        "down, last info kept": dataclasses.replace(real, up=False),
        "down, never read": DaemonState(False, 1.0, None, None, None),
        "odd labels, no mirrors list": dataclasses.replace(
            real, info=dataclasses.replace(odd, registry_mirrors=None), data_root_fs=no_inodes
        ),
        "two mirrors": dataclasses.replace(real, info=odd),
    }


def pair(state: DaemonState) -> tuple[Scrape, CollectorRegistry]:
    daemon: Callable[[], DaemonState | None] = lambda: state  # noqa: E731
    served = Scrape(MetricsCache(), sampling_errors=lambda: 0, daemon=daemon)
    registry = CollectorRegistry()
    Oracle(lambda: None, sampling_errors=lambda: 0, daemon=daemon, registry=registry)
    return served, registry


@pytest.mark.engine
async def test_same_bytes_as_prometheus_client(docker_host: str, docker_cli: object) -> None:
    real = await engine_state(docker_host)
    for name, state in variants(real).items():
        served, registry = pair(state)
        text = served.render(Format.TEXT)
        assert text == generate_latest(registry), name
        assert served.render(Format.OPENMETRICS) == om_latest(registry), name
        assert (b"watchdog_docker_up 1.0\n" in text) is state.up, name
        assert (b"watchdog_docker_info{" in text) is (state.info is not None), name


@pytest.mark.engine
async def test_promtool_is_silent(docker_host: str, docker_cli: object) -> None:
    tool = promtool()
    for name, state in variants(await engine_state(docker_host)).items():
        body = pair(state)[0].render(Format.TEXT)
        proc = subprocess.run(
            [tool, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
        )
        assert proc.returncode == 0 and proc.stdout == b"" and proc.stderr == b"", (
            name, proc.stdout.decode() + proc.stderr.decode(),
        )  # fmt: skip


def test_no_daemon_families_without_docker() -> None:
    served, _ = pair(DaemonState(False, 1.0, None, None, None))
    nothing = Scrape(MetricsCache(), sampling_errors=lambda: 0, daemon=lambda: None)
    assert b"watchdog_docker_" not in nothing.render(Format.TEXT)
    assert b"watchdog_docker_up 0.0\n" in served.render(Format.TEXT)
