"""The JSON of disk use by area (``GET /api/v1/disk``, ``watchdog-agent df --format
json``): the four areas and, verbose, the rows of ``docker system df -v``. Sizes are in
bytes; names, tags and commands are kept exactly as Docker sent them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watchdog_agent.model import (
    BuildCacheRecord,
    DiskArea,
    DiskContainer,
    DiskImage,
    DiskUsage,
    DiskVolume,
)

from .tojson import rfc3339

NONE = "<none>"


def repo_tag(tags: Sequence[str]) -> tuple[str, str]:
    """(repository, tag) of an image as ``docker system df -v`` shows it: the first tag
    split at its tag colon (docker.io's prefixes dropped), ``<none>`` for a dangling one."""
    if not tags or tags[0] == "<none>:<none>":
        return NONE, NONE
    ref = tags[0]
    repo, colon, tag = ref.rpartition(":")
    if not colon or "/" in tag or "@" in ref:
        return NONE, NONE
    library = "docker.io/library/"
    if repo.startswith(library) and "/" not in repo.removeprefix(library):
        repo = repo.removeprefix(library)
    else:
        repo = repo.removeprefix("docker.io/")
    return repo, tag


def area_json(a: DiskArea) -> dict[str, Any]:
    return {
        "type": a.type,
        "total": a.total,
        "active": a.active,
        "size_bytes": a.size,
        "reclaimable_bytes": a.reclaimable,
        "reclaimable_percent": a.reclaimable_percent,
    }


def image_json(i: DiskImage) -> dict[str, Any]:
    repo, tag = repo_tag(i.repo_tags)
    unique = None if i.size is None or i.shared_size is None else i.size - i.shared_size
    return {
        "id": i.id,
        "repository": repo,
        "tag": tag,
        "repo_tags": list(i.repo_tags),
        "created": rfc3339(i.created),
        "size_bytes": i.size,
        "shared_size_bytes": i.shared_size,
        "unique_size_bytes": unique,
        "containers": i.containers,
    }


def container_json(c: DiskContainer) -> dict[str, Any]:
    return {
        "id": c.id,
        "names": list(c.names),
        "image": c.image,
        "image_id": c.image_id,
        "command": c.command,
        "local_volumes": c.local_volumes,
        "size_bytes": c.size_rw,
        "created": rfc3339(c.created),
        "state": c.state,
        "status": c.status,
    }


def volume_json(v: DiskVolume) -> dict[str, Any]:
    return {"name": v.name, "driver": v.driver, "links": v.links, "size_bytes": v.size}


def build_cache_json(b: BuildCacheRecord) -> dict[str, Any]:
    return {
        "id": b.id,
        "type": b.type,
        "size_bytes": b.size,
        "created": rfc3339(b.created),
        "last_used": rfc3339(b.last_used),
        "usage_count": b.usage_count,
        "in_use": b.in_use,
        "shared": b.shared,
    }


def disk_json(usage: DiskUsage, areas: Sequence[DiskArea], verbose: bool) -> dict[str, Any]:
    """The document: when Docker was asked, the areas, and verbose the rows."""
    doc: dict[str, Any] = {
        "sampled_at": rfc3339(usage.sampled_at),
        "sample_seconds": round(usage.duration_seconds, 6),
        "areas": [area_json(a) for a in areas],
    }
    if verbose:
        doc["images"] = [image_json(i) for i in usage.images]
        doc["containers"] = [container_json(c) for c in usage.containers]
        doc["volumes"] = [volume_json(v) for v in usage.volumes]
        doc["build_cache"] = [build_cache_json(b) for b in usage.build_cache]
    return doc
