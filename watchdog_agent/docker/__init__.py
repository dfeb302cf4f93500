"""The Docker Engine API client: unix socket, version negotiation, GET only."""

from watchdog_agent.docker.client import API_MAX, DockerClient
from watchdog_agent.docker.decode import (
    container_from_inspect,
    container_from_summary,
    parse_rfc3339,
)

__all__ = [
    "API_MAX",
    "DockerClient",
    "container_from_inspect",
    "container_from_summary",
    "parse_rfc3339",
]
