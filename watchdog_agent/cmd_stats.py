"""`watchdog-agent stats`: docker stats' columns, from the collectors."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TextIO

from watchdog_agent import gctune
from watchdog_agent.collectors import cpuwindow
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.config import Settings
from watchdog_agent.lookup import find_container
from watchdog_agent.model import CgroupSample, ContainerRef, ContainerStats, Snapshot
from watchdog_agent.sources import ContainerSource, Filters, open_source
from watchdog_agent.textfmt import stats_table
from watchdog_agent.views import stats_json

_CLEAR = "\x1b[2J\x1b[H"


def select(refs: list[ContainerRef], wanted: Sequence[str]) -> list[ContainerRef]:
    """Containers named on the command line (full id, unique id prefix or name), in
    the order given; an argument matching nothing (or several) is an error."""
    if not wanted:
        return refs
    by_id = {r.id: r for r in refs}
    out: list[ContainerRef] = []
    for arg in wanted:
        ref = find_container(arg, by_id)
        if ref not in out:
            out.append(ref)
    return out


def placeholder(ref: ContainerRef, at: float) -> ContainerStats:
    """A row for a container with no sample (not running, or gone): every number absent."""
    sample = CgroupSample(container_id=ref.id, monotonic=0.0, wall=at)
    return ContainerStats(id=ref.id, sampled_at=at, sample=sample, name=ref.name, image=ref.image)


def render(
    refs: list[ContainerRef], snap: Snapshot, fmt: str, out: TextIO, clear: bool = False
) -> None:
    rows = [snap.containers.get(r.id) or placeholder(r, snap.taken_at) for r in refs]
    if fmt == "json":
        for row in rows:
            out.write(json.dumps(stats_json(row)) + "\n")
    else:
        out.write((_CLEAR if clear else "") + stats_table(rows) + "\n")
    out.flush()


async def run_stats(
    settings: Settings,
    containers: Sequence[str],
    all: bool,
    no_stream: bool,
    fmt: str,
    filters: Filters,
    out: TextIO | None = None,
) -> int:
    out = sys.stdout if out is None else out  # bound per call, not at import
    layout = Layout(settings.cgroup_root)
    sampler = Sampler(settings.proc_root, layout.mode)
    source = await open_source(
        settings.docker_host,
        layout,
        settings.proc_root,
        settings.no_docker,
        light=no_stream,
        named=settings.docker_host_named,
    )
    try:
        # the first result (the only one with --no-stream) takes CPU % from the one-shot
        # window (collectors/cpuwindow.py); later frames from the sample before them
        clear = not no_stream and fmt != "json" and out.isatty()
        refs, targets = await _poll(source, containers, all, filters)
        render(refs, await first_snapshot(sampler, targets), fmt, out, clear)
        if no_stream:
            return 0
        gctune.tune_for_service()
        while True:
            await asyncio.sleep(settings.interval)
            refs, targets = await _poll(source, containers, all, filters)
            render(refs, sampler.sample(targets), fmt, out, clear)
    finally:
        sampler.close()
        await source.close()


async def first_snapshot(sampler: Sampler, targets: Mapping[str, Target]) -> Snapshot:
    """A sample whose CPU % and throttled share come from one shared CPU window."""
    readings = await cpuwindow.measure({k: t.location for k, t in targets.items()})
    snap = sampler.sample(targets)
    rows = {k: cpuwindow.apply(row, readings.get(k)) for k, row in snap.containers.items()}
    return replace(snap, containers=rows)


async def _poll(
    source: ContainerSource, containers: Sequence[str], all: bool, filters: Filters
) -> tuple[list[ContainerRef], dict[str, Target]]:
    refs, targets = await source.poll(all=all or bool(containers), filters=filters)
    chosen = select(refs, containers)
    ids = {r.id for r in chosen}
    return chosen, {k: t for k, t in targets.items() if k in ids}
