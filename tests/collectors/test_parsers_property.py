"""Every parser, fed arbitrary bytes, returns a value or raises ParseError: nothing else."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.collectors import parse_cgroup as pc
from watchdog_agent.collectors import parse_proc as pp
from watchdog_agent.errors import ParseError

PARSERS: dict[str, Callable[[bytes], Any]] = {
    "parse_int": pc.parse_int,
    "parse_limit": pc.parse_limit,
    "parse_v1_limit": pc.parse_v1_limit,
    "parse_int_list": pc.parse_int_list,
    "parse_pid_list": pc.parse_pid_list,
    "parse_flat_keyed": pc.parse_flat_keyed,
    "parse_key": lambda data: pc.parse_key(data, b"usage_usec"),
    "parse_cpu_max": pc.parse_cpu_max,
    "parse_v1_quota": pc.parse_v1_quota,
    "parse_pressure": pc.parse_pressure,
    "parse_io_stat": pc.parse_io_stat,
    "parse_blkio_ops": pc.parse_blkio_ops,
    "parse_pid_stat": pp.parse_pid_stat,
    "parse_pid_status": pp.parse_pid_status,
    "parse_cmdline": pp.parse_cmdline,
    "parse_net_dev": pp.parse_net_dev,
    "parse_proc_stat": pp.parse_proc_stat,
    "parse_pid_cgroup": pp.parse_pid_cgroup,
}

# Valid samples to mutate, so the search also reaches the deeper branches.
SEEDS = [
    b"157286400\n",
    b"max\n",
    b"50000 100000\n",
    b"usage_usec 8453219\nuser_usec 6120044\nsystem_usec 2333175\n",
    b"some avg10=0.12 avg60=0.05 avg300=0.01 total=1843221\n"
    b"full avg10=0.00 avg60=0.00 avg300=0.00 total=40122\n",
    b"259:0 rbytes=24576000 wbytes=1048576 rios=600 wios=256 dbytes=0 dios=0\n",
    b"8:0 Read 24576000\n8:0 Write 1048576\nTotal 25624576\n",
    b"48213 (ng inx)) S 48190 48213 48213 0 -1 4194560 812 0 0 0 25 11 0 0 20 0 1 0 "
    b"1234567 11046912 1410 18446744073709551615\n",
    b"Name:\tnginx\nState:\tS (sleeping)\nPPid:\t1\nUid:\t0\t0\t0\t0\nVmRSS:\t  5640 kB\n"
    b"Threads:\t1\nNStgid:\t48213\t1\nNSpid:\t48213\t1\n",
    b"Inter-|   Receive\n face |bytes\n    lo: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n",
    b"cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nbtime 1700000000\n",
    b"12:pids:/watchdog-test/abc\n0::/watchdog-test/abc\n",
    b"sh\0-c\0sleep 1\0",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    seed = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        if not seed:
            break
        i = draw(st.integers(0, len(seed) - 1))
        op = draw(st.sampled_from(("flip", "cut", "insert")))
        if op == "flip":
            seed[i] = draw(st.integers(0, 255))
        elif op == "cut":
            del seed[i : i + draw(st.integers(1, 8))]
        else:
            seed[i:i] = draw(st.binary(max_size=8))
    return bytes(seed)


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=300, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), mutated()))
def test_parser_returns_or_raises_parse_error(name: str, data: bytes) -> None:
    with contextlib.suppress(ParseError):  # any other exception fails the test
        PARSERS[name](data)


def test_every_public_parser_is_covered() -> None:
    public = {n for mod in (pc, pp) for n in dir(mod) if n.startswith("parse_")}
    assert public == set(PARSERS)
