"""dstats' main table: one refresh of 1,000 containers, start to the first full frame,
and the app's own CPU while idle at one refresh a second with 200 containers.

    python -m bench.dstats_refresh [--quick] [--refreshes 30] [--idle-seconds 20] [--starts 5]

Prints a Markdown table (key ``dstats-refresh``); ``--quick``: 3 refreshes, one child
(its first frame, then 2 s idle after 0.5 s of warm-up, at 1,000 rows). The data comes
from a generated Fleet (the view.py protocol) whose rows change on every refresh (CPU,
memory, rates), so no measurement is of an unchanged table:

- refresh: under ``App.run_test()`` (160x50), the time from handing the app a new
  FleetView of 1,000 rows to the end of the repaint (``await pilot.pause()``): the model
  update, the sort, the table's repaint of the visible lines. "model only" is the
  publish call alone (update + filter + sort, no paint). Median and p95.
- first frame: ``python -c`` starting DstatsApp in a pseudo-terminal (200x50) with 1,000
  rows ready, timed from the process start (interpreter, imports included) to the
  frame whose status line says "1000 of 1000 containers" on the terminal.
- idle CPU: the same app in a pseudo-terminal, fed 200 changing rows each second; the
  process's CPU time (user + system) over ``--idle-seconds`` after a 3 s warm-up, as a
  share of one core.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psutil

from bench.tableout import progress, table
from watchdog_agent.model import ContainerStats, Event, LogLine, ProcessInfo
from watchdog_agent.tui.app import DstatsApp
from watchdog_agent.tui.options import ViewOptions
from watchdog_agent.tui.view import FleetError, FleetView, HostView, LinkState, Row

HOST_KEY = "http://bench:9338"
TERMINAL = (200, 50)


def rows(n: int, tick: int) -> dict[str, Row]:
    """``n`` running containers whose numbers move with ``tick``."""
    now = time.time()
    out = {}
    for i in range(n):
        cid = f"{i:08x}".ljust(64, "0")
        wave = (i * 7 + tick * 13) % 100
        out[cid] = Row(
            host=HOST_KEY, id=cid, name=f"c{i:04d}", image=f"image-{i % 17}:latest",
            state="running", started_at=now - 3600 - i, finished_exit_code=None,
            oom_killed=None, restart_count=i % 3, cpu_percent=wave * 1.5,
            cpu_limit=1.0 if i % 4 == 0 else None, memory_usage_bytes=(wave + 1) * 2**20,
            memory_limit_bytes=512 * 2**20 if i % 2 else None, memory_percent=wave / 5,
            net_rx_rate=wave * 1000.0, net_tx_rate=wave * 300.0, blk_read_rate=0.0,
            blk_write_rate=wave * 4096.0, pids=1 + i % 30, pids_limit=None,
            psi_cpu_some_avg10=wave / 10, throttled_percent=wave / 4 if i % 4 == 0 else 0.0,
        )  # fmt: skip
    return out


def view(n: int, tick: int) -> FleetView:
    now = time.time()
    host = HostView(
        key=HOST_KEY, name="bench", link=LinkState.CONNECTED, detail=None, since=now - 60,
        rows=rows(n, tick), host={"cpus": 2, "cpu_percent": 10.0, "load1": 0.5},
        daemon={"up": True, "version": "20.10.24"},
        agent={"cpu_seconds_total": 1.0 + tick * 0.01, "resident_memory_bytes": 50 * 2**20},
        sampled_at=now, interval=1.0,
    )  # fmt: skip
    return FleetView(hosts=(host,))


class BenchFleet:
    """Publishes ``n`` changing rows every ``every`` seconds (None: only the first view;
    ``push`` publishes the next)."""

    def __init__(self, n: int, every: float | None) -> None:
        self.n, self.every, self.tick = n, every, 0
        self.publish: Callable[[FleetView], None] | None = None
        self._stop = asyncio.Event()

    async def run(self, publish: Callable[[FleetView], None]) -> None:
        self.publish = publish
        publish(view(self.n, 0))
        while self.every is not None and not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), self.every)
            except TimeoutError:
                self.push()
        await self._stop.wait()

    def push(self) -> None:
        assert self.publish is not None
        self.tick += 1
        self.publish(view(self.n, self.tick))

    async def close(self) -> None:
        self._stop.set()

    async def container(self, host: str, cid: str) -> Mapping[str, Any]:
        raise FleetError("not in the benchmark")

    async def history(self, host: str, cid: str, count: int) -> Sequence[ContainerStats]:
        raise FleetError("not in the benchmark")

    async def top(self, host: str, cid: str) -> Sequence[ProcessInfo]:
        raise FleetError("not in the benchmark")

    async def postmortem(self, host: str, cid: str) -> Mapping[str, Any] | None:
        raise FleetError("not in the benchmark")

    async def disk(self, host: str) -> Mapping[str, Any]:
        raise FleetError("not in the benchmark")

    def logs(self, host: str, cid: str, *, tail: int, follow: bool) -> AsyncIterator[LogLine]:
        raise FleetError("not in the benchmark")

    def events(self, host: str, filters: Sequence[str], since: str | None) -> AsyncIterator[Event]:
        raise FleetError("not in the benchmark")


# --- refresh under run_test -----------------------------------------------------------


async def refresh_times(n: int, count: int) -> tuple[list[float], list[float], list[float]]:
    """(model-only ms, model + repaint ms, CPU ms) for ``count`` refreshes of ``n`` rows.

    The repaint is Pilot.pause without its idle wait (it sleeps until the process looks
    idle, a floor of tens of ms that is not work): the screen's pending messages are
    processed (``_wait_for_screen``), then the compositor renders the frame
    (``_on_timer_update``, what the screen's refresh timer calls)."""
    fleet = BenchFleet(n, None)
    app = DstatsApp(fleet, ViewOptions())
    model_ms, total_ms, cpu_ms = [], [], []
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert len(app.main.model.visible) == n
        views = [view(n, tick) for tick in range(1, count + 4)]  # made before the clock runs
        assert fleet.publish is not None
        for v in views[:3]:  # warm-up
            fleet.publish(v)
            await pilot.pause()
        for v in views[3:]:
            await pilot.pause()
            c0, t0 = time.process_time(), time.perf_counter()
            fleet.publish(v)
            t1 = time.perf_counter()
            await pilot._wait_for_screen()
            app.screen._on_timer_update()
            t2, c2 = time.perf_counter(), time.process_time()
            model_ms.append((t1 - t0) * 1e3)
            total_ms.append((t2 - t0) * 1e3)
            cpu_ms.append((c2 - c0) * 1e3)
            assert app.main.model.visible[0].name is not None
        assert len(app.main.model.visible) == n
    return model_ms, total_ms, cpu_ms


def p95(values: list[float]) -> float:
    return sorted(values)[max(0, round(0.95 * len(values)) - 1)]


# --- a real (pseudo-)terminal ---------------------------------------------------------

CHILD = """
import sys, time
sys.path.insert(0, {root!r})
from bench.dstats_refresh import BenchFleet
from watchdog_agent.tui.app import DstatsApp
from watchdog_agent.tui.options import ViewOptions
DstatsApp(BenchFleet({n}, {every}), ViewOptions()).run()
"""


class Terminal:
    """A child process (``argv``) on a pseudo-terminal of TERMINAL size; its output is
    drained (and searched for ``wanted``) by a thread."""

    def __init__(self, argv: Sequence[str], wanted: bytes = b"") -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", TERMINAL[1], TERMINAL[0], 0, 0))
        env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
        env.update(TERM="xterm-256color", COLORTERM="truecolor")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(argv, stdin=slave, stdout=slave,
                                     stderr=slave, env=env, start_new_session=True)  # fmt: skip
        os.close(slave)
        self.master, self.wanted = master, wanted
        self.seen_at: float | None = None
        self._tail = b""
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.5)
            if not ready:
                if self.proc.poll() is not None:
                    return
                continue
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            if self.wanted and self.seen_at is None:
                self._tail = (self._tail + chunk)[-4096:]
                if self.wanted in self._tail:
                    self.seen_at = time.perf_counter()

    def wait_for_text(self, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while self.seen_at is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if self.seen_at is None:
            raise RuntimeError(f"{self.wanted!r} never reached the terminal")
        return self.seen_at - self.started

    def close(self) -> None:
        try:
            os.write(self.master, b"q")
            self.proc.wait(10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(10)
        self._thread.join(5)
        os.close(self.master)


def child(n: int, every: float | None) -> list[str]:
    """The app over a BenchFleet of ``n`` rows, in a child interpreter."""
    root = str(Path(__file__).resolve().parent.parent)
    return [sys.executable, "-c", CHILD.format(root=root, n=n, every=every)]


def first_frame_of(argv: Sequence[str], n: int) -> float:
    """Seconds from starting ``argv`` to its status line counting all ``n`` rows."""
    term = Terminal(argv, wanted=f"{n} of {n} containers".encode())
    try:
        return term.wait_for_text(60)
    finally:
        term.close()


def idle_cpu_of(
    argv: Sequence[str], n: int, seconds: float, warm_up: float = 3.0
) -> tuple[float, float]:
    """(seconds to its first full frame, percent of one core ``argv`` used over
    ``seconds`` after it showed ``n`` rows and ``warm_up`` seconds)."""
    term = Terminal(argv, wanted=f"{n} of {n} containers".encode())
    try:
        first = term.wait_for_text(60)
        time.sleep(warm_up)
        proc = psutil.Process(term.proc.pid)
        c0, w0 = proc.cpu_times(), time.perf_counter()
        time.sleep(seconds)
        c1, w1 = proc.cpu_times(), time.perf_counter()
        used = (c1.user - c0.user) + (c1.system - c0.system)
        return first, 100.0 * used / (w1 - w0)
    finally:
        term.close()


def first_frame(n: int) -> float:
    return first_frame_of(child(n, None), n)


def idle_cpu(n: int, seconds: float, warm_up: float = 3.0) -> tuple[float, float]:
    """(seconds to the first frame, percent of one core) of the app fed ``n`` changing
    rows each second."""
    return idle_cpu_of(child(n, 1.0), n, seconds, warm_up)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 refreshes, 1 start, 2 s idle")
    parser.add_argument("--refreshes", type=int, default=30)
    parser.add_argument("--starts", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.quick:
        args.refreshes, args.starts, args.idle_seconds = 3, 1, 2.0
    progress(f"{args.refreshes} refreshes of 1,000 rows under run_test")
    model_ms, total_ms, cpu_ms = asyncio.run(refresh_times(1000, args.refreshes))
    idle_rows = 200
    starts = []
    if args.quick:  # one child: its first frame, then its idle CPU
        idle_rows = 1000
    else:
        progress(f"{args.starts} starts to the first frame (1,000 rows, pty)")
        starts = [first_frame(1000) for _ in range(args.starts)]
    progress(f"idle CPU at {idle_rows} rows over {args.idle_seconds:g} s")
    first, cpu = idle_cpu(idle_rows, args.idle_seconds, 0.5 if args.quick else 3.0)
    starts = starts or [first]
    n = args.refreshes
    rows = [
        (f"one refresh, model only (update + filter + sort), {n} runs", "1000",
         f"median {statistics.median(model_ms):.1f} ms, p95 {p95(model_ms):.1f} ms", ""),
        (f"one refresh, model + repaint (run_test 160x50), {n} runs", "1000",
         f"median {statistics.median(total_ms):.1f} ms, p95 {p95(total_ms):.1f} ms", "≤ 50 ms"),
        ("the same, CPU time of the process", "1000",
         f"median {statistics.median(cpu_ms):.1f} ms, p95 {p95(cpu_ms):.1f} ms", ""),
        (f"start to first full frame (pty {TERMINAL[0]}x{TERMINAL[1]}), {len(starts)} runs",
         "1000", f"median {statistics.median(starts):.2f} s, max {max(starts):.2f} s", "< 1 s"),
        (f"own CPU, one refresh a second, over {args.idle_seconds:g} s", f"{idle_rows}",
         f"{cpu:.1f} % of a core", "< 5 %"),
    ]  # fmt: skip
    table("dstats-refresh", ("measure (the app over a generated Fleet)", "containers", "figure",
          "goal"), rows, align="lrll")  # fmt: skip


if __name__ == "__main__":
    main()
