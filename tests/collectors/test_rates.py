"""docker stats semantics on hand-made samples; counters going down never give a rate."""

from __future__ import annotations

from watchdog_agent.collectors.rates import cpu_percent, derive, docker_memory_usage
from watchdog_agent.model import CgroupSample, NetInterface

BASE = CgroupSample(
    container_id="c" * 64,
    monotonic=100.0,
    wall=1700000000.0,
    cpu_usage_ns=10_000_000_000,
    system_cpu_ns=1_000_000_000_000,
    online_cpus=4,
)


def test_cpu_percent_is_docker_formula() -> None:
    # 0.5 s of container CPU while the host (4 CPUs) accrued 4 s: half a core = 50 %
    later = BASE._replace(cpu_usage_ns=10_500_000_000, system_cpu_ns=1_004_000_000_000)
    assert cpu_percent(BASE, later) == 50.0


def test_idle_is_zero_but_first_sample_is_a_gap() -> None:
    later = BASE._replace(system_cpu_ns=1_004_000_000_000)
    assert cpu_percent(BASE, later) == 0.0
    assert cpu_percent(None, BASE) is None


def test_counter_reset_gives_no_rate() -> None:
    restarted = BASE._replace(cpu_usage_ns=1_000, system_cpu_ns=1_004_000_000_000)
    assert cpu_percent(BASE, restarted) is None
    assert derive(BASE, restarted).cpu_percent is None


def test_no_host_progress_gives_no_rate() -> None:
    assert BASE.cpu_usage_ns is not None
    assert cpu_percent(BASE, BASE._replace(cpu_usage_ns=BASE.cpu_usage_ns + 5)) is None


def test_memory_usage_subtracts_inactive_file() -> None:
    s = BASE._replace(memory_usage_bytes=1000, memory_inactive_file_bytes=300)
    assert docker_memory_usage(s) == 700
    s = BASE._replace(memory_usage_bytes=1000, memory_inactive_file_bytes=3000)
    assert docker_memory_usage(s) == 1000
    assert docker_memory_usage(BASE) is None


def test_unlimited_memory_has_no_percent_and_null_limit() -> None:
    stats = derive(None, BASE._replace(memory_usage_bytes=1000, memory_limit_bytes=None))
    assert stats.memory_limit_bytes is None
    assert stats.memory_percent is None
    limited = derive(None, BASE._replace(memory_usage_bytes=1000, memory_limit_bytes=4000))
    assert limited.memory_percent == 25.0


def test_network_totals_leave_out_lo() -> None:
    net = (
        NetInterface("lo", 500, 5, 0, 0, 500, 5, 0, 0),
        NetInterface("eth0", 100, 1, 0, 0, 40, 1, 0, 0),
    )
    stats = derive(None, BASE._replace(net=net))
    assert (stats.net_rx_bytes, stats.net_tx_bytes) == (100, 40)
    assert derive(None, BASE).net_rx_bytes is None  # unknown, not zero


def test_throttled_percent() -> None:
    a = BASE._replace(cpu_periods=100, cpu_throttled_periods=10)
    b = BASE._replace(cpu_periods=110, cpu_throttled_periods=15)
    assert derive(a, b).cpu_throttled_percent == 50.0
    assert derive(b, a).cpu_throttled_percent is None
