"""A /system/df document as a 20.10 daemon sends it (API 1.41), for the disk tests."""

from __future__ import annotations

from typing import Any

from watchdog_agent.docker.decode import disk_usage_from_json
from watchdog_agent.model import DiskUsage

# the shape a 20.10 daemon sends (API 1.41), trimmed to what matters
DF: dict[str, Any] = {
    "LayersSize": 10_000,
    "Images": [
        {"Id": "sha256:" + "a" * 64, "RepoTags": ["web:1"], "Created": 1_700_000_000,
         "Size": 6_000, "VirtualSize": 6_000, "SharedSize": 2_000, "Containers": 2},
        {"Id": "sha256:" + "b" * 64, "RepoTags": ["<none>:<none>"], "Created": 1_700_000_000,
         "Size": 3_000, "VirtualSize": 3_000, "SharedSize": 2_000, "Containers": 0},
        {"Id": "sha256:" + "c" * 64, "RepoTags": None, "Created": 1_700_000_000,
         "Size": 1_000, "VirtualSize": 1_000, "SharedSize": -1, "Containers": 1},
    ],
    "Containers": [
        {"Id": "1" * 64, "Names": ["/up"], "State": "running", "SizeRw": 100,
         "Mounts": [{"Driver": "local"}, {"Type": "bind"}]},
        {"Id": "2" * 64, "Names": ["/gone"], "State": "exited", "SizeRw": 900, "Mounts": []},
        {"Id": "3" * 64, "Names": ["/zzz"], "State": "paused", "SizeRw": 0},
        {"Id": "4" * 64, "Names": ["/again"], "State": "restarting", "SizeRw": 50},
        {"Id": "5" * 64, "Names": ["/new"], "State": "created"},
    ],
    "Volumes": [
        {"Name": "used", "Driver": "local", "UsageData": {"Size": 4_000, "RefCount": 1}},
        {"Name": "idle", "Driver": "local", "UsageData": {"Size": 1_000, "RefCount": 0}},
        {"Name": "unknown", "Driver": "local", "UsageData": {"Size": -1, "RefCount": -1}},
    ],
    "BuildCache": [
        {"ID": "x1", "Type": "regular", "Size": 700, "InUse": True, "Shared": False,
         "CreatedAt": "2026-11-30T10:00:00Z", "LastUsedAt": None, "UsageCount": 1},
        {"ID": "x2", "Type": "source.local", "Size": 300, "InUse": False, "Shared": False,
         "CreatedAt": "2026-11-30T10:00:00.5Z", "LastUsedAt": "2026-11-30T11:00:00Z",
         "UsageCount": 4},
        {"ID": "x3", "Type": "regular", "Size": 5_000, "InUse": True, "Shared": True,
         "CreatedAt": "2026-11-30T10:00:00Z", "LastUsedAt": None, "UsageCount": 2},
    ],
    "BuilderSize": 6_000,
}  # fmt: skip


def usage(doc: dict[str, Any] = DF) -> DiskUsage:
    return disk_usage_from_json(doc, 1_800_000_000.0, 0.25)
