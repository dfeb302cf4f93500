"""Disk use by area from one ``/system/df`` answer, as ``docker system df`` computes it.

The rules are the docker CLI's (20.10, cli/command/formatter/disk_usage.go and
cli/command/system/df.go), kept exactly, so that the numbers agree with it:

- images: size is the daemon's LayersSize (every layer once); active, the images with
  at least one container; reclaimable, the size minus, for each image with containers
  (Containers != 0) whose sizes are known, its size minus its shared size.
- containers: size is the sum of the writable layers (SizeRw); active, the running,
  paused and restarting ones; reclaimable, the writable layers of the others.
- volumes (the daemon reports local-driver volumes only): size is the sum of the known
  sizes; active, those with links (RefCount > 0); reclaimable, the size of those
  without.
- build cache: size is the sum of the records that are not shared; active, the records
  in use; reclaimable, the size minus the records in use and not shared. Docker prints
  no percentage for it.

A percentage is Go's integer division of reclaimable*100 by the total, shown only when the
total is above 0. Pure functions.
"""

from __future__ import annotations

from watchdog_agent.model import DiskArea, DiskContainer, DiskUsage

ACTIVE_STATES = ("running", "paused", "restarting")  # substrings, as the CLI matches


def container_active(c: DiskContainer) -> bool:
    state = c.state or ""
    return any(s in state for s in ACTIVE_STATES)


def percent(part: int, total: int) -> int | None:
    """Go's ``(part*100)/total`` (truncated toward zero), None when total <= 0."""
    if total <= 0:
        return None
    q = abs(part) * 100 // total
    return q if part >= 0 else -q


def images_area(usage: DiskUsage) -> DiskArea:
    total = usage.layers_size
    used = sum(
        i.size - i.shared_size
        for i in usage.images
        if i.containers != 0 and i.size is not None and i.shared_size is not None
    )
    reclaimable = total - used
    active = sum(1 for i in usage.images if i.containers is not None and i.containers > 0)
    return DiskArea("images", len(usage.images), active, total, reclaimable,
                    percent(reclaimable, total))  # fmt: skip


def containers_area(usage: DiskUsage) -> DiskArea:
    size = sum(c.size_rw or 0 for c in usage.containers)
    reclaimable = sum(c.size_rw or 0 for c in usage.containers if not container_active(c))
    active = sum(1 for c in usage.containers if container_active(c))
    return DiskArea("containers", len(usage.containers), active, size, reclaimable,
                    percent(reclaimable, size))  # fmt: skip


def volumes_area(usage: DiskUsage) -> DiskArea:
    size = sum(v.size for v in usage.volumes if v.size is not None)
    reclaimable = sum(v.size for v in usage.volumes if v.size is not None and v.links == 0)
    active = sum(1 for v in usage.volumes if v.links is not None and v.links > 0)
    return DiskArea("volumes", len(usage.volumes), active, size, reclaimable,
                    percent(reclaimable, size))  # fmt: skip


def build_cache_area(usage: DiskUsage) -> DiskArea:
    records = usage.build_cache
    size = sum(b.size for b in records if not b.shared)
    in_use = sum(b.size for b in records if b.in_use and not b.shared)
    active = sum(1 for b in records if b.in_use)
    return DiskArea("build_cache", len(records), active, size, size - in_use, None)


def areas(usage: DiskUsage) -> tuple[DiskArea, DiskArea, DiskArea, DiskArea]:
    """The four rows of ``docker system df``, in its order."""
    return (images_area(usage), containers_area(usage), volumes_area(usage),
            build_cache_area(usage))  # fmt: skip
