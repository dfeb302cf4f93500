"""deploy/: the compose file and the Swarm stack parse with their own tools, and every
manifest (those two, the systemd unit, the DaemonSet) runs the agent with arguments
`watchdog-agent serve` accepts, the common ones of docs/deploy.md included."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from helpers.dockercli import DockerCLI
from helpers.manifests import (
    COMPOSE,
    DEPLOY,
    STACK,
    SWARM_SERVICE,
    agent_container,
    compose_command,
    one_kind,
    serve_problems,
    unit_exec_start,
)

COMMON = ["--docker-host", "unix:///var/run/docker.sock",
          "--journal", "/var/lib/watchdog-agent/events.db",
          "--metric-labels", "com.docker.compose.project,com.docker.compose.service"]  # fmt: skip
IN_CONTAINER = ["--proc-root", "/host/proc", "--cgroup-root", "/host/sys/fs/cgroup"]
COMPOSE_TOOL = shutil.which("docker-compose")


def manifest_args() -> dict[str, list[str]]:
    return {
        "systemd": unit_exec_start()[1:],
        "kubernetes": agent_container(one_kind("DaemonSet"))["args"],
        "compose": compose_command(COMPOSE),
        "swarm": compose_command(STACK, SWARM_SERVICE),
    }


def _pairs(args: list[str]) -> set[tuple[str, str]]:
    return {(a, b) for a, b in itertools.pairwise(args) if a.startswith("--")}


@pytest.mark.parametrize("where", ["systemd", "kubernetes", "compose", "swarm"])
def test_every_manifest_runs_serve_with_flags_it_accepts(where: str) -> None:
    args = manifest_args()[where]
    assert serve_problems(args) == [], args
    # the common arguments, and in a container the host's /proc and cgroup tree
    assert _pairs(COMMON) <= _pairs(args), args
    assert (where != "systemd") == (_pairs(IN_CONTAINER) <= _pairs(args)), args
    assert any(a.endswith(":9338") for a in args[args.index("--listen") + 1 :][:1]), args


def test_a_made_up_flag_or_a_bad_value_is_caught() -> None:
    good = manifest_args()["kubernetes"]
    assert serve_problems(good) == []
    assert serve_problems([*good, "--made-up-flag", "1"]) == ["unknown flag --made-up-flag"]
    # argparse would take the abbreviation; a manifest must spell the flag out
    short = ["--metric" if a == "--metric-labels" else a for a in good]
    assert serve_problems(short) == ["unknown flag --metric"]
    listen = good.index("--listen") + 1
    bad_value = [*good[:listen], "0.0.0.0:notaport", *good[listen + 1 :]]
    assert serve_problems(bad_value) != []
    assert serve_problems(good[1:]) != []  # no serve command


def _compose_config(path: Path, env: dict[str, str] | None = None) -> dict[str, object]:
    assert COMPOSE_TOOL is not None, "docker-compose is not installed (scripts/test installs it)"
    proc = subprocess.run(
        [COMPOSE_TOOL, "-f", str(path), "config"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" not in proc.stderr, proc.stderr
    config = yaml.safe_load(proc.stdout)
    assert isinstance(config, dict)
    return config


def test_compose_file_parses_and_runs_the_agent_as_documented() -> None:
    config = _compose_config(COMPOSE)
    services = config["services"]
    assert isinstance(services, dict) and set(services) == {"agent", "prometheus", "grafana"}
    agent = services["agent"]
    assert agent["pid"] == "host" and agent["read_only"] is True
    assert agent["cap_drop"] == ["ALL"] and "no-new-privileges:true" in agent["security_opt"]
    assert agent["build"]["dockerfile"] == "deploy/Dockerfile"
    assert Path(agent["build"]["context"]) == DEPLOY.parent
    binds = {v for v in agent["volumes"] if isinstance(v, str)}
    assert binds == {"/proc:/host/proc:ro", "/sys/fs/cgroup:/host/sys/fs/cgroup:ro",
                     "/var/run/docker.sock:/var/run/docker.sock:ro"}  # fmt: skip
    journal = [v for v in agent["volumes"] if isinstance(v, dict)]
    assert journal == [{"type": "volume", "source": "journal", "volume": {"nocopy": True},
                        "target": "/var/lib/watchdog-agent"}]  # fmt: skip
    assert agent["user"] == "0:0"  # no capabilities: see docs/deploy.md
    assert "ports" not in agent  # reached by Prometheus on the project network only
    assert services["grafana"]["ports"] == ["127.0.0.1:3000:3000/tcp"]
    assert all(p.startswith("127.0.0.1:") for s in services.values() for p in s.get("ports", []))
    prometheus = services["prometheus"]["volumes"]
    assert f"{DEPLOY / 'prometheus'}:/etc/prometheus:ro" in prometheus
    assert f"{DEPLOY / 'compose' / 'targets'}:/etc/prometheus/targets:ro" in prometheus
    grafana = services["grafana"]["volumes"]
    dashboards = DEPLOY.parent / "dashboards"
    assert f"{dashboards / 'provisioning'}:/etc/grafana/provisioning:ro" in grafana
    assert f"{dashboards}:/var/lib/grafana/dashboards/watchdog:ro" in grafana


def test_compose_targets_name_the_agent_service() -> None:
    files = sorted((DEPLOY / "compose" / "targets").glob("*.yml"))
    assert [f.name for f in files] == ["agent.yml"]
    groups = yaml.safe_load(files[0].read_text())
    assert groups == [{"targets": ["agent:9338"]}]


MOUNT_CHECKS = {
    # service: (a file another part of Step 8 provides, a shell check inside, its output)
    "prometheus": (DEPLOY / "prometheus" / "prometheus.yml",
                   "test -s /etc/prometheus/prometheus.yml && cat /etc/prometheus/targets/*.yml",
                   "agent:9338"),
    "grafana": (DEPLOY.parent / "dashboards" / "provisioning" / "datasources" / "prometheus.yml",
                "cat /etc/grafana/provisioning/datasources/*.yml && "
                "ls /var/lib/grafana/dashboards/watchdog/",
                "http://prometheus:9090"),
}  # fmt: skip


@pytest.mark.engine
@pytest.mark.parametrize("service", sorted(MOUNT_CHECKS))
def test_compose_mounts_stack_up(service: str, docker_cli: DockerCLI) -> None:
    """A service's bind mounts, made for real on the engine (busybox stands in for the
    public image, which no registry here serves). Prometheus: the targets directory mounts
    over deploy/prometheus/targets/ inside the read-only config mount (a file mount there
    could not: its mount point cannot be created on a read-only mount), and the config
    and the compose targets are where prometheus.yml's job reads them. Grafana: its
    provisioning and the dashboards' JSON where the provisioning files point."""
    provided, check, expected = MOUNT_CHECKS[service]
    if not provided.exists():
        pytest.skip(f"{provided.relative_to(DEPLOY.parent)} (another part of Step 8) is not here")
    volumes = _compose_config(COMPOSE)["services"][service]["volumes"]  # type: ignore[index]
    argv = [a for v in volumes if v.startswith("/") for a in ("-v", v)]
    out = docker_cli.run("run", "--rm", "--network", "none", "--label", "watchdog.test=1",
                         *argv, "watchdog-test/busybox:latest", "sh", "-c", check)  # fmt: skip
    assert expected in out, out
    if service == "grafana":
        assert "watchdog-overview.json" in out.split(), out


