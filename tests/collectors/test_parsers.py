"""The parsers on the examples of the kernel's documentation (cgroup-v2.rst, proc(5))."""

from __future__ import annotations

import pytest

from watchdog_agent.collectors import parse_cgroup as pc
from watchdog_agent.collectors import parse_proc as pp
from watchdog_agent.collectors.rates import derive
from watchdog_agent.errors import ParseError
from watchdog_agent.model import CgroupSample, IoDevice, PsiLine


def test_limits_distinguish_max_from_numbers() -> None:
    assert pc.parse_limit(b"max\n") is None
    assert pc.parse_limit(b"536870912\n") == 536870912
    assert pc.parse_limit(b"0\n") == 0  # zero is a limit, not "unlimited"
    with pytest.raises(ParseError):
        pc.parse_limit(b"")


def test_v1_limit_treats_page_counter_max_as_unlimited() -> None:
    assert pc.parse_v1_limit(b"9223372036854771712\n") is None
    assert pc.parse_v1_limit(b"134217728\n") == 134217728
    assert pc.parse_v1_limit(b"max\n") is None  # v1 pids.max
    assert pc.parse_v1_quota(b"-1\n") is None
    assert pc.parse_v1_quota(b"50000\n") == 50000


def test_cpu_max() -> None:
    assert pc.parse_cpu_max(b"max 100000\n") == (None, 100000)
    assert pc.parse_cpu_max(b"150000 100000\n") == (150000, 100000)
    with pytest.raises(ParseError):
        pc.parse_cpu_max(b"150000\n")


def test_flat_keyed_by_key_with_unknown_keys_kept() -> None:
    data = b"usage_usec 8453219\nuser_usec 6120044\nsystem_usec 2333175\nnr_bursts 0\n"
    assert pc.parse_flat_keyed(data) == {
        "usage_usec": 8453219,
        "user_usec": 6120044,
        "system_usec": 2333175,
        "nr_bursts": 0,
    }
    with pytest.raises(ParseError):
        pc.parse_flat_keyed(b"usage_usec\n")


def test_pressure_with_and_without_full_line() -> None:
    both = pc.parse_pressure(
        b"some avg10=0.12 avg60=0.05 avg300=0.01 total=1843221\n"
        b"full avg10=0.00 avg60=0.00 avg300=0.00 total=40122\n"
    )
    assert both.some == PsiLine(0.12, 0.05, 0.01, 1843221)
    assert both.full == PsiLine(0.0, 0.0, 0.0, 40122)
    old_cpu = pc.parse_pressure(b"some avg10=1.50 avg60=0.50 avg300=0.10 total=99\n")
    assert old_cpu.full is None and old_cpu.some is not None


def test_io_stat_generic_keys() -> None:
    data = (
        b"259:0 rbytes=24576000 wbytes=1048576 rios=600 wios=256 dbytes=0 dios=0\n"
        b"8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0 cost.usage=5\n"
    )
    assert pc.parse_io_stat(data) == (
        IoDevice(259, 0, 24576000, 1048576, 600, 256),
        IoDevice(8, 16, 1459200, 314773504, 192, 353),
    )


def test_io_stat_without_byte_counts_has_gaps_and_so_has_the_total() -> None:
    """A line that does not say rbytes (no kernel writes one): None, not 0, and the
    container's total of that direction is unknown too."""
    (dev,) = pc.parse_io_stat(b"8:16 wbytes=512 wios=1\n")
    assert dev == IoDevice(8, 16, None, 512, None, 1)
    sample = CgroupSample("c", monotonic=1.0, wall=1.0, io=(dev, IoDevice(8, 0, 7, 9)))
    stats = derive(None, sample)
    assert (stats.blk_read_bytes, stats.blk_write_bytes) == (None, 521)


def test_blkio_v1_read_write_only() -> None:
    data = (
        b"8:0 Read 24576000\n8:0 Write 1048576\n8:0 Sync 1048576\n8:0 Async 24576000\n"
        b"8:0 Discard 0\n8:0 Total 25624576\nTotal 25624576\n"
    )
    ops = pc.parse_blkio_ops(data)
    assert pc.blkio_devices(ops) == (IoDevice(8, 0, 24576000, 1048576, None, None),)


