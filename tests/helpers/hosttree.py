"""A minimal /proc of the host's totals, for --proc-root tests (no tests here): a layout
this host cannot produce on demand (another CPU count, memory size, kernel, OS)."""

from __future__ import annotations

from pathlib import Path

CPUS = 3
BOOT_TIME = 1_700_000_000
MEM_TOTAL_KB = 4_000_000
MEM_AVAILABLE_KB = 3_000_000
SWAP_TOTAL_KB = 2_000_000
SWAP_FREE_KB = 1_500_000
LOAD = (1.5, 0.75, 0.25)
HOSTNAME = "fixture-host"
KERNEL = "9.9.9-fixture"
OS_NAME = "Fixture OS 1 (test)"
# /proc/stat aggregate (user nice system idle iowait irq softirq steal guest guest_nice)
CPU_BEFORE = (1000, 0, 500, 8000, 100, 0, 0, 0, 0, 0)
# + 300 user and + 300 idle: half of the time busy, so 50 % of 3 CPUs = 150
CPU_AFTER = (1300, 0, 500, 8300, 100, 0, 0, 0, 0, 0)
CPU_PERCENT_BETWEEN = 150.0


def write_stat(proc: Path, cpu: tuple[int, ...]) -> None:
    line = " ".join(map(str, cpu))
    per_cpu = "".join(f"cpu{i} {line}\n" for i in range(CPUS))
    text = f"cpu  {line}\n{per_cpu}intr 0\nctxt 0\nbtime {BOOT_TIME}\nprocesses 1\n"
    tmp = proc / "stat.tmp"
    tmp.write_text(text)
    tmp.replace(proc / "stat")  # whole, for a reader in another process


def host_tree(root: Path) -> Path:
    """Write the tree under ``root``; its proc directory."""
    proc = root / "proc"
    (proc / "sys" / "kernel").mkdir(parents=True)
    (proc / "1" / "root" / "etc").mkdir(parents=True)
    write_stat(proc, CPU_BEFORE)
    (proc / "meminfo").write_text(
        f"MemTotal:       {MEM_TOTAL_KB} kB\nMemFree:         1000000 kB\n"
        f"MemAvailable:   {MEM_AVAILABLE_KB} kB\nBuffers:          100000 kB\n"
        "Cached:           500000 kB\nSReclaimable:      50000 kB\nShmem:              0 kB\n"
        "Active:           800000 kB\nInactive:         700000 kB\n"
        f"SwapTotal:      {SWAP_TOTAL_KB} kB\nSwapFree:       {SWAP_FREE_KB} kB\n"
    )
    (proc / "vmstat").write_text("pswpin 0\npswpout 0\n")
    (proc / "loadavg").write_text(" ".join(map(str, LOAD)) + " 2/345 6789\n")
    (proc / "sys" / "kernel" / "hostname").write_text(HOSTNAME + "\n")
    (proc / "sys" / "kernel" / "osrelease").write_text(KERNEL + "\n")
    (proc / "1" / "root" / "etc" / "os-release").write_text(
        f'NAME="Fixture OS"\nVERSION_ID=1\nPRETTY_NAME="{OS_NAME}"\n'
    )
    return proc
