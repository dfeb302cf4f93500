"""Many hosts through one Prometheus: private engines, one agent each, one real Prometheus.

``fleet(tmp, hosts=3)`` starts ``hosts`` private dockerds (helpers/privateengine.py: each
under its own short /tmp dir, no network), on each a ``watchdog-agent serve`` with the
arguments every deployment passes (docs/deploy.md) minus ``--proc-root`` (the agent runs
on the host), and one Debian ``prometheus`` loading the SHIPPED deploy/prometheus files,
changed only where a test must (``_prometheus_files`` says how). Everything binds
127.0.0.1; every container carries ``watchdog.test=1`` and is removed at the end, and
every process is stopped even when the test fails.

``start_workload(host)`` makes on one host what the alerts and dashboards are about: a
throttled CPU loop doing block I/O, a container near its memory limit, one that exited
with code 3, a real OOM kill and a restart loop (the names are the constants below).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.agentcli import AGENT, agent_env
from helpers.dockercli import IMAGE, TEST_LABEL
from helpers.oomkill import recorded_oom_kill
from helpers.privateengine import DOCKER, PrivateEngine, poll, require_dockerd

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "deploy" / "prometheus"  # prometheus.yml, alerts.yml
PROMETHEUS = "/usr/bin/prometheus"
JOB = "watchdog-agent"
METRIC_LABELS = "com.docker.compose.project,com.docker.compose.service"
RESYNC_SECONDS = 10.0  # the agents' inventory resync period (--resync-interval)
PROJECT = "shop"  # the compose project of the workload's labelled containers

# the workload's containers (the same names on every host: the instance tells them apart)
BUSY = "busy"  # --cpus 0.2, spins: throttled; ping on lo; dd with fsync (block I/O)
NEAR_LIMIT = "near-limit"  # --memory 40m holding 37 MiB in /dev/shm
EXIT3 = "exit3"  # exited with code 3
OOM = "oom"  # --memory 16m writing 64 MiB to a tmpfs: OOM-killed, exit 137
RESTARTING = "restarting"  # --restart always, exits 1 after a second
BUSY_CPUS = 0.2
NEAR_LIMIT_BYTES = 40 * 1024 * 1024


def free_port() -> int:
    """A port free on 127.0.0.1 now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class FleetHost:
    """One "host": a private engine and the agent watching it."""

    def __init__(self, name: str, engine: PrivateEngine, state: Path) -> None:
        self.name = name
        self.engine = engine
        self.docker_host = engine.host
        self.state = state  # the agent's journal and log
        self.port = free_port()
        self.instance = f"127.0.0.1:{self.port}"  # the target, hence Prometheus' instance
        self.agent_url = f"http://{self.instance}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.agent_started = 0.0  # time.monotonic() of the agent's last start

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """``docker <args>`` against this host's engine."""
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONTEXT"}
        env["DOCKER_HOST"] = self.docker_host
        return subprocess.run(
            [DOCKER, *args], env=env, capture_output=True, text=True, timeout=60, check=check
        )

    def agent_argv(self) -> list[str]:
        """As the systemd unit runs it (docs/deploy.md), on a port of its own; short
        intervals so a test sees changes within seconds (the inventory's resync too:
        RESYNC_SECONDS)."""
        return [AGENT, "serve", "--listen", self.instance, "--docker-host", self.docker_host,
                "--journal", str(self.state / "events.db"), "--metric-labels", METRIC_LABELS,
                "--interval", "1", "--disk-interval", "5",
                "--resync-interval", str(RESYNC_SECONDS)]  # fmt: skip

    def start_agent(self) -> None:
        """Start the agent (again, on the same port); return once /metrics answers."""
        assert self.proc is None or self.proc.poll() is not None, "agent already running"
        with open(self.state / "agent.log", "ab") as log:
            self.proc = subprocess.Popen(
                self.agent_argv(), env=agent_env(self.docker_host), stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        self.agent_started = time.monotonic()
        proc = self.proc

        def answers() -> bool:
            if proc.poll() is not None:
                tail = (self.state / "agent.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"agent on {self.name} exited {proc.returncode}:\n{tail}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.agent_url + "/metrics", timeout=5) as r,
            ):
                return bool(r.status == 200)
            return False

        poll(answers, 30, f"the agent on {self.name} to serve /metrics", step=0.2)

    def stop_agent(self) -> None:
        """SIGTERM, then wait (SIGKILL after 20 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def cpu_seconds(self, name: str) -> float:
        """CPU time the container has used, read from the kernel (its cgroup: cgroup v1's
        cpuacct.usage or v2's cpu.stat), not through the agent: a test's oracle."""
        pid = self.docker("inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
        for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "cpuacct" in controllers.split(","):
                base = _cgroup_v1_mount("cpuacct")
                return int((base / path.lstrip("/") / "cpuacct.usage").read_text()) / 1e9
            if controllers == "" and Path("/sys/fs/cgroup/cgroup.controllers").exists():
                stat = (Path("/sys/fs/cgroup") / path.lstrip("/") / "cpu.stat").read_text()
                usec = next(
                    ln.split()[1] for ln in stat.splitlines() if ln.startswith("usage_usec")
                )
                return int(usec) / 1e6
        raise AssertionError(f"no cpu accounting cgroup for {name} on {self.name}")

    def metrics(self) -> str:
        """The agent's /metrics text, as Prometheus reads it."""
        with urllib.request.urlopen(self.agent_url + "/metrics", timeout=10) as r:
            body: bytes = r.read()
        return body.decode()


def _cgroup_v1_mount(controller: str) -> Path:
    """Where the cgroup v1 hierarchy holding ``controller`` is mounted."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup" and controller in fields[sep + 3].split(","):
                return Path(fields[4])
    raise AssertionError(f"no cgroup v1 {controller} hierarchy mounted")


class PrometheusError(AssertionError):
    """Prometheus refused a query; the message is its own error text."""


class Prometheus:
    """The HTTP API of the fleet's Prometheus."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        query = "?" + urllib.parse.urlencode(params) if params else ""
        try:
            with urllib.request.urlopen(self.url + path + query, timeout=30) as r:
                doc = json.load(r)
        except urllib.error.HTTPError as exc:
            body = exc.read().decode(errors="replace")
            with contextlib.suppress(ValueError):
                body = json.loads(body).get("error", body)
            raise PrometheusError(f"{path} {dict(params or {})}: {exc.code}: {body}") from exc
        if doc.get("status") != "success":
            raise PrometheusError(f"{path} {dict(params or {})}: {doc.get('error', doc)}")
        return doc["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """The instant query's result (vector or matrix entries: ``metric``, ``value``),
        now or ``at`` a unix time."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        data = self._get("/api/v1/query", params)
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def wait_for(self, expr: str, what: str, timeout: float) -> list[dict[str, Any]]:
        """Query until the result is non-empty (at most ``timeout`` seconds); that result."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {timeout} s waiting for {what}: {expr}")
            time.sleep(0.5)

    def firing(self) -> list[dict[str, Any]]:
        """Alerts in state firing (``/api/v1/alerts``): ``labels``, ``annotations``, ..."""
        alerts: list[dict[str, Any]] = self._get("/api/v1/alerts")["alerts"]
        return [a for a in alerts if a.get("state") == "firing"]

    def ready(self) -> bool:
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(self.url + "/-/ready", timeout=5) as r,
        ):
            return bool(r.status == 200)
        return False


@dataclass
class Fleet:
    hosts: list[FleetHost]
    prometheus: Prometheus


def _prometheus_files(conf: Path, hosts: list[FleetHost]) -> Path:
    """The shipped prometheus.yml and alerts.yml copied into ``conf``, changed only as a
    test needs: scrape and evaluation every second (not 15 s), every ``for:`` 0 so an
    alert fires on its cause within seconds (alerts_test.yml proves the real ``for:``
    timings), and targets/agents.yml listing the fleet's agents. Returns prometheus.yml."""
    config = yaml.safe_load((SHIPPED / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s", scrape_timeout="1s")
    (conf / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    rules = yaml.safe_load((SHIPPED / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = "0s"
    (conf / "alerts.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
    targets = conf / "targets"
    targets.mkdir()
    (targets / "agents.yml").write_text(
        yaml.safe_dump([{"targets": [h.instance for h in hosts]}], sort_keys=False)
    )
    return conf / "prometheus.yml"


@contextlib.contextmanager
def _prometheus(tmp: Path, hosts: list[FleetHost]) -> Iterator[Prometheus]:
    conf = tmp / "prometheus"
    conf.mkdir()
    config = _prometheus_files(conf, hosts)
    port = free_port()
    with open(conf / "prometheus.log", "ab") as log:
        proc = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={conf / 'data'}",
             f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1d"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    prom = Prometheus(f"http://127.0.0.1:{port}")
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                tail = (conf / "prometheus.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"prometheus exited {proc.returncode}:\n{tail}")
            return prom.ready()

        poll(ready, 60, "prometheus to be ready", step=0.2)
        yield prom
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def mount_tmpfs(path: Path, mib: int) -> None:
    """A tmpfs of ``mib`` MiB at ``path`` (root only)."""
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={mib}m", "tmpfs", str(path)],
                   check=True, capture_output=True)  # fmt: skip


def unmount(path: Path) -> None:
    """Unmount ``path`` (lazily, so an engine that left something open cannot block it)."""
    subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


@contextlib.contextmanager
def fleet(
    tmp: Path, hosts: int = 3, *, data_root_tmpfs: Mapping[int, int] | None = None
) -> Iterator[Fleet]:
    """``hosts`` engines with an agent each, and one Prometheus scraping them all.

    ``data_root_tmpfs`` maps a host's index to a tmpfs size in MiB on which its engine's
    data root is put (a small filesystem a test can fill).
    """
    require_dockerd()
    if not Path(PROMETHEUS).exists():
        msg = f"{PROMETHEUS} is not installed (Debian's prometheus package)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    small = dict(data_root_tmpfs or {})
    made: list[FleetHost] = []
    mounts: list[Path] = []
    try:
        for i in range(hosts):
            engine = PrivateEngine()
            state = tmp / f"host{i + 1}"
            state.mkdir()
            host = FleetHost(f"host{i + 1}", engine, state)
            made.append(host)
            if i in small:
                mount_tmpfs(engine.root / "data", small[i])
                mounts.append(engine.root / "data")
            engine.start()
            engine.import_busybox()
        for host in made:
            host.start_agent()
        with _prometheus(tmp, made) as prom:
            yield Fleet(made, prom)
    finally:
        # every step runs even when one before it fails (a hung engine, a timeout)
        for host in made:
            with contextlib.suppress(Exception):
                host.stop_agent()
        for host in made:
            with contextlib.suppress(Exception):
                _remove_test_containers(host)
            with contextlib.suppress(Exception):
                host.engine.stop()
        for path in mounts:
            unmount(path)
        for host in made:
            with contextlib.suppress(Exception):
                host.engine.destroy()


def _remove_test_containers(host: FleetHost) -> None:
    if host.engine.proc is None or host.engine.proc.poll() is not None:
        return  # stopped by a test: its containers go with its state dir
    ids = host.docker("ps", "-aq", "--filter", f"label={TEST_LABEL}", check=False)
    if ids.returncode == 0 and ids.stdout.split():
        host.docker("rm", "-f", *ids.stdout.split(), check=False)


def _run(host: FleetHost, name: str, *args: str, service: str | None = None) -> str:
    """``docker run -d`` with the test's labels; the container's id."""
    labels = ["--label", TEST_LABEL, "--label", host.engine.session_label]
    if service is not None:
        labels += ["--label", f"com.docker.compose.project={PROJECT}",
                   "--label", f"com.docker.compose.service={service}"]  # fmt: skip
    # --stop-timeout 1: an engine stopped by a test stops them at once (a shell as PID 1
    # ignores SIGTERM, and Docker would wait its default 10 s for each)
    return host.docker("run", "-d", "--name", name, "--network", "none", "--stop-timeout", "1",
                       *labels, *args).stdout  # fmt: skip


def block_device(path: Path) -> str | None:
    """The whole disk (``/dev/vda``) holding ``path``'s filesystem; None for tmpfs and the
    like (no block device)."""
    st = os.stat(path)
    sys_dev = Path(f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}")
    if not sys_dev.exists():
        return None
    disk = sys_dev.resolve()
    if (disk / "partition").exists():
        disk = disk.parent
    node = Path("/dev") / disk.name
    return str(node) if node.exists() else None


def give_network(host: FleetHost, name: str) -> None:
    """A veth pair with both ends inside the container's own network namespace (no
    address, no route: nothing leaves it), and IPv6 link-local multicast pings across
    it, so the container has interfaces cAdvisor's network series count (they skip
    ``lo``) with traffic on them. The engine gives containers none (--bridge=none)."""
    pid = host.docker("inspect", "-f", "{{.State.Pid}}", name).stdout.strip()
    for step in (["link", "add", "eth0", "type", "veth", "peer", "name", "eth1"],
                 ["link", "set", "eth0", "up"], ["link", "set", "eth1", "up"]):  # fmt: skip
        subprocess.run(["nsenter", "-t", pid, "-n", "ip", *step], check=True, timeout=10)
    host.docker("exec", "-d", name, "ping", "-6", "-q", "-i", "0.5", "-I", "eth0", "ff02::1")


def start_workload(host: FleetHost) -> None:
    """The workload on ``host`` (modest CPU: the busy loop is capped at 0.2 CPU); returns
    once the exit 3 and an OOM kill Docker recorded (helpers/oomkill.py) have happened.

    cgroup v1 counts a container's block I/O only on a disk with a throttle rule for it,
    so the busy loop gets a generous one (--device-write-bps) on the disk it writes to:
    a directory of the engine's state bind-mounted in, on a disk even where the data root
    is a tmpfs (host 1's). It also has a pids limit (the tasks panel's limit line).
    """
    blk = host.engine.root / "blk"
    blk.mkdir(exist_ok=True)
    disk = block_device(blk)
    throttle = ["--device-write-bps", f"{disk}:1gb"] if disk else []
    _run(host, BUSY, "--cpus", str(BUSY_CPUS), "--pids-limit", "64", *throttle,
         "-v", f"{blk}:/blk", IMAGE, "sh", "-c",
         "while :; do :; done & ping -q -i 0.2 127.0.0.1 >/dev/null & "
         "while :; do dd if=/dev/zero of=/blk/io.dd bs=64k count=16 conv=fsync 2>/dev/null; "
         "sleep 1; done", service="web")  # fmt: skip
    give_network(host, BUSY)
    _run(host, NEAR_LIMIT, "--memory", "40m", "--memory-swap", "40m", IMAGE, "sh", "-c",
         "dd if=/dev/zero of=/dev/shm/hold bs=1M count=37 2>/dev/null; exec sleep 86400",
         service="cache")  # fmt: skip
    # writes to its writable layer: the writable-layer panels need a size to show
    _run(host, EXIT3, IMAGE, "sh", "-c", "echo migrated >/migrate.log; exit 3", service="migrate")
    recorded_oom_kill(
        lambda *a: host.docker(*a).stdout,
        lambda: _run(host, OOM, "--memory", "16m", "--memory-swap", "16m", "--tmpfs", "/t",
                     IMAGE, "dd", "if=/dev/zero", "of=/t/fill", "bs=1M", "count=64"),
        f"{OOM} on {host.name}",
    )  # fmt: skip
    _run(host, RESTARTING, "--restart", "always", IMAGE, "sh", "-c", "sleep 1; exit 1")

    def ended() -> bool:
        return host.docker("inspect", "-f", "{{.State.Status}}", EXIT3).stdout.strip() == "exited"

    poll(ended, 60, f"the exit-3 container on {host.name} to end", step=0.2)