def test_swarm_stack_parses_as_compose_v3_and_runs_on_every_node() -> None:
    config = _compose_config(STACK)
    assert str(config["version"]).startswith("3.")
    agent = config["services"][SWARM_SERVICE]  # type: ignore[index]
    assert agent["deploy"]["mode"] == "global"
    assert agent["image"] == "watchdog-agent:latest"  # ${WATCHDOG_AGENT_IMAGE:-...}
    assert agent["read_only"] is True and agent["cap_drop"] == ["ALL"]
    assert agent["ports"] == [{"target": 9338, "published": 9338, "protocol": "tcp",
                               "mode": "host"}]  # fmt: skip
    mounts = {(v["source"], v["target"], v.get("read_only", False)) for v in agent["volumes"]}
    assert {("/proc", "/host/proc", True), ("/sys/fs/cgroup", "/host/sys/fs/cgroup", True),
            ("/var/run/docker.sock", "/var/run/docker.sock", True)} <= mounts  # fmt: skip
    # what Swarm ignores is left out rather than silently dropped (see the next test)
    assert not {"pid", "security_opt", "restart"} & set(agent)
    image = _compose_config(STACK, {"WATCHDOG_AGENT_IMAGE": "registry.example.invalid/wa:1"})
    assert image["services"][SWARM_SERVICE]["image"] == "registry.example.invalid/wa:1"  # type: ignore[index]


def _stack_deploy(docker_cli: DockerCLI, path: Path) -> str:
    """`docker stack deploy`'s own compose loader (Docker 20.10's) on ``path``, on an engine
    that is no swarm manager: it loads and checks the file, names the options Swarm
    ignores, then stops before deploying anything. Its stderr."""
    state = docker_cli.run("info", "--format", "{{.Swarm.LocalNodeState}}").strip()
    assert state == "inactive", f"the test engine is in a swarm ({state}): not deploying"
    proc = subprocess.run(
        [docker_cli.cli, "-H", docker_cli.host, "stack", "deploy", "--orchestrator", "swarm",
         "-c", str(path), "wd-manifests-check"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    return proc.stderr


@pytest.mark.engine
def test_docker_stack_deploy_loads_the_stack_and_ignores_nothing(
    docker_cli: DockerCLI, tmp_path: Path
) -> None:
    err = _stack_deploy(docker_cli, STACK)
    assert "this node is not a swarm manager" in err, err
    assert "Ignoring" not in err and "Additional property" not in err, err
    # what the stack cannot have: Swarm drops pid: host (no host PID namespace for a
    # service) and security_opt, with only this line to say so
    data = yaml.safe_load(STACK.read_text())
    data["services"][SWARM_SERVICE]["pid"] = "host"
    data["services"][SWARM_SERVICE]["security_opt"] = ["no-new-privileges:true"]
    with_pid = tmp_path / "with-pid.yml"
    with_pid.write_text(yaml.safe_dump(data))
    assert "Ignoring unsupported options: pid, security_opt" in _stack_deploy(docker_cli, with_pid)
    data["services"][SWARM_SERVICE]["read_onyl"] = True
    with_pid.write_text(yaml.safe_dump(data))
    assert "Additional property read_onyl is not allowed" in _stack_deploy(docker_cli, with_pid)
