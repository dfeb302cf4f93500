"""dstats through a real agent: the real ``dstats --agent URL`` console script in a
pseudo-terminal, reading a real ``watchdog-agent serve`` that samples a generated
pure-v2 tree (bench/gentree.py, no Docker) of N containers.

    python -m bench.dstats_agent [--quick] [--containers 1000] [--idle 200] [--starts 5]
                                 [--idle-seconds 20]

Prints a Markdown table (key ``dstats-agent``; ``--quick``: one agent of 50
containers, one dstats: its first frame, then 2 s idle):

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
from bench.tableout import progress, table

BIN = Path(sys.executable).parent


@contextmanager
def agent(containers: int, settle: float = 2.5) -> Iterator[tuple[str, int]]:
    """``watchdog-agent serve`` over a generated tree of ``containers``, sampling every
    second; its URL and PID, ``settle`` seconds after it began serving."""
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
            time.sleep(settle)  # 2.5 s: two passes, CPU % and rates are real from the start
            yield url, proc.pid
        finally:
            proc.terminate()
            proc.wait(30)


def dstats(url: str) -> list[str]:
    return [str(BIN / "dstats"), "--agent", url]


def idle(
    url: str, agent_pid: int, n: int, seconds: float, warm_up: float = 3.0
) -> tuple[float, float, float]:
    """(seconds to dstats' first full frame, then percent of one core: dstats' and the
    agent's, over ``seconds`` after ``warm_up``)."""
    term = Terminal(dstats(url), wanted=f"{n} of {n} containers".encode())
    try:
        first = term.wait_for_text(60)
        time.sleep(warm_up)
        ours, theirs = psutil.Process(term.proc.pid), psutil.Process(agent_pid)
        a0, b0, w0 = ours.cpu_times(), theirs.cpu_times(), time.perf_counter()
        time.sleep(seconds)
        a1, b1, w1 = ours.cpu_times(), theirs.cpu_times(), time.perf_counter()
        span = w1 - w0
        used = (a1.user - a0.user) + (a1.system - a0.system)
        agent_used = (b1.user - b0.user) + (b1.system - b0.system)
        return first, 100.0 * used / span, 100.0 * agent_used / span
    finally:
        term.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="50 containers, 1 start, 2 s idle")
    parser.add_argument("--containers", type=int, default=1000)
    parser.add_argument("--idle", type=int, default=200)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.quick:  # one agent, one dstats: its first frame, then its idle CPU
        progress("one dstats over an agent of 50 generated containers")
        with agent(50, settle=1.0) as (url, pid):
            first, cpu, agent_cpu = idle(url, pid, 50, 2.0, warm_up=0.5)
        args.containers, args.idle, args.idle_seconds, starts = 50, 50, 2.0, [first]
    else:
        progress(f"start to first frame over {args.containers} generated containers")
        with agent(args.containers) as (url, _):
            starts = [first_frame_of(dstats(url), args.containers) for _ in range(args.starts)]
        progress(f"idle CPU at {args.idle} containers over {args.idle_seconds:g} s")
        with agent(args.idle) as (url, pid):
            _, cpu, agent_cpu = idle(url, pid, args.idle, args.idle_seconds)
    frame = f"median {statistics.median(starts):.2f} s, max {max(starts):.2f} s"
    rows = [
        (f"start to first full frame, {len(starts)} runs", args.containers, frame, "< 1 s"),
        (f"dstats' own CPU, a snapshot a second, over {args.idle_seconds:g} s", args.idle,
         f"{cpu:.1f} % of a core", "< 5 %"),
        ("the agent's CPU over the same window", args.idle, f"{agent_cpu:.1f} % of a core", ""),
    ]  # fmt: skip
    table("dstats-agent", ("measure (`dstats --agent URL`, a real agent over a generated tree)",
          "containers", "figure", "goal"), rows, align="lrll")  # fmt: skip


if __name__ == "__main__":
    main()
