"""The memory breakdown of one container (pure), beside what each tool calls "memory":
``docker stats`` shows usage minus inactive file cache; cAdvisor's
``container_memory_usage_bytes`` is the cgroup's whole usage, page cache included, and
its ``container_memory_working_set_bytes`` is usage minus inactive file (what the kubelet
evicts on). The parts come from the stats' ``memory_stat`` object, read defensively."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table
from rich.text import Text

from watchdog_agent.commands.textfmt import binary_size

from .base import MISSING

PARTS = (
    ("anon", "process memory: heap, stacks, anonymous mappings"),
    ("file", "page cache (files read or written)"),
    ("active_file", "  of it recently used"),
    ("inactive_file", "  of it reclaimable first"),
    ("shmem", "tmpfs and shared memory"),
    ("kernel", "kernel memory charged to the container"),
)


def _bytes(doc: Mapping[str, Any] | None, key: str) -> int | None:
    value = None if doc is None else doc.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def memory_table(stats: Mapping[str, Any] | None) -> Table:
    """``stats``: the container document's ``stats`` object (None: no sample)."""
    raw = None if stats is None else stats.get("memory_stat")
    parts = raw if isinstance(raw, Mapping) else None
    table = Table(box=None, pad_edge=False, show_header=False)
    table.add_column("what", no_wrap=True)
    table.add_column("bytes", justify="right", no_wrap=True)
    table.add_column("meaning", style="dim")
    if parts is None:
        table.add_row(Text("breakdown"), Text(MISSING), Text("the agent sent no memory.stat"))
    else:
        for key, meaning in PARTS:
            table.add_row(Text(key), Text(binary_size(_bytes(parts, key))), Text(meaning))
    table.add_row(Text(""), Text(""), Text(""))
    tools = (
        ('docker stats "MEM USAGE"', _bytes(stats, "memory_usage_bytes"),
         "usage minus inactive_file"),
        ("cAdvisor container_memory_usage_bytes", _bytes(parts, "current"),
         "the whole usage, page cache included"),
        ("cAdvisor container_memory_working_set_bytes", _bytes(stats, "memory_working_set_bytes"),
         "usage minus inactive_file (what the kubelet evicts on)"),
    )  # fmt: skip
    for name, value, meaning in tools:
        table.add_row(Text(name, style="bold"), Text(binary_size(value)), Text(meaning))
    return table
