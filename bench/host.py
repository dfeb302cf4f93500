"""The cost of one host sample: the host's totals and the agent's own cost.

    python bench/host.py [--reads 2000] [--proc-root /proc]

Reads ``--reads`` HostSamples (collectors/host.py: psutil under --proc-root, loadavg,
hostname, kernel, OS) and as many ProcessCosts (collectors/agentcost.py:
prometheus_client's ProcessCollector), and prints a Markdown table of the wall and CPU
time per read: what the host task adds to each sampling interval, in a worker thread
beside the container pass.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

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
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--proc-root", default="/proc")
    args = parser.parse_args()
    reader = HostReader(args.proc_root)
    cost = AgentCost()
    print(f"{args.reads} reads, --proc-root {args.proc_root}\n")
    print("| read | wall µs | CPU µs |")
    print("|---|---|---|")
    for name, read in (("HostReader.read", reader.read), ("AgentCost.read", cost.read)):
        wall, cpu = per_read(read, args.reads)
        print(f"| {name} | {wall:.0f} | {cpu:.0f} |")


if __name__ == "__main__":
    main()
