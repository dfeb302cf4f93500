"""`watchdog-agent top`: a container's process tree with host and in-container PIDs."""

from __future__ import annotations

import json
import sys
from typing import TextIO

from watchdog_agent.cmd_stats import select
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.proctree import build_tree, read_top
from watchdog_agent.collectors.sampler import Target
from watchdog_agent.config import Settings
from watchdog_agent.errors import NotFound
from watchdog_agent.sources import open_source
from watchdog_agent.textfmt import top_table, top_tree
from watchdog_agent.views import process_json


async def find_target(settings: Settings, layout: Layout, ident: str) -> Target:
    source = await open_source(
        settings.docker_host,
        layout,
        settings.proc_root,
        settings.no_docker,
        light=True,
        named=settings.docker_host_named,
    )
    try:
        refs, targets = await source.poll(all=True)
        ref = select(refs, [ident])[0]
        target = targets.get(ref.id)
        if target is None:
            raise NotFound(ident, "container is not running")
        return target
    finally:
        await source.close()


async def run_top(settings: Settings, ident: str, fmt: str, out: TextIO | None = None) -> int:
    out = sys.stdout if out is None else out  # bound per call, not at import
    layout = Layout(settings.cgroup_root)
    target = await find_target(settings, layout, ident)
    flat = await read_top(settings.proc_root, target.location)
    if fmt == "json":
        out.write(json.dumps([process_json(p) for p in flat]) + "\n")
    elif fmt == "tree-json":
        out.write(json.dumps([process_json(p, nested=True) for p in build_tree(flat)]) + "\n")
    elif fmt == "tree":
        out.write(top_tree(build_tree(flat)) + "\n")
    else:
        out.write(top_table(flat) + "\n")
    return 0
