"""The pure parts of the host reader: /proc/loadavg, one-line files, os-release, and the
host CPU % from two readings (no files)."""

from __future__ import annotations

import pytest

from watchdog_agent.collectors.hostparse import (
    CpuTimes,
    Load,
    cpu_percent,
    cpu_times,
    one_line,
    parse_loadavg,
    parse_os_release,
)
from watchdog_agent.model import HostSample


def test_loadavg() -> None:
    assert parse_loadavg("0.52 0.58 0.59 2/1234 5678\n") == Load(0.52, 0.58, 0.59)
    for bad in ("", "0.5 0.5", "a b c 1/2 3", "-1 0 0 1/1 1"):
        assert parse_loadavg(bad) is None, bad


def test_one_line() -> None:
    assert one_line("vm\n") == "vm"
    assert one_line("  6.1.0-18-amd64 \nmore\n") == "6.1.0-18-amd64"
    assert one_line("\n") is None
    assert one_line("") is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\n',
         "Debian GNU/Linux 12 (bookworm)"),
        ("NAME=Alpine\nVERSION_ID=3.20.1\n", "Alpine 3.20.1"),
        ("# comment\nNAME='Arch Linux'\n", "Arch Linux"),
        ('PRETTY_NAME=""\nNAME="Fedora Linux"\nVERSION_ID=40\n', "Fedora Linux 40"),
        ('PRETTY_NAME="Ubuntu \\"Noble\\" 24.04"\n', 'Ubuntu "Noble" 24.04'),
        ("ID=debian\n", None),
        ("", None),
        ('PRETTY_NAME="unterminated\nNAME=Plain\n', "Plain"),
    ],
)  # fmt: skip
def test_os_release(text: str, name: str | None) -> None:
    assert parse_os_release(text) == name


def test_cpu_times_count_guest_once_and_idle_not_busy() -> None:
    fields = {"user": 10.0, "nice": 2.0, "system": 3.0, "idle": 80.0, "iowait": 5.0, "irq": 1.0,
              "softirq": 1.0, "steal": 0.0, "guest": 4.0, "guest_nice": 1.0}  # fmt: skip
    # guest (4) is inside user and guest_nice (1) inside nice: the total leaves them out
    assert cpu_times(fields) == CpuTimes(busy=17.0, total=102.0)


def test_cpu_percent_docker_scale() -> None:
    before = CpuTimes(busy=100.0, total=400.0)
    assert cpu_percent(before, CpuTimes(busy=150.0, total=500.0), cpus=4) == 200.0
    assert cpu_percent(before, CpuTimes(busy=200.0, total=500.0), cpus=4) == 400.0
    assert cpu_percent(before, CpuTimes(busy=100.0, total=500.0), cpus=4) == 0.0


def test_idle_interval_is_zero_not_a_gap() -> None:
    """Only idle moved: busy (a difference of float sums) may come out a hair below 0."""
    fields = {"user": 28713.49, "nice": 1.71, "system": 23509.66, "idle": 24614.58,
              "iowait": 265.85, "irq": 222.15, "softirq": 242.74, "steal": 155.6, "guest": 0.0,
              "guest_nice": 0.0}  # fmt: skip
    before = cpu_times(fields)
    after = cpu_times({**fields, "idle": 24614.98})
    assert after.busy - before.busy < 0  # the float sums' rounding
    assert cpu_percent(before, after, cpus=2) == 0.0
    assert cpu_percent(before, CpuTimes(busy=99.0, total=before.total + 1), cpus=2) == 0.0


def test_cpu_percent_gaps() -> None:
    before = CpuTimes(busy=100.0, total=400.0)
    assert cpu_percent(before, before, cpus=2) is None  # no time passed
    assert cpu_percent(before, CpuTimes(busy=1.0, total=5.0), cpus=2) is None  # a new boot
    assert cpu_percent(before, CpuTimes(busy=150.0, total=500.0), cpus=0) is None


def _host(cpus: int | None, percent: float | None) -> HostSample:
    gaps = dict.fromkeys(("hostname", "kernel", "os", "boot_time", "load1", "load5", "load15",
                          "memory_total_bytes", "memory_available_bytes", "memory_used_bytes",
                          "swap_total_bytes", "swap_used_bytes", "swap_free_bytes"))  # fmt: skip
    return HostSample(taken_at=0.0, cpus=cpus, cpu_percent=percent, **gaps)


def test_cpu_fraction_is_percent_over_all_cores() -> None:
    assert _host(4, 150.0).cpu_fraction == 0.375
    assert _host(4, None).cpu_fraction is None
    assert _host(None, 150.0).cpu_fraction is None
