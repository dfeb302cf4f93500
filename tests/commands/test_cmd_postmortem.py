"""`watchdog-agent postmortem` against the real engine: a container that exits non-zero
is removed, then its post-mortem is found by name through the agent (text, and JSON
equal to the API's), and again from the store on disk once the agent has stopped."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from helpers.agentcli import agent
from helpers.dockercli import IMAGE, DockerCLI, unique_name
from helpers.serveproc import ServeProcess

pytestmark = pytest.mark.engine

NOWHERE = {"WATCHDOG_AGENT_URL": "http://127.0.0.1:1"}  # no agent answers there


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            body: bytes = resp.read()
            return body
    except urllib.error.HTTPError as exc:
        assert exc.code == 404, exc.read()
        return None


def test_a_removed_container_has_its_post_mortem(
    docker_cli: DockerCLI, docker_host: str, tmp_path: Path
) -> None:
    journal = tmp_path / "state" / "events.db"
    serve = ServeProcess("--journal", str(journal), "--interval", "0.2", docker_host=docker_host)
    try:
        url = serve.wait_url()
        name = unique_name("pm-cli")
        script = "echo starting; printf 'failing \\033[2J\\033]0;t\\007\\n' >&2; sleep 1; exit 3"
        cid = docker_cli.start(IMAGE, "sh", "-c", script, name=name)
        assert docker_cli.run("wait", cid).strip() == "3"
        route = f"{url}/api/v1/containers/{name}/postmortem"
        deadline = time.monotonic() + 30
        while _get(route) is None:  # captured a moment after the die event
            assert time.monotonic() < deadline, "no post-mortem captured"
            time.sleep(0.2)
        docker_cli.rm(cid)
        api = _get(route)  # by name, after removal
        assert api is not None and json.loads(api)["id"] == cid

        env = {"WATCHDOG_AGENT_URL": url}
        text = agent("postmortem", name, docker_host=docker_host, env=env)
        assert text.returncode == 0, text.stderr
        assert text.stderr == ""
        lines = text.stdout.splitlines()
        assert f"Container:   {name} ({cid[:12]})" in lines
        assert "Exit code:   3" in lines and "OOM killed:  no" in lines
        assert any(line.endswith("stdout starting") for line in lines)
        assert any(line.endswith("stderr failing \\x1b[2J\\x1b]0;t\\x07") for line in lines)
        assert "\x1b" not in text.stdout
        assert any(line.split()[1:2] == ["die"] for line in lines), text.stdout

        as_json = agent("postmortem", "--format", "json", name, docker_host=docker_host, env=env)
        assert as_json.returncode == 0 and as_json.stdout == api.decode() + "\n"
        missing = agent("postmortem", "no-such-pm-x", docker_host=docker_host, env=env)
        assert missing.returncode == 1 and "no post-mortem: no-such-pm-x" in missing.stderr
    finally:
        serve.kill()

    # no agent: the store next to the journal, read-only
    flags = ["--journal", str(journal)]
    disk = agent("postmortem", *flags, "--format", "json", name, docker_host=docker_host,
                 env=NOWHERE)  # fmt: skip
    assert disk.returncode == 0, disk.stderr
    assert disk.stdout == api.decode() + "\n"
    by_prefix = agent("postmortem", *flags, cid[:10], docker_host=docker_host, env=NOWHERE)
    assert by_prefix.returncode == 0 and by_prefix.stdout == text.stdout
    missing = agent("postmortem", *flags, "no-such-pm-x", docker_host=docker_host, env=NOWHERE)
    assert missing.returncode == 1 and "no post-mortem: no-such-pm-x" in missing.stderr
    nothing = agent("postmortem", "--journal", str(tmp_path / "none.db"), name,
                    docker_host=docker_host, env=NOWHERE)  # fmt: skip
    assert nothing.returncode == 1 and "no post-mortem store at" in nothing.stderr
