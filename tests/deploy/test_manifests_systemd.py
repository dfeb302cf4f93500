"""deploy/systemd/watchdog-agent.service: systemd-analyze verifies it, it keeps
node_exporter's hardening, and the agent runs with its exact ExecStart= arguments."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from helpers.agentcli import AGENT
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.manifests import UNIT, running, substitute, unit_exec_start

ANALYZE = shutil.which("systemd-analyze") or "/usr/bin/systemd-analyze"
INSTALLED = "/opt/watchdog-agent/bin/watchdog-agent"


def _unit_here(tmp_path: Path) -> Path:
    """A copy of the unit whose ExecStart binary is this test's .venv one, nothing else
    changed (systemd-analyze verify wants the binary to exist)."""
    text = UNIT.read_text()
    assert text.count(f"ExecStart={INSTALLED} ") == 1
    copy = tmp_path / UNIT.name
    copy.write_text(text.replace(f"ExecStart={INSTALLED} ", f"ExecStart={AGENT} "))
    lines = zip(text.splitlines(), copy.read_text().splitlines(), strict=True)
    changed = [(a, b) for a, b in lines if a != b]
    assert len(changed) == 1 and changed[0][0].startswith("ExecStart="), changed
    return copy


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert Path(ANALYZE).exists(), "systemd-analyze is not installed (Debian package systemd)"
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False)


def test_unit_verifies_clean(tmp_path: Path) -> None:
    proc = _analyze("verify", str(_unit_here(tmp_path)))
    # verify exits 0 on unknown keys too, with a line on stderr: nothing may be said
    assert proc.returncode == 0 and proc.stderr == "" and proc.stdout == "", proc


def test_verify_catches_a_misspelt_option(tmp_path: Path) -> None:
    copy = _unit_here(tmp_path)
    copy.write_text(copy.read_text().replace("ProtectSystem=strict", "ProtectSystm=strict"))
    proc = _analyze("verify", str(copy))
    assert "Unknown key 'ProtectSystm'" in proc.stderr, proc


def test_unit_keeps_node_exporters_hardening_and_the_agents_access() -> None:
    service = dict(
        line.split("=", 1) for line in UNIT.read_text().splitlines() if re.match(r"^\w+=", line)
    )
    # node_exporter's unit (prometheus-community Ansible role) sets these
    node_exporter = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                     "ProtectControlGroups": "yes", "ProtectKernelModules": "yes",
                     "ProtectKernelTunables": "yes"}  # fmt: skip
    for key, value in node_exporter.items():
        assert service.get(key) == value, key
    assert service["User"] == "watchdog-agent" and service["SupplementaryGroups"] == "docker"
    assert service["StateDirectory"] == "watchdog-agent"  # the journal's directory
    assert service["CapabilityBoundingSet"] == ""
    # what would blind it: other users' processes hidden, or only /proc/<pid> visible
    assert "ProtectProc" not in service and "ProcSubset" not in service
    assert "PrivateNetwork" not in service and "PrivateUsers" not in service


def test_security_exposure_is_low(tmp_path: Path) -> None:
    proc = _analyze("security", "--offline=true", "--no-pager", str(_unit_here(tmp_path)))
    assert proc.returncode == 0, proc
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+) (\w+)", proc.stdout)
    assert found is not None, proc.stdout
    print(f"systemd-analyze security --offline: {found[1]} {found[2]}")
    assert float(found[1]) <= 2.5, proc.stdout  # systemd rates up to 3.9 "OK"


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # loopback only
        return resp.status, resp.read().decode()


@pytest.mark.engine
def test_agent_runs_with_the_units_exact_arguments(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    argv = unit_exec_start()
    assert argv[0] == INSTALLED
    # substituted: the binary's place, the port (loopback), the state directory, and the
    # engine (the test's, not /var/run/docker.sock); every other argument is the unit's
    here = [AGENT, *substitute(argv[1:], {
        "--listen": "127.0.0.1:0",
        "--journal": str(tmp_path / "state" / "events.db"),
        "--docker-host": docker_host,
    })]  # fmt: skip
    assert [a for a, b in zip(argv, here, strict=True) if a != b] == [
        INSTALLED, "0.0.0.0:9338", "unix:///var/run/docker.sock",
        "/var/lib/watchdog-agent/events.db",
    ]  # fmt: skip
    project = unique_name("proj")
    cid = docker_cli.start("--label", f"com.docker.compose.project={project}",
                           "--label", "com.docker.compose.service=web",
                           IMAGE, "sleep", "600")  # fmt: skip
    with running(here) as agent:
        url = agent.wait_url()
        assert _get(f"{url}/healthz")[0] == 200
        deadline = time.monotonic() + 20
        info: list[str] = []
        while not info and time.monotonic() < deadline:
            status, text = _get(f"{url}/metrics")
            assert status == 200
            info = [x for x in text.splitlines()
                    if x.startswith("watchdog_container_info{") and cid in x]  # fmt: skip
            if not info:
                time.sleep(0.3)
        assert info, "the container never reached /metrics"
        assert f'label_com_docker_compose_project="{project}"' in info[0], info
        assert 'label_com_docker_compose_service="web"' in info[0], info
        assert _get(f"{url}/readyz")[0] == 200
    assert (tmp_path / "state" / "events.db").exists()  # the journal, under the state dir
    assert agent.proc.returncode == 0, agent.logs
