"""Containers coming and going in a generated pure-v2 tree (bench/gentree.py's
``make_tree``), and their counters moving: a helper of bench/memory.py, no benchmark
of its own.

A new container is a copy of one made by ``make_tree`` (its cgroup directory and its two
processes' /proc directories) under a fresh id, fresh PIDs and a network namespace
of its own; a removed one loses its cgroup directory and its processes, as when Docker
removes a container. ``advance`` rewrites what a busy container's files say after
``seconds``: CPU time and throttling, memory, block and network I/O, CPU pressure.
``moving`` does the like for a served sample (the history filled without sampling).
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench.gentree import (
    NET_DEV_HEADER,
    NET_DEV_LINE,
    container_dir,
    container_id,
    flat,
    write_files,
)
from watchdog_agent.collectors.rates import NS
from watchdog_agent.model import ContainerStats, Pressure, PsiLine

FIRST_PID = 2_000_000  # above make_tree's PIDs
FIRST_NETNS = 4_026_600_000


@dataclass
class Live:
    """What ``advance`` writes for one container."""

    cid: str
    pids: tuple[int, int]
    usage_usec: int = 0
    periods: int = 0
    throttled: int = 0
    throttled_usec: int = 0
    memory: int = 64 << 20
    rbytes: int = 0
    wbytes: int = 0
    rx: int = 0
    tx: int = 0


@dataclass
class Tree:
    """A generated tree whose containers the caller replaces and advances."""

    root: Path
    template: str  # a make_tree container copied for each new one
    live: dict[str, Live] = field(default_factory=dict)
    made: int = 0  # containers added
    removed: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(9338))

    @property
    def cgroup(self) -> Path:
        return self.root / "cgroup"

    @property
    def proc(self) -> Path:
        return self.root / "proc"

    def adopt(self, ids: list[str]) -> None:
        """Take over the containers make_tree wrote (their PIDs from cgroup.procs)."""
        for cid in ids:
            procs = self.cgroup / container_dir("systemd", cid) / "cgroup.procs"
            first, second = (int(p) for p in procs.read_text().split()[:2])
            self.live[cid] = Live(cid, (first, second))

    def add(self) -> str:
        n = self.made
        self.made += 1
        cid = container_id(f"memory-churn-{n}")
        path = container_dir("systemd", cid)
        shutil.copytree(self.cgroup / container_dir("systemd", self.template), self.cgroup / path)
        old = self.live[self.template].pids
        new = (FIRST_PID + 20 * n, FIRST_PID + 20 * n + 5)
        for a, b in zip(old, new, strict=True):
            shutil.copytree(self.proc / str(a), self.proc / str(b))
            write_files(self.proc / str(b), {"cgroup": f"0::/{path}\n"})
        write_files(self.cgroup / path, {"cgroup.procs": f"{new[0]}\n{new[1]}\n"})
        write_files(self.proc / str(new[0]), {"ns/net": f"net:[{FIRST_NETNS + n}]\n"})
        self.live[cid] = Live(cid, new)
        return cid

    def remove(self, cid: str) -> None:
        live = self.live.pop(cid)
        shutil.rmtree(self.cgroup / container_dir("systemd", cid))
        for pid in live.pids:
            shutil.rmtree(self.proc / str(pid))
        self.removed += 1

    def replace(self, n: int) -> None:
        """Remove ``n`` containers (the template stays) and add ``n`` new ones."""
        for cid in self.rng.sample([c for c in self.live if c != self.template], n):
            self.remove(cid)
        for _ in range(n):
            self.add()

    def advance(self, seconds: float) -> None:
        """Every container used some CPU, memory and I/O in the last ``seconds``."""
        rng = self.rng
        for c in self.live.values():
            c.usage_usec += int(rng.random() * 0.5e6 * seconds)  # up to half a core
            c.periods += int(10 * seconds)
            hit = rng.randrange(3)
            c.throttled += hit
            c.throttled_usec += hit * rng.randrange(1, 20_000)
            c.memory = max(4 << 20, c.memory + rng.randrange(-8 << 20, 8 << 20))
            c.rbytes += rng.randrange(0, 1 << 20) * int(rng.random() < 0.3)
            c.wbytes += rng.randrange(0, 4 << 20) * int(rng.random() < 0.5)
            c.rx += rng.randrange(0, 200_000)
            c.tx += rng.randrange(0, 50_000)
            user = c.usage_usec * 3 // 4
            avg10, avg60 = rng.random() * 8, rng.random() * 3
            write_files(
                self.cgroup / container_dir("systemd", c.cid),
                {
                    "cpu.stat": flat(
                        [
                            ("usage_usec", c.usage_usec),
                            ("user_usec", user),
                            ("system_usec", c.usage_usec - user),
                            ("nr_periods", c.periods),
                            ("nr_throttled", c.throttled),
                            ("throttled_usec", c.throttled_usec),
                        ]
                    ),
                    "memory.current": f"{c.memory}\n",
                    "io.stat": f"259:0 rbytes={c.rbytes} wbytes={c.wbytes} rios=1 wios=1 "
                    "dbytes=0 dios=0\n",
                    "cpu.pressure": f"some avg10={avg10:.2f} avg60={avg60:.2f} avg300=0.50 "
                    f"total={c.usage_usec // 50}\nfull avg10=0.00 avg60=0.00 avg300=0.00 "
                    "total=0\n",
                },
            )
            write_files(
                self.proc / str(c.pids[0]),
                {
                    "net/dev": NET_DEV_HEADER
                    + NET_DEV_LINE.format("lo", *(0,) * 16)
                    + NET_DEV_LINE.format(
                        "eth0", c.rx, 1, 0, 0, 0, 0, 0, 0, c.tx, 1, 0, 0, 0, 0, 0, 0
                    )
                },
            )


def moving(s: ContainerStats, i: int, rng: random.Random) -> ContainerStats:
    """``s`` as it could have read ``i`` seconds earlier on a busy container: counters
    lower by a few seconds' worth each, memory and PSI elsewhere (numbers the sampler
    could have served: the CPU total is its counter / 1e9)."""
    x = s.sample
    back = i * (1 + rng.random())

    def less(v: int | None, per_second: int) -> int | None:
        return None if v is None else max(0, v - int(back * per_second))

    ns = less(x.cpu_usage_ns, 300_000_000)
    thr = less(x.cpu_throttled_ns, 2_000_000)
    psi = Pressure(PsiLine(round(rng.random() * 8, 2), round(rng.random() * 3, 2), 0.5, 0), None)
    usage = s.memory_usage_bytes
    usage = None if usage is None else max(0, usage + rng.randrange(-8 << 20, 8 << 20))
    return s._replace(
        sampled_at=s.sampled_at - i + rng.random() * 0.002,  # a pass's jitter
        sample=x._replace(cpu_usage_ns=ns, cpu_throttled_ns=thr, psi_cpu=psi),
        cpu_percent=rng.random() * 50,
        cpu_usage_seconds_total=None if ns is None else ns / NS,
        cpu_throttled_seconds_total=None if thr is None else thr / NS,
        cpu_throttled_percent=rng.random() * 5,
        memory_usage_bytes=usage,
        memory_working_set_bytes=usage,
        net_rx_bytes=less(s.net_rx_bytes, 20_000),
        net_tx_bytes=less(s.net_tx_bytes, 5_000),
        blk_read_bytes=less(s.blk_read_bytes, 100_000),
        blk_write_bytes=less(s.blk_write_bytes, 400_000),
    )
