"""The daemon part of ``/api/v1/info`` and the ``watchdog_docker_*`` series, against a
private engine given a registry mirror and an insecure registry (``.invalid`` names:
configured, never contacted; nothing is pulled), compared with what ``docker info``
(the 20.10 client) and statvfs/df report; then the engine is stopped and started again."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from helpers.exporting import parse
from helpers.privateengine import PrivateEngine, require_dockerd, started_engine
from helpers.serving import serving

from watchdog_agent.config import Settings

MIRROR = "https://mirror.example.invalid/"  # Docker normalises the flag's value with a "/"
INSECURE = "registry.example.invalid:5000"
REGISTRY_FLAGS = (
    "--registry-mirror", "https://mirror.example.invalid", "--insecure-registry", INSECURE,
)  # fmt: skip
TIMEOUT = 40.0  # seconds for the agent to notice a change (ping every 5 s)


@pytest.fixture(scope="module")
def engine() -> Iterator[PrivateEngine]:
    with started_engine(REGISTRY_FLAGS) as eng:
        yield eng


def docker_info(eng: PrivateEngine) -> dict[str, Any]:
    out = eng.docker("info", "--format", "{{json .}}").stdout
    doc = json.loads(out)
    assert isinstance(doc, dict)
    return doc


def df_bytes(path: str) -> tuple[int, int, int]:
    """(size, used, available) in bytes as ``df -B1`` prints them."""
    out = subprocess.run(
        ["df", "-B1", "--output=size,used,avail", path],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.split("\n")[1].split()  # fmt: skip
    size, used, avail = (int(v) for v in out)
    return size, used, avail


async def daemon_doc(client: TestClient[Any, Any]) -> dict[str, Any] | None:
    async with client.get("/api/v1/info") as resp:
        assert resp.status == 200
        doc = await resp.json()
    daemon = doc["daemon"]
    assert daemon is None or isinstance(daemon, dict)
    return daemon


async def metrics(client: TestClient[Any, Any]) -> dict[str, float]:
    async with client.get("/metrics") as resp:
        assert resp.status == 200
        body = await resp.read()
    return {
        name: value
        for (name, labels), value in parse(body).items()
        if name.startswith("watchdog_docker_")
    } | {
        "info_labels:" + json.dumps(dict(sorted(labels))): value
        for (name, labels), value in parse(body).items()
        if name == "watchdog_docker_info"
    }


async def wait_daemon(
    client: TestClient[Any, Any], up: bool, timeout: float = TIMEOUT
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        doc = await daemon_doc(client)
        if doc is not None and doc["up"] is up and (not up or doc["sampled_at"] is not None):
            return doc
        assert loop.time() < end, f"the daemon never read up={up}: {doc}"
        await asyncio.sleep(0.2)


def settings(eng: PrivateEngine) -> Settings:
    return Settings(docker_host=eng.host, journal=None, interval=0.5)


@pytest.mark.engine
async def test_info_reports_what_docker_info_reports(engine: PrivateEngine) -> None:
    want = docker_info(engine)
    registry = want["RegistryConfig"]
    async with serving(settings(engine)) as client:
        got = await wait_daemon(client, up=True)
        series = await metrics(client)
        async with client.get("/api/v1/host") as resp:
            assert resp.status == 200
            host = await resp.json()
        async with client.get("/healthz") as resp:  # the sampler is a task the agent owns
            assert (await resp.json())["tasks"]["daemon-info"] == "running"
    # the host document shows the data root's filesystem the daemon part measured
    assert got["data_root"] is not None
    assert host["data_root"] == got["data_root"]
    assert host["data_root"]["path"].endswith(want["DockerRootDir"])
    assert want["RegistryConfig"]["Mirrors"] == [MIRROR]
    assert got["registry_mirrors"] == registry["Mirrors"] == [MIRROR]
    # docker info's "Insecure Registries": insecure index names, then the CIDRs
    insecure = [n for n, c in registry["IndexConfigs"].items() if not c["Secure"]]
    assert insecure == [INSECURE]
    assert got["insecure_registries"] == [INSECURE, *registry["InsecureRegistryCIDRs"]]
    assert got["storage_driver"] == want["Driver"]
    assert got["logging_driver"] == want["LoggingDriver"]
    assert got["cgroup_driver"] == want["CgroupDriver"]
    assert got["cgroup_version"] == want["CgroupVersion"]
    assert got["data_root_dir"] == want["DockerRootDir"] == f"{engine.root}/data"
    assert got["version"] == want["ServerVersion"]
    assert got["id"] == want["ID"]
    assert got["live_restore"] is want["LiveRestoreEnabled"]
    assert got["default_runtime"] == want["DefaultRuntime"]
    assert got["security_options"] == want["SecurityOptions"]
    assert got["warnings"] == (want["Warnings"] or [])
    assert got["images"] == want["Images"] == 1  # the imported test image
    for key in ("Containers", "ContainersRunning", "ContainersPaused", "ContainersStopped"):
        snake = "containers" + ("_" + key[10:].lower() if key != "Containers" else "")
        assert got[snake] == want[key], key
    version = json.loads(engine.docker("version", "--format", "{{json .Server}}").stdout)
    assert got["api_version"] == version["ApiVersion"]

    assert series["watchdog_docker_up"] == 1
    assert series["watchdog_docker_registry_mirrors"] == 1
    labels = {
        "version": want["ServerVersion"], "storage_driver": want["Driver"],
        "logging_driver": want["LoggingDriver"], "cgroup_driver": want["CgroupDriver"],
        "cgroup_version": want["CgroupVersion"],
    }  # fmt: skip
    assert series["info_labels:" + json.dumps(dict(sorted(labels.items())))] == 1

    fs = got["data_root"]
    root = want["DockerRootDir"]
    through_init = f"/proc/1/root{root}"
    try:  # the host's PID 1 view when this process may read it (here a sandbox's PID 1
        os.statvfs(through_init)  # may refuse: then the path as the agent sees it)
        assert fs["path"] == through_init
    except PermissionError:
        assert fs["path"] == root
    st = os.statvfs(want["DockerRootDir"])
    size, used, avail = df_bytes(want["DockerRootDir"])
    assert fs["size_bytes"] == st.f_blocks * st.f_frsize == size
    assert fs["inodes_total"] == st.f_files
    # the filesystem is shared and written meanwhile: within 64 MiB of a fresh look
    slack = 64 * 1024 * 1024
    assert abs(fs["free_bytes"] - avail) < slack and abs(fs["used_bytes"] - used) < slack
    assert abs(fs["free_bytes"] - st.f_bavail * st.f_frsize) < slack
    assert series["watchdog_docker_data_root_size_bytes"] == size
    assert abs(series["watchdog_docker_data_root_free_bytes"] - avail) < slack


@pytest.mark.engine
async def test_up_goes_to_zero_when_the_engine_stops_and_back(engine: PrivateEngine) -> None:
    async with serving(settings(engine)) as client:
        first = await wait_daemon(client, up=True)
        assert (await metrics(client))["watchdog_docker_up"] == 1
        engine.stop()
        try:
            down = await wait_daemon(client, up=False)
            series = await metrics(client)
            assert series["watchdog_docker_up"] == 0
            # the last configuration read stays, with its time
            assert down["registry_mirrors"] == [MIRROR]
            assert down["sampled_at"] == first["sampled_at"]
            assert series["watchdog_docker_registry_mirrors"] == 1
        finally:
            await asyncio.to_thread(engine.start)
        back = await wait_daemon(client, up=True)
        for _ in range(int(TIMEOUT / 0.2)):  # read again on reappearing, not in 60 s
            if back["sampled_at"] != first["sampled_at"]:
                break
            await asyncio.sleep(0.2)
            back = await wait_daemon(client, up=True)
        assert back["sampled_at"] != first["sampled_at"]
        assert back["insecure_registries"][0] == INSECURE
        assert (await metrics(client))["watchdog_docker_up"] == 1


@pytest.mark.engine
async def test_a_reload_is_read_at_once(tmp_path_factory: pytest.TempPathFactory) -> None:
    """``daemon.json`` changed and dockerd reloaded (SIGHUP): the daemon's ``reload``
    event makes the agent read /info again, long before its 60 s tick."""
    require_dockerd()
    config = tmp_path_factory.mktemp("daemonjson") / "daemon.json"
    config.write_text(json.dumps({"registry-mirrors": ["https://one.example.invalid"]}))
    eng = PrivateEngine(("--config-file", str(config)))
    try:
        await asyncio.to_thread(eng.start)
        async with serving(settings(eng)) as client:
            first = await wait_daemon(client, up=True)
            assert first["registry_mirrors"] == ["https://one.example.invalid/"]
            mirrors = ["https://one.example.invalid", "https://two.example.invalid"]
            config.write_text(json.dumps({"registry-mirrors": mirrors}))
            assert eng.proc is not None
            os.kill(eng.proc.pid, signal.SIGHUP)
            loop = asyncio.get_running_loop()
            end = loop.time() + 30  # well under INFO_INTERVAL (60 s)
            while (doc := await daemon_doc(client)) is not None and len(
                doc["registry_mirrors"] or []
            ) < 2:
                assert loop.time() < end, f"the reload was not read: {doc}"
                await asyncio.sleep(0.2)
            assert doc is not None and doc["registry_mirrors"] == [f"{m}/" for m in mirrors]
            assert (await metrics(client))["watchdog_docker_registry_mirrors"] == 2
            assert (
                json.loads(eng.docker("info", "--format", "{{json .}}").stdout)["RegistryConfig"][
                    "Mirrors"
                ]
                == doc["registry_mirrors"]
            )
    finally:
        eng.destroy()
