"""Stats of N real containers (default 50) from the agent's HTTP API next to
``docker stats --no-stream``, same run, same containers.

    python bench/stats_api.py [--containers 50] [--repeat 3] [--docker-host unix:///...]

The engine: ``--docker-host``, else ``$DOCKER_HOST``, else the test engine at
unix:///tmp/wd-engine/docker.sock, whichever answers first; when none does, a throwaway
engine is started the way scripts/test does it (under /tmp/wdb-<random>, ``--bridge=none``,
no iptables, its own cgroup parent) and stopped at the end. ``--own-engine`` always starts
one.

The containers (``--network none``, label ``watchdog.bench=1``, ``sleep 3600``) are
started first, then ``watchdog-agent serve --listen 127.0.0.1:0 --journal none`` against
that engine; once its snapshot holds every container with stats, each method runs
``--repeat`` times, interleaved:

- ``GET /api/v1/containers`` (aiohttp in this process, a new connection each time, the
  JSON parsed): every running container with its latest stats;
- ``GET /api/v1/containers/{id}/stats`` once per container, one after the other over a
  keep-alive connection;
- ``curl`` of ``/api/v1/containers`` (a process per fetch, like a CLI);
- ``/usr/bin/docker stats --no-stream`` (with the ids when the engine runs other
  containers too).

Prints a Markdown table of the medians and the ratio docker / ours (goal: >= 50). The
containers are removed, the agent stopped (SIGTERM) and a started engine stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scrapers import serve

DOCKER = os.environ.get("WATCHDOG_TEST_DOCKER_CLI", "/usr/bin/docker")
AGENT = str(Path(sys.executable).with_name("watchdog-agent"))
IMAGE = "watchdog-test/busybox:latest"
TEST_ENGINE = "unix:///tmp/wd-engine/docker.sock"
APPLETS = ("sh", "sleep", "cat", "echo", "head", "dd", "yes", "ps", "top", "nc", "ping", "seq",
           "wc", "kill", "true", "false", "env", "id")  # fmt: skip
GOAL = 50.0
SNAPSHOT_TIMEOUT = 60.0


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


@contextmanager
def own_engine() -> Iterator[str]:
    """A throwaway dockerd under /tmp/wdb-<random>, as scripts/test starts one."""
    path = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    dockerd = shutil.which("dockerd", path=path)
    if dockerd is None:
        raise SystemExit(
            "no engine answers and dockerd is not installed (apt-get install docker.io)"
        )
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
        print(f"started a throwaway engine on {host} in {time.monotonic() - t0:.1f} s", flush=True)
        yield host
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
        # Empty cgroup directories the engine made under its parent (rmdir only removes
        # empty ones), then its state directory.
        for d in sorted(glob.glob(f"/sys/fs/cgroup/*{cgroup_parent}"), reverse=True):
            for sub in sorted(glob.glob(f"{d}/*/"), reverse=True):
                with suppress(OSError):
                    os.rmdir(sub)
            with suppress(OSError):
                os.rmdir(d)
        try:
            shutil.rmtree(root)
        except OSError as exc:
            print(f"warning: could not remove {root}: {exc}", file=sys.stderr)


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


@contextmanager
def bench_containers(host: str, n: int) -> Iterator[list[str]]:
    ids: list[str] = []

    def start(_: int) -> str:
        return docker(host, "run", "-d", "--network", "none", "--label", "watchdog.bench=1",
                      IMAGE, "sleep", "3600").strip()  # fmt: skip

    try:
        with ThreadPoolExecutor(8) as pool:
            for cid in pool.map(start, range(n)):
                ids.append(cid)
        yield ids
    finally:
        if ids:
            docker(host, "rm", "-f", *ids, timeout=300)


@contextmanager
def agent(host: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="wdb-agent-") as tmp:
        args = ["--docker-host", host, "--journal", "none"]
        with serve(args, Path(tmp)) as (_proc, url):
            yield url


def with_stats(doc: list[dict[str, Any]], ids: set[str]) -> int:
    return sum(1 for c in doc if c["id"] in ids and c.get("stats") is not None)


async def wait_snapshot(base: str, ids: set[str]) -> tuple[float, list[dict[str, Any]]]:
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while True:
            try:
                async with session.get(f"{base}/api/v1/containers") as r:
                    doc = await r.json() if r.status == 200 else []
            except aiohttp.ClientError:
                doc = []
            if with_stats(doc, ids) == len(ids):
                return time.perf_counter() - t0, doc
            if time.perf_counter() - t0 > SNAPSHOT_TIMEOUT:
                raise RuntimeError(
                    f"after {SNAPSHOT_TIMEOUT:.0f} s the agent has stats for "
                    f"{with_stats(doc, ids)} of {len(ids)} containers"
                )
            await asyncio.sleep(0.2)


async def list_once(base: str, ids: set[str]) -> float:
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session, session.get(f"{base}/api/v1/containers") as r:
        doc = json.loads(await r.read())
    elapsed = time.perf_counter() - t0
    if r.status != 200 or with_stats(doc, ids) != len(ids):
        raise RuntimeError(f"/api/v1/containers: HTTP {r.status}, {with_stats(doc, ids)} stats")
    return elapsed


async def each_once(base: str, ids: list[str]) -> float:
    t0 = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        for cid in ids:
            async with session.get(f"{base}/api/v1/containers/{cid}/stats") as r:
                doc = json.loads(await r.read())
            if r.status != 200 or doc.get("sampled_at") is None:
                raise RuntimeError(f"/api/v1/containers/{cid[:12]}/stats: HTTP {r.status}")
    return time.perf_counter() - t0


def curl_once(base: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        ["curl", "-sf", "-o", "/dev/null", f"{base}/api/v1/containers"], check=True, timeout=30
    )
    return time.perf_counter() - t0


def docker_once(host: str, extra: list[str]) -> tuple[float, int]:
    t0 = time.perf_counter()
    out = docker(host, "stats", "--no-stream", *extra)
    return time.perf_counter() - t0, len(out.splitlines()) - 1


def measure(host: str, ids: list[str], base: str, repeat: int) -> list[str]:
    idset = set(ids)
    waited, doc = asyncio.run(wait_snapshot(base, idset))
    running = docker(host, "ps", "-q", "--no-trunc").split()
    extra = [] if set(running) == idset else ids
    stats_keys = sorted(next(c for c in doc if c["id"] in idset)["stats"])
    lists, each, curls, dockers = [], [], [], []
    rows = 0
    for _ in range(repeat):
        lists.append(asyncio.run(list_once(base, idset)))
        each.append(asyncio.run(each_once(base, ids)))
        if shutil.which("curl"):
            curls.append(curl_once(base))
        t, rows = docker_once(host, extra)
        dockers.append(t)
    d = statistics.median(dockers)
    docker_cmd = "docker stats --no-stream" + (f" <{len(ids)} ids>" if extra else "")
    methods = [
        ("GET /api/v1/containers (aiohttp, new connection)", lists),
        (f"{len(ids)} x GET /api/v1/containers/{{id}}/stats (sequential)", each),
        ("curl /api/v1/containers (a process per fetch)", curls),
        (docker_cmd, dockers),
    ]
    lines = [
        f"engine {host}: {len(running)} running containers, {len(ids)} of them ours; "
        f"the agent had stats for all {len(ids)} {waited:.1f} s after it listened.",
        f"`GET /api/v1/containers` answers a JSON list of {len(doc)} container objects "
        f"(id, name, image, state, labels, limits, ...) each with `stats`: "
        f"{', '.join(stats_keys)}.",
        f"docker stats printed {rows} rows.",
        "",
        f"| {'method':<52} | median (ms) | runs (ms)              | docker / this |",
        f"|{'-' * 54}|------------:|------------------------|--------------:|",
    ]
    for label, runs in methods:
        if not runs:
            continue
        med = statistics.median(runs)
        shown = " ".join(f"{t * 1e3:.1f}" for t in runs)
        lines.append(f"| {label:<52} | {med * 1e3:>11.1f} | {shown:<22} | {d / med:>12.1f}x |")
    ratio = d / statistics.median(lists)
    verdict = "meets" if ratio >= GOAL else "MISSES"
    lines += ["", f"GET /api/v1/containers is {ratio:.0f}x faster than docker stats --no-stream: "
              f"{verdict} the {GOAL:.0f}x goal."]  # fmt: skip
    return lines


def pick_engine(requested: str | None, own: bool) -> str | None:
    if own:
        return None
    for host in (requested, os.environ.get("DOCKER_HOST"), TEST_ENGINE):
        if host and answers(host):
            return host
    if requested:
        raise SystemExit(f"no engine answers on {requested}")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--containers", "-n", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--docker-host", help="engine to use (default: see above)")
    parser.add_argument("--own-engine", action="store_true", help="always start a throwaway one")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    t0 = time.perf_counter()
    with ExitStack() as stack:
        host = pick_engine(args.docker_host, args.own_engine)
        if host is None:
            host = stack.enter_context(own_engine())
        else:
            print(f"using the engine on {host}", flush=True)
        ensure_image(host)
        ids = stack.enter_context(bench_containers(host, args.containers))
        print(f"started {len(ids)} containers in {time.perf_counter() - t0:.1f} s", flush=True)
        base = stack.enter_context(agent(host))
        lines = measure(host, ids, base, args.repeat)
    print("\n".join(lines))
    print(f"\n(wall time of the whole run, set-up and clean-up included: "
          f"{time.perf_counter() - t0:.0f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
