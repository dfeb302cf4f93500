"""Disk use by area against the real engine: a dangling image, an unused volume holding
10 MiB and a container that wrote 8 MiB to its writable layer. ``/api/v1/disk`` and
``watchdog-agent df`` agree with ``docker system df`` (and ``-v``), the container's
``container_fs_usage_bytes`` is its SizeRw (``docker ps -s``), and forced refreshes are
rate-limited and shared.

Other tests create containers on the same engine meanwhile: totals are compared only when
two docker answers around ours agree; our own objects' rows are compared exactly.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers.agentcli import AGENT, agent_env
from helpers.dockercli import IMAGE, TEST_LABEL, DockerCLI, unique_name
from helpers.serving import check_schema, response_schema, serving

from watchdog_agent.agent.disksampler import MIN_REFRESH
from watchdog_agent.agent.wiring import Agent
from watchdog_agent.commands.dftext import human_size, summary_json_lines, verbose
from watchdog_agent.config import Settings
from watchdog_agent.docker.decode import parse_rfc3339
from watchdog_agent.exporter.exposition import go_float

pytestmark = pytest.mark.engine

MiB = 1024 * 1024
ATTEMPTS = 4  # docker answers compared with ours before giving up on a busy engine
CELLS = re.compile(r" {2,}")


class Objects:
    """What this module creates, labelled, and removes: only these."""

    def __init__(self, cli: DockerCLI, tmp: Path) -> None:
        self.cli = cli
        tag = unique_name("disk")
        labels = ["--label", TEST_LABEL, "--label", cli.session_label]
        tarball = tmp / "rootfs.tar"
        with tarfile.open(tarball, "w") as tar:
            data = b"watchdog disk test\n" * 1000
            info = tarfile.TarInfo("hello.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        out = cli.run("import", "--change", f"LABEL {TEST_LABEL}", str(tarball))
        self.image = out.strip().splitlines()[-1]  # sha256:..., no tag: dangling
        self.volume = f"{tag}-vol"
        cli.run("volume", "create", *labels, self.volume)
        cli.run("run", "--rm", "--network", "none", *labels, "-v", f"{self.volume}:/data",
                IMAGE, "dd", "if=/dev/zero", "of=/data/ten", "bs=1048576", "count=10")  # fmt: skip
        self.container = cli.start(
            IMAGE,
            "sh",
            "-c",
            "dd if=/dev/zero of=/eight bs=1048576 count=8 && exec sleep 600",
            name=f"{tag}-writer",
        )
        for _ in range(100):  # bounded: the 8 MiB are written in well under a second
            if self.size_rw() >= 8 * MiB:
                break
            subprocess.run(["sleep", "0.1"], check=True)

    def size_rw(self) -> int:
        out = self.cli.run("inspect", "--size", "--type", "container", "-f", "{{.SizeRw}}",
                           self.container)  # fmt: skip
        return int(out.strip())

    def remove(self) -> None:
        self.cli.rm(self.container)
        self.cli.run("volume", "rm", "-f", self.volume, check=False)
        self.cli.run("rmi", self.image, check=False)


@pytest.fixture(scope="module")
def objects(docker_cli: DockerCLI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Objects]:
    made = Objects(docker_cli, tmp_path_factory.mktemp("disk"))
    try:
        yield made
    finally:
        made.remove()


def docker_summary(cli: DockerCLI) -> str:
    return cli.run("system", "df", "--format", "{{json .}}")


def rows(text: str, key: str) -> list[list[str]]:
    """The cells of the table lines of ``docker system df -v`` text that contain ``key``."""
    return [CELLS.split(line.strip()) for line in text.splitlines() if key in line]


def without(cells: list[str], *columns: int) -> list[str]:
    return [c for i, c in enumerate(cells) if i not in columns]


async def test_disk_agrees_with_docker_system_df(
    objects: Objects, docker_cli: DockerCLI, docker_host: str
) -> None:
    agent = Agent(Settings(docker_host=docker_host, interval=0.5, journal=None))
    async with serving(agent.settings, agent) as client:

        async def disk(query: str) -> dict[str, Any]:
            async with client.get(f"/api/v1/disk?{query}") as resp:
                assert resp.status == 200, await resp.text()
                doc: dict[str, Any] = await resp.json()
            check_schema(doc, response_schema("/api/v1/disk", 200))
            return doc

        agreed = None
        await disk("")  # the first sample, taken at start
        for _ in range(ATTEMPTS):
            await asyncio.sleep(MIN_REFRESH)  # so that the refresh below asks Docker again
            asked = time.time()
            before = await asyncio.to_thread(docker_summary, docker_cli)
            doc = await disk("refresh=1&verbose=1")
            after = await asyncio.to_thread(docker_summary, docker_cli)
            # ours was taken between two docker answers that agree
            assert (parse_rfc3339(doc["sampled_at"]) or 0) > asked
            if before == after:
                agreed = (before, doc)
                break
        assert agreed is not None, f"the engine never held still for {ATTEMPTS} attempts"
        theirs, doc = agreed
        assert summary_json_lines(doc) == theirs

        # our own objects' rows, exactly (ages and statuses may tick over between calls)
        text = await asyncio.to_thread(docker_cli.run, "system", "df", "-v")
        ours = verbose(doc)
        image = objects.image.removeprefix("sha256:")[:12]
        (mine,) = rows(ours, image)
        assert mine[:2] == ["<none>", "<none>"]
        assert without(mine, 3) == without(rows(text, image)[0], 3)
        vol = rows(ours, objects.volume)
        assert vol == rows(text, objects.volume) == [[objects.volume, "0", "10.49MB"]]
        cid = objects.container[:12]
        (mine,) = rows(ours, cid)
        assert without(mine, 5, 6) == without(rows(text, cid)[0], 5, 6)

        by_name = {v["name"]: v for v in doc["volumes"]}
        assert by_name[objects.volume]["size_bytes"] == 10 * MiB
        assert by_name[objects.volume]["links"] == 0
        (image_row,) = [i for i in doc["images"] if i["id"] == objects.image]
        assert image_row["repo_tags"] == ["<none>:<none>"]  # dangling, as Docker says it
        assert image_row["containers"] == 0 and image_row["repository"] == "<none>"
        (writer,) = [c for c in doc["containers"] if c["id"] == objects.container]
        size_rw = await asyncio.to_thread(objects.size_rw)
        assert writer["size_bytes"] == size_rw >= 8 * MiB

        # container_fs_usage_bytes is its SizeRw, as docker ps -s shows it
        async with client.get("/metrics") as resp:
            metrics = await resp.text()
        (line,) = [m for m in metrics.splitlines()
                   if m.startswith("container_fs_usage_bytes{")
                   and f'id="/docker/{objects.container}"' in m]  # fmt: skip
        assert float(line.rsplit(" ", 1)[1]) == size_rw
        ps_args = ("ps", "-s", "--filter", f"id={objects.container}", "--format", "{{.Size}}")
        ps = await asyncio.to_thread(docker_cli.run, *ps_args)
        assert ps.split(" ")[0] == human_size(size_rw, 3)
        for area in doc["areas"]:
            t = area["type"]
            size, total = go_float(area["size_bytes"]), go_float(area["total"])
            assert f'watchdog_docker_disk_bytes{{type="{t}"}} {size}\n' in metrics
            assert f'watchdog_docker_objects{{type="{t}"}} {total}\n' in metrics


async def test_refresh_is_rate_limited_and_shared(objects: Objects, docker_host: str) -> None:
    agent = Agent(Settings(docker_host=docker_host, interval=0.5, journal=None))
    async with serving(agent.settings, agent) as client:
        assert agent.disk is not None
        await asyncio.sleep(0)
        async with client.get("/api/v1/disk") as resp:  # the first sample, waited for
            assert resp.status == 200
        await asyncio.sleep(MIN_REFRESH)  # the next refresh may ask Docker
        before = agent.disk.requests

        async def refreshed() -> str:
            async with client.get("/api/v1/disk?refresh=1") as resp:
                assert resp.status == 200
                return str((await resp.json())["sampled_at"])

        stamps = await asyncio.gather(*(refreshed() for _ in range(5)))
        assert agent.disk.requests == before + 1  # five concurrent refreshes, one request
        assert len(set(stamps)) == 1
        assert await refreshed() == stamps[0]  # within MIN_REFRESH: the same sample
        assert agent.disk.requests == before + 1


def test_df_command_agrees_with_docker(
    objects: Objects, docker_cli: DockerCLI, docker_host: str
) -> None:
    def ours() -> dict[str, Any]:
        proc = subprocess.run(
            [AGENT, "df", "--format", "json", "-v", "--agent", "none", "--docker-host",
             docker_host], env=agent_env(), capture_output=True, text=True, timeout=60,
            check=True,
        )  # fmt: skip
        doc: dict[str, Any] = json.loads(proc.stdout)
        return doc

    for _ in range(ATTEMPTS):
        before = docker_summary(docker_cli)
        doc = ours()
        if before == docker_summary(docker_cli):
            assert summary_json_lines(doc) == before
            break
    else:
        pytest.fail(f"the engine never held still for {ATTEMPTS} attempts")
    (vol,) = [v for v in doc["volumes"] if v["name"] == objects.volume]
    assert vol["size_bytes"] == 10 * MiB
    table = subprocess.run(
        [AGENT, "df", "--agent", "none", "--docker-host", docker_host], env=agent_env(),
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert table.splitlines()[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split("  ")[0] for line in table.splitlines()[1:]] == [
        "Images", "Containers", "Local Volumes", "Build Cache"]  # fmt: skip


async def test_df_command_through_a_running_agent(
    objects: Objects, docker_cli: DockerCLI, docker_host: str
) -> None:
    agent = Agent(Settings(docker_host=docker_host, interval=0.5, journal=None))
    async with serving(agent.settings, agent) as client:
        url = str(client.make_url("")).rstrip("/")

        def df(*more: str) -> str:
            proc = subprocess.run(
                [AGENT, "df", "--agent", url, "--docker-host", docker_host, *more],
                env=agent_env(), capture_output=True, text=True, timeout=60, check=True,
            )  # fmt: skip
            assert proc.stderr == ""  # the agent watches this engine: nothing to note
            return proc.stdout

        await asyncio.sleep(MIN_REFRESH)  # past the first sample's rate limit
        before = agent.disk.requests if agent.disk else 0
        doc = json.loads(await asyncio.to_thread(df, "--format", "json", "-v"))
        assert agent.disk is not None and agent.disk.requests == before + 1  # refreshed
        (vol,) = [v for v in doc["volumes"] if v["name"] == objects.volume]
        assert vol == {"name": objects.volume, "driver": "local", "links": 0,
                       "size_bytes": 10 * MiB}  # fmt: skip
        cached = json.loads(await asyncio.to_thread(df, "--format", "json", "--cached"))
        assert agent.disk.requests == before + 1 and "volumes" not in cached
        assert cached["sampled_at"] == doc["sampled_at"]
        text = await asyncio.to_thread(df, "-v", "--cached")
        assert rows(text, objects.volume) == [[objects.volume, "0", "10.49MB"]]


async def test_no_docker_answers_503() -> None:
    from helpers.serving import tree_settings

    async with serving(tree_settings()) as client, client.get("/api/v1/disk") as resp:
        assert resp.status == 503
        assert (await resp.json())["error"] == "docker unavailable"


async def test_no_engine_answers_503_and_the_agent_stays_healthy(tmp_path: Path) -> None:
    from helpers.serving import tree_settings

    settings = tree_settings(no_docker=False, docker_host=f"unix://{tmp_path}/none.sock")
    async with serving(settings) as client:
        async with client.get("/api/v1/disk?refresh=1") as resp:
            assert resp.status == 503
            body = await resp.json()
        assert body["error"] == "docker unavailable"
        async with client.get("/healthz") as resp:
            assert resp.status == 200 and (await resp.json())["tasks"]["disk"] == "running"
