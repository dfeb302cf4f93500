"""Real containers for the stats benchmarks (bench/stats_cli.py, bench/stats_api.py): an
engine to run them on, the busybox test image, and N labelled ``sleep`` containers
created, started and removed through the Engine API with bounded concurrency (a CLI
process per container is too slow at 200).

More than about 30 containers go on an engine of the benchmark's own (``own_engine``:
a throwaway dockerd under /tmp/wdb-<random>, ``--bridge=none``, no iptables, its own
cgroup parent, stopped at the end), never on the shared test engine.
"""

from __future__ import annotations

import asyncio
import glob
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import aiohttp

from bench.children import stop

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
IMAGE = "watchdog-test/busybox:latest"
TEST_ENGINE = "unix:///tmp/wd-engine/docker.sock"
APPLETS = ("sh", "sleep", "cat", "echo", "head", "dd", "yes", "ps", "top", "nc", "ping", "seq",
           "wc", "kill", "true", "false", "env", "id")  # fmt: skip
PARALLEL = 8  # Engine API requests at once while creating and removing containers
LABEL = "watchdog.bench"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def docker(host: str, *args: str, timeout: float = 120) -> str:
    return subprocess.run(
        [DOCKER, "-H", host, *args], check=True, capture_output=True, text=True, timeout=timeout
    ).stdout


def answers(host: str) -> bool:
    try:
        docker(host, "version", timeout=10)
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False
    return True


def reachable(requested: str | None = None) -> str | None:
    """The first engine that answers: ``requested``, ``$DOCKER_HOST``, the test engine."""
    for host in (requested, os.environ.get("DOCKER_HOST"), TEST_ENGINE):
        if host and answers(host):
            return host
    return None


@contextmanager
def own_engine() -> Iterator[str]:
    """A throwaway dockerd under /tmp/wdb-<random>, as scripts/test starts one."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    dockerd = shutil.which("dockerd", path=path)
    if dockerd is None:
        raise RuntimeError("dockerd is not installed (apt-get install docker.io)")
    root = Path(tempfile.mkdtemp(prefix="wdb-", dir="/tmp"))
    cgroup_parent = f"/{root.name}"
    host = f"unix://{root}/docker.sock"
    log = open(root / "dockerd.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen(
        [
            dockerd, "-H", host, "--data-root", f"{root}/data", "--exec-root", f"{root}/exec",
            "--pidfile", f"{root}/docker.pid", "--bridge=none", "--iptables=false",
            "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
            f"--cgroup-parent={cgroup_parent}",
        ],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
    )  # fmt: skip
    try:
        t0 = time.monotonic()
        while not answers(host):
            if proc.poll() is not None or time.monotonic() - t0 > 60:
                tail = (root / "dockerd.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"the engine did not start; dockerd.log:\n{tail}")
            time.sleep(0.3)
        say(f"started a throwaway engine on {host} in {time.monotonic() - t0:.1f} s")
        yield host
    finally:
        stop(proc, 30)
        log.close()
        # empty cgroup directories the engine made under its parent (rmdir only removes
        # empty ones), then its state directory
        for d in sorted(glob.glob(f"/sys/fs/cgroup/*{cgroup_parent}"), reverse=True):
            for sub in sorted(glob.glob(f"{d}/*/"), reverse=True):
                with suppress(OSError):
                    os.rmdir(sub)
            with suppress(OSError):
                os.rmdir(d)
        try:
            shutil.rmtree(root)
        except OSError as exc:
            say(f"warning: could not remove {root}: {exc}")


def ensure_image(host: str) -> None:
    """The busybox test image, imported from Debian's static busybox when missing."""
    try:
        docker(host, "image", "inspect", IMAGE)
        return
    except subprocess.CalledProcessError:
        pass
    with tempfile.TemporaryDirectory() as img:
        os.makedirs(f"{img}/bin")
        shutil.copy("/bin/busybox", f"{img}/bin/busybox")
        for applet in APPLETS:
            os.symlink("busybox", f"{img}/bin/{applet}")
        tar = subprocess.Popen(["tar", "-C", img, "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(
            [DOCKER, "-H", host, "import", "-", IMAGE], stdin=tar.stdout, check=True,
            capture_output=True, timeout=120,
        )  # fmt: skip
        if tar.stdout is not None:
            tar.stdout.close()
        tar.wait()


def _session(host: str) -> aiohttp.ClientSession:
    if not host.startswith("unix://"):
        raise RuntimeError(f"only unix:// engines are supported here, not {host}")
    connector = aiohttp.UnixConnector(path=host.removeprefix("unix://"), limit=0)
    timeout = aiohttp.ClientTimeout(total=120)
    return aiohttp.ClientSession("http://docker", connector=connector, timeout=timeout)


async def _create(host: str, n: int, label: str, cpus: float | None) -> list[str]:
    limit = asyncio.Semaphore(PARALLEL)
    ids: list[str] = []
    host_config: dict[str, object] = {"NetworkMode": "none"}
    if cpus is not None:
        host_config["NanoCpus"] = int(cpus * 1e9)
    body = {"Image": IMAGE, "Cmd": ["sleep", "3600"], "Labels": {LABEL: label},
            "HostConfig": host_config}  # fmt: skip

    async def one(session: aiohttp.ClientSession) -> None:
        async with limit:
            async with session.post("/containers/create", json=body) as resp:
                if resp.status != 201:
                    raise RuntimeError(f"create: HTTP {resp.status} {await resp.text()}")
                cid: str = (await resp.json())["Id"]
            ids.append(cid)  # removed at the end even if it does not start
            async with session.post(f"/containers/{cid}/start") as resp:
                if resp.status != 204:
                    raise RuntimeError(f"start: HTTP {resp.status} {await resp.text()}")

    async with _session(host) as session:
        results = await asyncio.gather(*(one(session) for _ in range(n)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        await _remove(host, ids)
        raise RuntimeError(f"{len(errors)} of {n} containers did not start: {errors[0]}")
    return ids


async def _remove(host: str, ids: list[str]) -> None:
    limit = asyncio.Semaphore(PARALLEL)

    async def one(session: aiohttp.ClientSession, cid: str) -> None:
        async with limit, session.delete(f"/containers/{cid}", params={"force": "1"}) as resp:
            if resp.status not in (204, 404):
                say(f"warning: could not remove {cid[:12]}: HTTP {resp.status}")

    async with _session(host) as session:
        await asyncio.gather(*(one(session, cid) for cid in ids))


@contextmanager
def containers(host: str, n: int, cpus: float | None = None) -> Iterator[list[str]]:
    """``n`` running ``sleep`` containers (no network, label watchdog.bench=<random>,
    ``cpus``: a CPU quota), removed on leaving."""
    label = secrets.token_hex(6)
    t0 = time.monotonic()
    ids = asyncio.run(_create(host, n, label, cpus))
    say(f"started {n} containers in {time.monotonic() - t0:.1f} s")
    try:
        yield ids
    finally:
        t0 = time.monotonic()
        asyncio.run(_remove(host, ids))
        say(f"removed {n} containers in {time.monotonic() - t0:.1f} s")
