"""Frozen settings: flags over WATCHDOG_* environment over defaults."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


@dataclass(frozen=True, slots=True)
class Settings:
    docker_host: str = DEFAULT_DOCKER_HOST
    proc_root: str = "/proc"
    cgroup_root: str = "/sys/fs/cgroup"
    interval: float = 1.0  # seconds between sampling passes
    no_docker: bool = False  # never try Docker: discover containers by cgroup path


def settings_from(
    docker_host: str | None = None,
    proc_root: str | None = None,
    cgroup_root: str | None = None,
    interval: float | None = None,
    no_docker: bool | None = None,
) -> Settings:
    """Each value from its flag, else WATCHDOG_<NAME>, else the default."""
    env = os.environ
    return Settings(
        docker_host=docker_host
        or env.get("WATCHDOG_DOCKER_HOST")
        or env.get("DOCKER_HOST")
        or DEFAULT_DOCKER_HOST,
        proc_root=proc_root or env.get("WATCHDOG_PROC_ROOT") or "/proc",
        cgroup_root=cgroup_root or env.get("WATCHDOG_CGROUP_ROOT") or "/sys/fs/cgroup",
        interval=interval if interval is not None else float(env.get("WATCHDOG_INTERVAL", "1")),
        no_docker=(
            no_docker
            if no_docker is not None
            else env.get("WATCHDOG_NO_DOCKER", "") in ("1", "true", "yes")
        ),
    )
