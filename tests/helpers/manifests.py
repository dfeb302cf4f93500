"""The deployment manifests under deploy/, read for tests: the agent's arguments from
each, checked against the real argument parser, and the agent run from them."""

from __future__ import annotations

import argparse
import configparser
import json
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped,unused-ignore]

from helpers.dockercli import DockerCLI
from helpers.serveproc import ServeProcess
from watchdog_agent import cli

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
UNIT = DEPLOY / "systemd" / "watchdog-agent.service"
STACK = DEPLOY / "swarm" / "watchdog-stack.yml"
SWARM_SERVICE = "watchdog-agent"  # the stack's one service
KUBERNETES = DEPLOY / "kubernetes"
CRD = REPO / "tests" / "fixtures" / "deploy" / "monitoring.coreos.com_servicemonitors.yaml"


def yaml_docs(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs), path
    return docs


def one_kind(kind: str) -> dict[str, Any]:
    """The one resource of this kind in deploy/kubernetes/."""
    found = [d for p in sorted(KUBERNETES.glob("*.yaml")) for d in yaml_docs(p)]
    found = [d for d in found if d.get("kind") == kind]
    assert len(found) == 1, (kind, found)
    return found[0]


def agent_container(daemonset: dict[str, Any]) -> dict[str, Any]:
    containers = daemonset["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, containers
    container: dict[str, Any] = containers[0]
    return container


def unit_exec_start(path: Path = UNIT) -> list[str]:
    """[Service] ExecStart= of the unit as an argv. Only plain words are allowed in it (no
    specifiers, variables or prefixes), so shlex splits it exactly as systemd does."""
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text().replace("\\\n", " "))
    line = parser["Service"]["ExecStart"]
    assert not any(c in line for c in "%$;") and line[:1] not in "-@:+!", line
    return shlex.split(line)


def compose_command(path: Path, service: str = "agent") -> list[str]:
    command = yaml_docs(path)[0]["services"][service]["command"]
    assert isinstance(command, list) and all(isinstance(a, str) for a in command), command
    return command


def _serve_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    serve: argparse.ArgumentParser = sub.choices["serve"]
    return serve


def serve_problems(args: Sequence[str]) -> list[str]:
    """What `watchdog-agent serve` would refuse in ``args`` (``serve`` first): flags it does
    not have (abbreviations count as unknown: a manifest spells flags out), then what the
    real parser and settings loader reject. Empty when the agent accepts them all."""
    if not args or args[0] != "serve":
        return [f"does not start with serve: {list(args)}"]
    known = {s for a in _serve_parser()._actions for s in a.option_strings}
    flags = [a.split("=", 1)[0] for a in args[1:] if a.startswith("-")]
    problems = [f"unknown flag {f}" for f in flags if f not in known]
    if problems:
        return problems
    try:
        namespace = cli.build_parser().parse_args(list(args))
        cli._serve_settings(namespace)  # values: listen address, labels, paths named
    except SystemExit as exc:
        return [f"argparse exited {exc.code}"]
    except Exception as exc:
        return [f"{type(exc).__name__}: {exc}"]
    return []


def substitute(args: Sequence[str], values: dict[str, str]) -> list[str]:
    """``args`` with the value after each flag in ``values`` replaced; every such flag
    must be there once, as ``--flag VALUE``."""
    out = list(args)
    for flag, value in values.items():
        assert out.count(flag) == 1, (flag, out)
        out[out.index(flag) + 1] = value
    return out


@contextmanager
def running(argv: Sequence[str], docker_host: str | None = None) -> Iterator[ServeProcess]:
    agent = ServeProcess(argv=argv, docker_host=docker_host)
    try:
        yield agent
    finally:
        agent.stop()


def get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:  # loopback only
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, None


def container_logs(docker_cli: DockerCLI, cid: str) -> str:
    """The container's output, stdout and stderr (where the agent logs) together."""
    proc = subprocess.run(
        [docker_cli.cli, "-H", docker_cli.host, "logs", cid],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return proc.stdout + proc.stderr


def serving_url(docker_cli: DockerCLI, cid: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while True:
        logs = container_logs(docker_cli, cid)
        for line in logs.splitlines():
            if '"serving"' in line and json.loads(line).get("event") == "serving":
                return f"http://{json.loads(line)['addresses'][0]}"
        state = docker_cli.inspect(cid)["State"]
        assert state["Running"], f"the agent exited: {state}\n{logs}"
        assert time.monotonic() < deadline, f"no 'serving' line within {timeout} s: {logs}"
        time.sleep(0.3)


def wait_ready(url: str, path: str = "/readyz", timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while get_json(url + path)[0] != 200:
        assert time.monotonic() < deadline, f"{path} never answered 200"
        time.sleep(0.3)


def seen_by_agent(url: str, cid: str, processes: int, timeout: float = 30) -> tuple[Any, str]:
    """The agent's /top of container ``cid`` once it lists ``processes`` processes (or the
    last answer at the deadline), and its watchdog_container_info line on /metrics."""
    deadline = time.monotonic() + timeout
    top: Any = None
    while time.monotonic() < deadline:
        status, top = get_json(f"{url}/api/v1/containers/{cid}/top")
        if status == 200 and len(top["processes"]) == processes:
            break
        time.sleep(0.3)
    info: list[str] = []
    while not info and time.monotonic() < deadline + 10:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as resp:  # loopback only
            text = resp.read().decode()
        info = [
            x for x in text.splitlines() if x.startswith("watchdog_container_info{") and cid in x
        ]
        if not info:
            time.sleep(0.3)
    assert info, f"{cid} never reached /metrics"
    return top, info[0]
