"""The docker CLI, wrapped for tests: start, inspect and remove labelled containers.

The CLI is WATCHDOG_TEST_DOCKER_CLI (default /usr/bin/docker, the 20.10 client that
matches the engine) and it talks to WATCHDOG_TEST_DOCKER_HOST (default the private
engine that scripts/test starts).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
from typing import Any

IMAGE = "watchdog-test/busybox:latest"
TEST_LABEL = "watchdog.test=1"
DEFAULT_CLI = "/usr/bin/docker"
DEFAULT_HOST = "unix:///tmp/wd-engine/docker.sock"

_ID = re.compile(r"[0-9a-f]{64}")


def unique_name(prefix: str = "wd") -> str:
    """A container name no other test run uses: ``<prefix>-<8 hex>``."""
    return f"{prefix}-{secrets.token_hex(4)}"


class DockerCLIError(RuntimeError):
    """A docker CLI command failed; ``stderr`` says why."""

    def __init__(self, args: list[str], returncode: int, stderr: str) -> None:
        super().__init__(f"{' '.join(args)} exited {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


class DockerCLI:
    """Runs the docker CLI against the test engine and remembers what it started."""

    def __init__(self, cli: str | None = None, host: str | None = None) -> None:
        self.cli = cli or os.environ.get("WATCHDOG_TEST_DOCKER_CLI") or DEFAULT_CLI
        self.host = host or os.environ.get("WATCHDOG_TEST_DOCKER_HOST") or DEFAULT_HOST
        # Every container started here also carries this label, so cleanup() finds
        # even those whose `docker run` failed after creating them.
        self.session_label = f"watchdog.test.session={secrets.token_hex(6)}"
        self.started: list[str] = []

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        """Run ``docker <args>`` and return its stdout; raise DockerCLIError on failure."""
        argv = [self.cli, *args]
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONTEXT"}
        env["DOCKER_HOST"] = self.host
        try:
            proc = subprocess.run(
                argv, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise DockerCLIError(argv, -1, f"timed out after {timeout} s") from exc
        if check and proc.returncode != 0:
            raise DockerCLIError(argv, proc.returncode, proc.stderr)
        return proc.stdout

    def answers(self, timeout: float = 10) -> str | None:
        """None when the engine answers ``docker version``, else the reason it does not."""
        try:
            self.run("version", "--format", "{{.Server.APIVersion}}", timeout=timeout)
        except (DockerCLIError, OSError) as exc:
            return str(exc)
        return None

    def start(self, *run_args: str, name: str | None = None) -> str:
        """``docker run -d`` with the test labels; returns the full 64-hex id.

        Pass the image and command in ``run_args``, e.g. ``start(IMAGE, "sleep", "60")``.
        """
        argv = ["run", "-d", "--label", TEST_LABEL, "--label", self.session_label]
        if not any(a == "--network" or a.startswith("--network=") for a in run_args):
            # only lo, as with --bridge=none, and no network record left behind that
            # the next engine start must clean up one by one
            argv += ["--network", "none"]
        if name is not None:
            argv += ["--name", name]
        out = self.run(*argv, *run_args)
        cid = out.strip().splitlines()[-1] if out.strip() else ""
        if not _ID.fullmatch(cid):
            raise DockerCLIError(argv, 0, f"unexpected output from docker run: {out!r}")
        self.started.append(cid)
        return cid

    def inspect(self, ident: str, kind: str = "container") -> dict[str, Any]:
        """``docker inspect --type <kind>``: the one object, as a dict."""
        items = json.loads(self.run("inspect", "--type", kind, ident))
        if not isinstance(items, list) or len(items) != 1 or not isinstance(items[0], dict):
            raise DockerCLIError(["inspect", ident], 0, f"unexpected inspect output: {items!r}")
        return items[0]

    def rm(self, *ids: str) -> None:
        """Force-remove containers; ones already gone are fine."""
        if not ids:
            return
        try:
            self.run("rm", "-f", *ids)
        except DockerCLIError as exc:
            errors = [
                line
                for line in exc.stderr.splitlines()
                if line.strip() and "No such container" not in line
            ]
            if errors:
                raise
        self.started = [i for i in self.started if i not in ids]

    def cleanup(self) -> None:
        """Remove every container this instance started."""
        labelled = self.run("ps", "-aq", "--no-trunc", "--filter", f"label={self.session_label}")
        ids = sorted(set(self.started) | set(labelled.split()))
        self.rm(*ids)
        self.started.clear()
