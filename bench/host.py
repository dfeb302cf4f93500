"""The cost of one host sample: the host's totals and the agent's own cost.

    python -m bench.host [--quick] [--reads 2000] [--proc-root /proc]

Reads ``--reads`` HostSamples (collectors/host.py: psutil under --proc-root, loadavg,
hostname, kernel, OS) and as many ProcessCosts (collectors/agentcost.py:
prometheus_client's ProcessCollector), and prints a Markdown table (key ``host-read``) of
the wall and CPU time per read: what the host task adds to each sampling interval, in a
worker thread beside the container pass. ``--quick``: 100 reads.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.tableout import progress, table
from watchdog_agent.collectors.agentcost import AgentCost
from watchdog_agent.collectors.host import HostReader


def per_read(read: Callable[[], object], n: int) -> tuple[float, float]:
    """(wall, CPU) microseconds per call, over ``n`` calls."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        read()
    return ((time.perf_counter() - wall) / n * 1e6, (time.process_time() - cpu) / n * 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 reads")
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--proc-root", default="/proc")
    args = parser.parse_args()
    reads = 100 if args.quick else args.reads
    reader = HostReader(args.proc_root)
    cost = AgentCost()
    rows = []
    for name, read in (("HostReader.read", reader.read), ("AgentCost.read", cost.read)):
        progress(f"{reads} x {name}")
        wall, cpu = per_read(read, reads)
        rows.append((f"`{name}`", f"{wall:.0f}", f"{cpu:.0f}"))
    caption = f"{reads} reads each, `--proc-root {args.proc_root}`"
    table("host-read", ("read", "wall µs", "CPU µs"), rows, caption=caption)


if __name__ == "__main__":
    main()