def test_pid_list_skips_zero() -> None:
    assert pc.parse_pid_list(b"48213\n0\n48290\n") == (48213, 48290)


def test_pid_stat_comm_with_spaces_and_parens() -> None:
    line = (
        b"48213 (my (odd) name) S 48190 48213 48213 0 -1 4194560 812 0 0 0 25 11 0 0 20 0 "
        b"3 0 1234567 11046912 1410 18446744073709551615 1 1 0 0\n"
    )
    st = pp.parse_pid_stat(line)
    assert (st.pid, st.comm, st.state, st.ppid) == (48213, "my (odd) name", "S", 48190)
    assert (st.utime_ticks, st.stime_ticks, st.num_threads) == (25, 11, 3)
    assert (st.starttime_ticks, st.rss_pages) == (1234567, 1410)


def test_pid_status_namespaces() -> None:
    data = (
        b"Name:\tnginx\nState:\tS (sleeping)\nTgid:\t48213\nPid:\t48213\nPPid:\t48190\n"
        b"Uid:\t101\t101\t101\t101\nVmRSS:\t    5640 kB\nThreads:\t2\n"
        b"NStgid:\t48213\t1\nNSpid:\t48213\t1\n"
    )
    st = pp.parse_pid_status(data)
    assert st.ns_pids == (48213, 1)
    assert (st.uid, st.ppid, st.threads, st.vm_rss_bytes) == (101, 48190, 2, 5640 * 1024)
    kthread = pp.parse_pid_status(b"Name:\tkthreadd\nState:\tS (sleeping)\nNSpid:\t2\n")
    assert kthread.vm_rss_bytes is None and kthread.ns_pids == (2,)


def test_net_dev() -> None:
    data = (
        b"Inter-|   Receive                                                |  Transmit\n"
        b" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets"
        b" errs drop fifo colls carrier compressed\n"
        b"    lo:       0       0    0    0    0     0          0         0        0       0"
        b"    0    0    0     0       0          0\n"
        b"  eth0: 1843221    2114    0    0    0     0          0         0   402113    1880"
        b"    0    0    0     0       0          0\n"
    )
    lo, eth0 = pp.parse_net_dev(data)
    assert lo.name == "lo" and lo.rx_bytes == 0
    assert (eth0.rx_bytes, eth0.rx_packets, eth0.tx_bytes, eth0.tx_packets) == (
        1843221,
        2114,
        402113,
        1880,
    )


def test_proc_stat_counts_first_seven_fields_and_cpus() -> None:
    data = (
        b"cpu  10 1 5 100 2 0 3 7 0 0\ncpu0 5 0 2 50 1 0 1 3 0 0\ncpu1 5 1 3 50 1 0 2 4 0 0\n"
        b"intr 1 2\nbtime 1700000000\n"
    )
    cpu = pp.parse_proc_stat(data)
    assert cpu.total_ticks == 10 + 1 + 5 + 100 + 2 + 0 + 3  # steal (7) left out, as docker
    assert cpu.online_cpus == 2
    assert cpu.btime == 1700000000


def test_pid_cgroup_v1_hybrid_and_deleted() -> None:
    data = (
        b"12:pids:/watchdog-test/abc\n4:cpu,cpuacct:/watchdog-test/abc\n"
        b"1:name=systemd:/watchdog-test/abc\n0::/watchdog-test/abc (deleted)\n"
    )
    lines = pp.parse_pid_cgroup(data)
    assert lines[1].controllers == ("cpu", "cpuacct")
    assert lines[3] == pp.CgroupLine(0, (), "/watchdog-test/abc")


def test_cmdline() -> None:
    assert pp.parse_cmdline(b"sh\0-c\0sleep 1\0") == ("sh", "-c", "sleep 1")
    assert pp.parse_cmdline(b"") == ()
