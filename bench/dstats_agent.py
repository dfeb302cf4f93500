"""dstats through a real agent: the real ``dstats --agent URL`` console script in a
pseudo-terminal, reading a real ``watchdog-agent serve`` that samples a generated
pure-v2 tree (bench/gentree.py, no Docker) of N containers.

    python bench/dstats_agent.py [--containers 1000] [--idle 200] [--starts 5] [--idle-seconds 20]

Prints a Markdown table:

- start to first full frame: from starting ``dstats`` (interpreter, imports, the
  connection, the first snapshot document decoded on its data thread) to the frame whose
  status line says "N of N containers";
- idle CPU: ``dstats``' own CPU time (user + system, its data thread included) while the
  agent publishes a snapshot of ``--idle`` containers every second, over
  ``--idle-seconds`` after a 3 s warm-up, as a share of one core;
- the agent's CPU over the same window, for scale.

bench/dstats_refresh.py measures the app alone (refresh at 1,000 rows, start and idle
over a generated Fleet, no network).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench.dstats_refresh import Terminal, first_frame_of
from bench.gentree import make_tree

BIN = Path(sys.executable).parent


@contextmanager
def agent(containers: int) -> Iterator[tuple[str, int]]:
    """``watchdog-agent serve`` over a generated tree of ``containers``, sampling every
    second; its URL and PID."""
    shm = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        make_tree(Path(tmp) / "tree", containers)
        tree = f"{tmp}/tree"
        argv = [str(BIN / "watchdog-agent"), "serve", "--no-docker", "--journal", "none",
                "--listen", "127.0.0.1:0", "--interval", "1",
                "--proc-root", f"{tree}/proc", "--cgroup-root", f"{tree}/cgroup"]  # fmt: skip
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        try:
            url = None
            for line in proc.stderr:  # JSON log lines; "serving" names the address
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("event") == "serving":
                    url = f"http://{entry['addresses'][0]}"
                    break
            if url is None:
                raise RuntimeError(f"the agent exited ({proc.wait(10)}) before serving")
            proc.stderr.close()  # nothing more is read: it must not fill the pipe
            time.sleep(2.5)  # two sampling passes: CPU % and rates are real from the start
            yield url, proc.pid
        finally:
            proc.terminate()
            proc.wait(30)


def dstats(url: str) -> list[str]:
    return [str(BIN / "dstats"), "--agent", url]


def idle(url: str, agent_pid: int, n: int, seconds: float) -> tuple[float, float]:
    """Percent of one core: dstats' and the agent's, over ``seconds``."""
    term = Terminal(dstats(url), wanted=f"{n} of {n} containers".encode())
    try:
        term.wait_for_text(60)
        time.sleep(3.0)
        ours, theirs = psutil.Process(term.proc.pid), psutil.Process(agent_pid)
        a0, b0, w0 = ours.cpu_times(), theirs.cpu_times(), time.perf_counter()
        time.sleep(seconds)
        a1, b1, w1 = ours.cpu_times(), theirs.cpu_times(), time.perf_counter()
        span = w1 - w0
        used = (a1.user - a0.user) + (a1.system - a0.system)
        agent_used = (b1.user - b0.user) + (b1.system - b0.system)
        return 100.0 * used / span, 100.0 * agent_used / span
    finally:
        term.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    print(f"start to first frame over {args.containers} generated containers ...", file=sys.stderr)
    with agent(args.containers) as (url, _):
        starts = [first_frame_of(dstats(url), args.containers) for _ in range(args.starts)]
    print(f"idle CPU at {args.idle} containers ...", file=sys.stderr)
    with agent(args.idle) as (url, pid):
        cpu, agent_cpu = idle(url, pid, args.idle, args.idle_seconds)
    load = os.getloadavg()[0]
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} at the end, "
          f"Python {sys.version.split()[0]}\n")  # fmt: skip
    print("| measure (`dstats --agent URL`, a real agent over a generated tree) "
          "| containers | figure | goal |")  # fmt: skip
    print("|---|---:|---|---|")
    first = f"median {statistics.median(starts):.2f} s, max {max(starts):.2f} s"
    print(f"| start to first full frame, {args.starts} runs | {args.containers} | "
          f"{first} | < 1 s |")  # fmt: skip
    print(f"| dstats' own CPU, a snapshot a second, over {args.idle_seconds:g} s | {args.idle} | "
          f"{cpu:.1f} % of a core | < 5 % |")  # fmt: skip
    print(f"| the agent's CPU over the same window | {args.idle} | {agent_cpu:.1f} % of a core | |")


if __name__ == "__main__":
    main()
