"""Garbage-collector settings for the long-running commands.

A sampling pass allocates a few dozen short-lived objects per container and makes no
reference cycles, yet with Python's defaults the collector runs a gen-0 pass every 700
allocations and, now and then, a full pass over every live object: at 1,000 containers
that was a third of the pass's CPU (bench/sampling.py, default GC against these
settings). Objects alive after start-up are frozen out of collection, and the gen-0
threshold is raised; cycles, if any, are still collected.
"""

from __future__ import annotations

import gc

GEN0_THRESHOLD = 10_000


def tune_for_service() -> None:
    """Call once, after start-up (imports, settings, first sample)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
