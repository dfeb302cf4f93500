"""The agent's container image (deploy/Dockerfile), built here without a registry.

No image registry is reachable from these machines, so the base image comes from Debian
packages: ``mmdebstrap`` into a tarball, ``docker import``, then a test-only layer that
trusts what the host trusts (the host's CA bundle, ``PIP_CERT``, ``SSL_CERT_FILE``) so
that ``pip install`` inside the build reaches the package index; that layer never goes
into the shipped Dockerfile. Then ``docker build --network host --build-arg BASE=...
-f deploy/Dockerfile .`` (the engine runs with ``--bridge=none``).

Each step prints what it runs and how long it took (``pytest -s`` shows it) and fails
the test with the tool's output when it fails. Every image carries ``watchdog.test=1``
and a per-build tag; ``remove_images`` removes them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from helpers.dockercli import TEST_LABEL, DockerCLI

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"
SUITE = "bookworm"  # Debian 12: python3 is 3.11, as the project requires
PACKAGES = ("python3", "python3-venv")  # the CA bundle comes from the host (trusting)
APT_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")  # the host's own mirrors
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
MMDEBSTRAP_TIMEOUT = 900.0  # seconds; about 2 min on a busy 2-core machine
BUILD_TIMEOUT = 900.0


PREBUILT_ENV = "WATCHDOG_TEST_DEBIAN_BASE"  # a tarball mmdebstrap_argv made already


def mmdebstrap_argv(tarball: Path) -> list[str]:
    """The command that makes the Debian base as a tarball (scripts/test runs it too, in
    the background while lint runs, and names the tarball in ``WATCHDOG_TEST_DEBIAN_BASE``)."""
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        pytest.fail("mmdebstrap is not installed (scripts/test installs it)", pytrace=False)
    if not APT_SOURCES.is_file():
        pytest.fail(f"no apt sources at {APT_SOURCES} to build the base from", pytrace=False)
    return [
        mmdebstrap, "--variant=minbase", f"--include={','.join(PACKAGES)}",
        # a throwaway tree: dpkg need not fsync every file, nor unpack the docs
        "--dpkgopt=force-unsafe-io", *(f"--dpkgopt=path-exclude=/usr/share/{d}/*"
                                       for d in ("doc", "man", "locale", "info")),
        SUITE, str(tarball), str(APT_SOURCES),
    ]  # fmt: skip


def say(message: str) -> None:
    """Progress on the long steps, visible with ``pytest -s``."""
    print(f"[agent-image] {message}", file=sys.stderr, flush=True)


def _tail(text: str, lines: int = 60) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


@dataclass
class ImageBuild:
    """The images one build made on one engine, and how long each step took."""

    cli: DockerCLI
    workdir: Path
    token: str = field(default_factory=lambda: secrets.token_hex(4))
    tags: list[str] = field(default_factory=list)  # created, in order
    timings: dict[str, float] = field(default_factory=dict)  # step -> seconds

    def tool(
        self,
        step: str,
        argv: Sequence[str],
        timeout: float,
        stdin: Path | None = None,
        progress: str | None = None,
    ) -> None:
        """Run one step's command, echoing its output lines that start with ``progress``
        (with the seconds so far); fails the test with its output on error or timeout."""
        env = {k: v for k, v in os.environ.items() if k != "DOCKER_CONTEXT"}
        env["DOCKER_HOST"] = self.cli.host
        env["DOCKER_BUILDKIT"] = "0"  # the classic builder: no buildx plugin needed
        say(f"{step}: {' '.join(argv)}")
        start = time.monotonic()
        lines: list[str] = []
        try:
            with open(stdin or os.devnull, "rb") as fh:
                proc = subprocess.Popen(
                    list(argv), stdin=fh, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    env=env, text=True, errors="replace",
                )  # fmt: skip
        except OSError as exc:
            pytest.fail(f"{step}: cannot run {argv[0]}: {exc}", pytrace=False)
        timer = threading.Timer(timeout, proc.kill)  # the read below ends when it dies
        timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                if progress is not None and line.startswith(progress):
                    say(f"{step} [{time.monotonic() - start:.0f} s] {line.strip()}")
            rc = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        took = time.monotonic() - start
        self.timings[step] = took
        if rc != 0:
            why = f"timed out after {timeout:.0f} s" if took >= timeout else f"failed (exit {rc})"
            pytest.fail(f"{step} {why} after {took:.1f} s:\n{_tail(chr(10).join(lines))}",
                        pytrace=False)  # fmt: skip
        say(f"{step}: done in {took:.1f} s")

    def tag(self, name: str) -> str:
        tag = f"watchdog-test/{name}:{self.token}"
        self.tags.append(tag)
        return tag

    def debian_base(self) -> str:
        """A Debian image with python3 and its venv module, from ``mmdebstrap`` (or from
        the tarball scripts/test made with the same command while lint ran, named by
        ``WATCHDOG_TEST_DEBIAN_BASE``)."""
        made = os.environ.get(PREBUILT_ENV, "")
        ours = not (made and Path(made).is_file())
        if not ours:
            say(f"mmdebstrap: using {made}, made by scripts/test")
            tarball = Path(made)
        else:
            tarball = self.workdir / "base.tar"
            self.tool("mmdebstrap", mmdebstrap_argv(tarball), MMDEBSTRAP_TIMEOUT, progress="I: ")
        tag = self.tag("agent-base")
        self.tool(
            "docker import",
            [self.cli.cli, "import", "--change", f"LABEL {TEST_LABEL}", "-", tag],
            BUILD_TIMEOUT,
            stdin=tarball,
        )
        if ours:
            tarball.unlink()
        return tag

    def trusting(self, base: str) -> str:
        """``base`` plus the host's CA bundle (test only: pip inside the build then
        trusts what the host trusts)."""
        ctx = self.workdir / "certs"
        ctx.mkdir()
        shutil.copyfile(HOST_CA, ctx / "ca-certificates.crt")
        ca = "/etc/ssl/certs/ca-certificates.crt"
        (ctx / "Dockerfile").write_text(
            f"FROM {base}\nCOPY ca-certificates.crt {ca}\nENV PIP_CERT={ca} SSL_CERT_FILE={ca}\n"
        )
        tag = self.tag("agent-base-certs")
        self.tool(
            "docker build (CA layer)",
            [self.cli.cli, "build", "-q", "--label", TEST_LABEL, "-t", tag, str(ctx)],
            BUILD_TIMEOUT,
        )
        return tag

    def agent(self, base: str) -> str:
        """deploy/Dockerfile on ``base``, the repository root as the context."""
        tag = self.tag("agent")
        self.tool(
            "docker build (deploy/Dockerfile)",
            [
                self.cli.cli, "build", "--network", "host", "--build-arg", f"BASE={base}",
                "--label", TEST_LABEL, "-f", str(DOCKERFILE), "-t", tag, str(REPO),
            ],
            BUILD_TIMEOUT,
            progress="Step ",
        )  # fmt: skip
        return tag

    def remove_images(self) -> None:
        """Remove every image this build tagged, newest first; ones gone are fine."""
        for tag in reversed(self.tags):
            self.cli.run("rmi", "-f", tag, check=False)
        self.tags.clear()

    def summary(self) -> str:
        steps = ", ".join(f"{step} {took:.1f} s" for step, took in self.timings.items())
        return f"{steps}; total {sum(self.timings.values()):.1f} s"


def build_agent_image(build: ImageBuild) -> str:
    """Base from Debian, the CA layer, then deploy/Dockerfile; the agent image's tag."""
    base = build.trusting(build.debian_base())
    image = build.agent(base)
    size = {t: int(build.cli.run("image", "inspect", "-f", "{{.Size}}", t)) for t in (base, image)}
    say(
        f"built {image}: {size[image] / 1e6:.0f} MB, {(size[image] - size[base]) / 1e6:.0f} MB "
        f"over its base; {build.summary()}"
    )
    return image
