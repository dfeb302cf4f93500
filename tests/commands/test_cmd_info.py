"""`watchdog-agent info` against a private engine given a registry mirror and an
insecure registry (``.invalid`` names: configured, never contacted): straight from
Docker and from a running agent, compared with what the 20.10 ``docker info`` prints."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.agentcli import agent
from helpers.privateengine import PrivateEngine, started_engine
from helpers.serveproc import ServeProcess

from watchdog_agent.commands.info import render

INSECURE = "registry.example.invalid:5000"
MIRROR = "https://mirror.example.invalid/"
REGISTRY_FLAGS = (
    "--registry-mirror", "https://mirror.example.invalid", "--insecure-registry", INSECURE,
)  # fmt: skip


@pytest.fixture(scope="module")
def engine() -> Iterator[PrivateEngine]:
    with started_engine(REGISTRY_FLAGS) as eng:
        yield eng


def docker_info(eng: PrivateEngine) -> dict[str, Any]:
    doc = json.loads(eng.docker("info", "--format", "{{json .}}").stdout)
    assert isinstance(doc, dict)
    return doc


def section(text: str, title: str) -> list[str]:
    """The indented lines under `` Title:`` in ``docker info``'s (or our) text."""
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.strip() == f"{title}:")
    out = []
    for ln in lines[start + 1 :]:
        if not ln.startswith("  ") or ln.strip().endswith(":"):
            break
        out.append(ln.strip())
    return out


def same_as_docker(got: dict[str, Any], want: dict[str, Any]) -> None:
    registry = want["RegistryConfig"]
    assert got["registry_mirrors"] == registry["Mirrors"] == [MIRROR]
    assert got["insecure_registries"] == [INSECURE, *registry["InsecureRegistryCIDRs"]]
    assert got["storage_driver"] == want["Driver"]
    assert got["logging_driver"] == want["LoggingDriver"]
    assert got["cgroup_driver"] == want["CgroupDriver"]
    assert got["cgroup_version"] == want["CgroupVersion"]
    assert got["data_root_dir"] == want["DockerRootDir"]
    assert got["version"] == want["ServerVersion"]
    assert got["data_root"]["size_bytes"] > 0


def run_info(eng: PrivateEngine, *args: str) -> str:
    proc = agent("info", *args, docker_host=eng.host)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.engine
def test_straight_from_docker(engine: PrivateEngine) -> None:
    want = docker_info(engine)
    got = json.loads(run_info(engine, "--format", "json", "--agent", "none"))
    same_as_docker(got, want)
    assert got["up"] is True
    table = run_info(engine, "--agent", "none")
    text = engine.docker("info").stdout.decode()
    # the lists docker info prints, as it prints them
    for title in ("Registry Mirrors", "Insecure Registries"):
        assert section(table, title) == section(text, title), title
    assert section(table, "Insecure Registries") == [INSECURE, "127.0.0.0/8"]
    assert f" Storage Driver:       {want['Driver']}\n" in table
    assert f" Docker Root Dir:      {want['DockerRootDir']}\n" in table


@pytest.mark.engine
def test_from_a_running_agent(engine: PrivateEngine) -> None:
    serve = ServeProcess("--journal", "none", docker_host=engine.host)
    try:
        url = serve.wait_url()
        daemon: dict[str, Any] | None = None
        for _ in range(100):  # the agent reads /info once the engine answered its ping
            with urllib.request.urlopen(f"{url}/api/v1/info", timeout=10) as resp:
                daemon = json.loads(resp.read())["daemon"]
            if daemon is not None and daemon["sampled_at"] is not None:
                break
            time.sleep(0.2)
        assert daemon is not None and daemon["sampled_at"] is not None
        got = json.loads(run_info(engine, "--format", "json", "--agent", url))
    finally:
        serve.kill()
    same_as_docker(got, docker_info(engine))
    assert got["sampled_at"] == daemon["sampled_at"]  # the agent's sample, not a new read


def test_table_escapes_the_daemons_text() -> None:
    doc = {
        "up": True, "version": "20\x1b[2J", "warnings": ["WARNING: \x1b]0;owned\x07 x\ny"],
        "registry_mirrors": [], "insecure_registries": None, "data_root": None,
    }  # fmt: skip
    text = render(doc)
    assert "\x1b" not in text and "\x07" not in text
    assert " Server Version:       20\\x1b[2J\n" in text
    assert "  WARNING: \\x1b]0;owned\\x07 x\\x0ay\n" in text
    assert " Registry Mirrors:     (none)\n" in text
    assert " Insecure Registries:  -\n" in text  # not reported: a gap, not "none"
    assert " Images:               -\n" in text
