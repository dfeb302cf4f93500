"""decode.daemon_info_from_json: the shared engine's own /info, and hand-written
documents for what it cannot send (older daemons' missing keys, wrong types)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers.dockercli import DockerCLI

from watchdog_agent.docker.client import DockerClient
from watchdog_agent.docker.decode import daemon_info_from_json
from watchdog_agent.errors import ParseError


@pytest.mark.engine
async def test_the_engines_info_as_docker_info_reads_it(
    docker_host: str, docker_cli: DockerCLI
) -> None:
    async with DockerClient(docker_host) as client:
        info = await client.daemon_info()
    want: dict[str, Any] = json.loads(docker_cli.run("info", "--format", "{{json .}}"))
    assert info.version == want["ServerVersion"]
    assert info.storage_driver == want["Driver"]
    assert info.cgroup_driver == want["CgroupDriver"]
    assert info.cgroup_version == want["CgroupVersion"]
    assert info.data_root == want["DockerRootDir"]
    assert info.registry_mirrors == tuple(want["RegistryConfig"]["Mirrors"])
    assert info.insecure_registries == tuple(want["RegistryConfig"]["InsecureRegistryCIDRs"])
    assert info.warnings == tuple(want["Warnings"] or ())
    assert info.api_version is not None and info.containers == want["Containers"]


def test_missing_keys_are_gaps_and_null_lists_are_empty() -> None:
    old = daemon_info_from_json({"ServerVersion": "1.13.1", "Warnings": None})
    assert old.version == "1.13.1"
    assert old.warnings == ()  # Go's nil slice: none
    assert old.security_options is None and old.registry_mirrors is None  # not said
    assert old.insecure_registries is None and old.cgroup_version is None
    assert old.containers is None and old.live_restore is None and old.api_version is None
    zero = daemon_info_from_json({"Containers": 0, "Images": 0, "LiveRestoreEnabled": False})
    assert (zero.containers, zero.images, zero.live_restore) == (0, 0, False)


def test_version_completes_info() -> None:
    info = daemon_info_from_json({}, {"Version": "20.10.24", "ApiVersion": "1.41"})
    assert (info.version, info.api_version) == ("20.10.24", "1.41")


def test_insecure_registries_as_docker_info_lists_them() -> None:
    registry = {
        "InsecureRegistryCIDRs": ["127.0.0.0/8", "10.0.0.0/8"],
        "IndexConfigs": {
            "docker.io": {"Name": "docker.io", "Secure": True, "Official": True},
            "z.invalid:5000": {"Name": "z.invalid:5000", "Secure": False},
            "a.invalid": {"Name": "a.invalid", "Secure": False},
        },
        "Mirrors": ["https://m.invalid/"],
    }
    info = daemon_info_from_json({"RegistryConfig": registry})
    assert info.insecure_registries == ("a.invalid", "z.invalid:5000", "127.0.0.0/8", "10.0.0.0/8")
    assert info.registry_mirrors == ("https://m.invalid/",)


@pytest.mark.parametrize(
    "doc",
    [
        {"Containers": "3"},
        {"Containers": True},
        {"LiveRestoreEnabled": 1},
        {"Warnings": "WARNING"},
        {"SecurityOptions": [1]},
        {"RegistryConfig": []},
        {"RegistryConfig": {"IndexConfigs": {"x": "y"}}},
        {"RegistryConfig": {"Mirrors": None, "IndexConfigs": {"x": {"Secure": "no"}}}},
    ],
)
def test_wrong_types_raise(doc: dict[str, Any]) -> None:
    with pytest.raises(ParseError):
        daemon_info_from_json(doc)
