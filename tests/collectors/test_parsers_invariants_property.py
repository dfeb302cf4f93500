"""cgroup and /proc parsers beyond "does not crash" (test_parsers_property.py checks that):
what the kernel writes reads back exactly, in any key order, counters the kernel keeps
unsigned never come out negative, and a field the file lacks is a gap (None), not 0."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from helpers.fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.collectors import parse_cgroup as pc
from watchdog_agent.collectors import parse_proc as pp
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.errors import ParseError
from watchdog_agent.model import CgroupMode, IoDevice, PsiLine

u64 = st.integers(0, 2**64 - 1)
keys = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz_"), min_size=1, max_size=12)


@settings(max_examples=examples(30))
@given(st.dictionaries(keys, u64, max_size=8), st.booleans())
def test_flat_keyed_files_read_back_in_any_order(values: dict[str, int], trailing: bool) -> None:
    data = "".join(f"{k} {v}\n" for k, v in values.items()).encode()
    data = data if trailing or not data else data[:-1]
    assert pc.parse_flat_keyed(data) == values
    for key, value in values.items():
        assert pc.parse_key(data, key.encode()) == value
    assert pc.parse_key(data, b"absent_key_x") is None  # a gap, not 0


psi_lines = st.builds(
    PsiLine, *[st.integers(0, 10000).map(lambda v: v / 100)] * 3, st.integers(0, 2**63)
)


@settings(max_examples=examples(30))
@given(psi_lines, st.none() | psi_lines, st.booleans())
def test_pressure_reads_back_with_full_absent_as_a_gap(
    some: PsiLine, full: PsiLine | None, swap: bool
) -> None:
    def line(kind: str, p: PsiLine) -> str:
        return (f"{kind} avg10={p.avg10:.2f} avg60={p.avg60:.2f} avg300={p.avg300:.2f} "
                f"total={p.total_usec}\n")  # fmt: skip

    parts = [line("some", some)] + ([line("full", full)] if full else [])
    data = "".join(reversed(parts) if swap else parts).encode()
    got = pc.parse_pressure(data)
    assert (got.some, got.full) == (some, full)


devices = st.builds(IoDevice, st.integers(0, 4095), st.integers(0, 2**20), u64, u64, u64, u64)


@settings(max_examples=examples(30))
@given(st.lists(devices, max_size=4), st.booleans())
def test_io_stat_reads_back_and_extra_keys_are_ignored(devs: list[IoDevice], extra: bool) -> None:
    tail = " dbytes=0 dios=0" if extra else ""
    data = "".join(
        f"{d.major}:{d.minor} rbytes={d.read_bytes} wbytes={d.write_bytes} "
        f"rios={d.read_ios} wios={d.write_ios}{tail}\n"
        for d in devs
    ).encode()
    assert pc.parse_io_stat(data) == tuple(devs)


@settings(max_examples=examples(30))
@given(st.integers(0, 4095), st.integers(0, 255), u64, u64)
def test_io_stat_without_op_counts_has_gaps(major: int, minor: int, rb: int, wb: int) -> None:
    """An io.stat line without rios/wios: the counts are None, not 0."""
    (dev,) = pc.parse_io_stat(f"{major}:{minor} wbytes={wb} rbytes={rb}\n".encode())
    assert (dev.read_bytes, dev.write_bytes, dev.read_ios, dev.write_ios) == (rb, wb, None, None)


comms = st.text(st.sampled_from("ab) (x\t"), min_size=0, max_size=15)


@settings(max_examples=examples(30))
@given(st.integers(1, 2**22), comms, st.sampled_from("RSDZTI"),
       st.lists(st.integers(0, 2**40), min_size=50, max_size=50))  # fmt: skip
def test_pid_stat_reads_back_whatever_the_comm_holds(
    pid: int, comm: str, state: str, numbers: list[int]
) -> None:
    data = f"{pid} ({comm}) {state} " + " ".join(map(str, numbers)) + "\n"
    got = pp.parse_pid_stat(data.encode())
    assert (got.pid, got.comm, got.state, got.ppid) == (pid, comm, state, numbers[0])
    assert (got.utime_ticks, got.stime_ticks) == (numbers[10], numbers[11])
    assert (got.num_threads, got.starttime_ticks, got.rss_pages) == (
        numbers[16], numbers[18], numbers[20]
    )  # fmt: skip


status_fields = st.fixed_dictionaries(
    {"Name": st.text(st.sampled_from("ab c-"), max_size=8), "State": st.sampled_from("RSZ")},
    optional={"PPid": st.integers(0, 2**22), "Uid": st.integers(0, 2**32 - 1),
              "Threads": st.integers(1, 10**5), "VmRSS": st.integers(0, 2**40),
              "NStgid": st.lists(st.integers(1, 2**22), min_size=1, max_size=3)},
)  # fmt: skip


@settings(max_examples=examples(30))
@given(status_fields)
def test_pid_status_reads_back_and_a_missing_line_is_a_gap(fields: dict[str, Any]) -> None:
    lines = [f"Name:\t{fields['Name']}", f"State:\t{fields['State']} (x)"]
    if "PPid" in fields:
        lines.append(f"PPid:\t{fields['PPid']}")
    if "Uid" in fields:
        lines.append("Uid:\t" + "\t".join([str(fields["Uid"])] * 4))
    if "Threads" in fields:
        lines.append(f"Threads:\t{fields['Threads']}")
    if "VmRSS" in fields:
        lines.append(f"VmRSS:\t{fields['VmRSS']:>8} kB")
    if "NStgid" in fields:
        lines.append("NStgid:\t" + "\t".join(map(str, fields["NStgid"])))
    got = pp.parse_pid_status(("\n".join(lines) + "\n").encode())
    assert got.name == fields["Name"].strip() and got.state == fields["State"]
    assert got.ppid == fields.get("PPid")
    assert got.uid == fields.get("Uid")
    assert got.threads == fields.get("Threads")
    assert got.vm_rss_bytes == (fields["VmRSS"] * 1024 if "VmRSS" in fields else None)
    assert got.ns_pids == tuple(fields.get("NStgid", ()))


@settings(max_examples=examples(30))
@given(st.lists(st.text(st.characters(blacklist_characters="\0", codec="utf-8"), max_size=6),
                min_size=1, max_size=5))  # fmt: skip
def test_cmdline_reads_back_argv(argv: list[str]) -> None:
    data = b"\0".join(a.encode() for a in argv) + b"\0"
    got = pp.parse_cmdline(data)
    # trailing empty arguments are indistinguishable from the final NUL
    assert list(got) == argv[: max(1, len(argv) - _trailing_empty(argv))]


def _trailing_empty(argv: list[str]) -> int:
    n = 0
    for arg in reversed(argv):
        if arg:
            break
        n += 1
    return n


negatives = st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=6)


@settings(max_examples=examples(30))
@given(negatives)
def test_pid_lists_are_never_negative(pids: list[int]) -> None:
    data = "\n".join(map(str, pids)).encode()
    with contextlib.suppress(ParseError):
        got = pc.parse_pid_list(data)
        assert all(p > 0 for p in got)
        assert got == tuple(p for p in pids if p)


@settings(max_examples=examples(30))
@given(st.integers(-(2**63), 2**64))
def test_limits_are_positive_or_a_gap(value: int) -> None:
    data = f"{value}\n".encode()
    v1 = pc.parse_v1_limit(data)
    assert v1 is None or 0 <= v1 < pc.V1_UNLIMITED_FLOOR
    assert pc.parse_v1_limit(b"max\n") is None and pc.parse_limit(b"max\n") is None
    quota = pc.parse_v1_quota(data)
    assert quota is None or quota >= 0


@settings(max_examples=examples(30))
@given(st.lists(st.integers(0, 2**40), min_size=7, max_size=10), st.integers(0, 64),
       st.none() | st.integers(0, 2**33))  # fmt: skip
def test_proc_stat_reads_back_and_a_missing_btime_is_a_gap(
    cpu: list[int], cpus: int, btime: int | None
) -> None:
    lines = ["cpu  " + " ".join(map(str, cpu))]
    lines += [f"cpu{i} " + " ".join(map(str, cpu)) for i in range(cpus)]
    lines += ["intr 1 2 3", "ctxt 5"] + ([f"btime {btime}"] if btime is not None else [])
    got = pp.parse_proc_stat(("\n".join(lines) + "\n").encode())
    assert (got.total_ticks, got.online_cpus, got.btime) == (sum(cpu[:7]), cpus, btime)


@settings(max_examples=examples(30))
@given(st.lists(st.tuples(st.integers(0, 20), st.lists(st.sampled_from(["cpu", "memory", "pids",
       "name=systemd"]), max_size=2, unique=True), st.text(st.sampled_from("/ab-:."), max_size=10)),
       max_size=4))  # fmt: skip
def test_pid_cgroup_reads_back(lines: list[tuple[int, list[str], str]]) -> None:
    data = "".join(f"{h}:{','.join(c)}:/{p}\n" for h, c, p in lines).encode()
    got = pp.parse_pid_cgroup(data)
    assert [(g.hierarchy_id, list(g.controllers), g.path) for g in got] == [
        (h, c, f"/{p}") for h, c, p in lines
    ]


V2_TREE = str(Path(__file__).parent.parent / "fixtures" / "trees" / "cgroupfs")


@settings(max_examples=examples(30))
@given(st.lists(st.tuples(st.integers(0, 3), st.lists(st.sampled_from(["cpu", "memory", "pids",
       "name=systemd"]), max_size=2, unique=True), st.text(st.sampled_from("/ab-."), max_size=10)),
       max_size=4))  # fmt: skip
def test_a_v2_location_is_the_unified_line_under_the_root_or_a_gap(
    lines: list[tuple[int, list[str], str]],
) -> None:
    """From /proc/<pid>/cgroup text to a location: the ``0::`` line's path joined to the
    unified root; no such line, no location (None), never a guessed one."""
    layout = Layout(V2_TREE, CgroupMode.V2)
    data = "".join(f"{h}:{','.join(c)}:/{p}\n" for h, c, p in lines).encode()
    loc = layout.location_from_lines(pp.parse_pid_cgroup(data))
    unified = [p for h, c, p in lines if h == 0 and not c]
    if not unified:
        assert loc is None
    else:
        assert loc is not None and loc.unified == os.path.join(V2_TREE, unified[-1].lstrip("/"))
