"""wire/fromjson.py reads back what wire/tojson.py writes: a command that prints an agent's answer
as a table shows the cells it would show for the same values sampled here."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from watchdog_agent.commands.textfmt import stats_table, top_footer, top_table, top_tree
from watchdog_agent.model import (
    CgroupSample,
    ContainerStats,
    NetInterface,
    Pressure,
    ProcessInfo,
    PsiLine,
)
from watchdog_agent.server.documents import top_json
from watchdog_agent.wire.fromjson import (
    as_float,
    as_int,
    as_obj,
    as_str,
    parse_time,
    process_from_json,
    ref_from_json,
    stats_from_json,
    unreadable_from_json,
)
from watchdog_agent.wire.tojson import process_json, stats_json

FLOAT = st.floats(0, 1e7, allow_nan=False) | st.none()
INT = st.integers(0, 2**53) | st.none()
TIME = st.floats(1e9, 2e9, allow_nan=False)
TEXT = st.text(max_size=12)
LINE = st.builds(PsiLine, *[st.floats(0, 100, allow_nan=False)] * 3, st.integers(0, 2**60))
PRESSURE = st.builds(Pressure, LINE | st.none(), LINE | st.none()) | st.none()
NET = (
    st.lists(
        st.builds(NetInterface, TEXT, *[st.integers(0, 2**60)] * 8),
        max_size=3,
        unique_by=lambda i: i.name,
    ).map(tuple)
    | st.none()
)
FLOAT_FIELDS = ("cpu_percent", "cpu_usage_seconds_total", "cpu_throttled_seconds_total",
                "cpu_throttled_percent", "memory_percent")  # fmt: skip
INT_FIELDS = ("memory_usage_bytes", "memory_working_set_bytes", "memory_limit_bytes", "pids",
              "pids_limit", "net_rx_bytes", "net_tx_bytes", "blk_read_bytes",
              "blk_write_bytes")  # fmt: skip

# the raw sample's fields that the stats object carries in memory_stat
MEMORY_FIELDS = ("memory_usage_bytes", "memory_rss_bytes", "memory_cache_bytes",
                 "memory_active_file_bytes", "memory_inactive_file_bytes",
                 "memory_shmem_bytes", "memory_kernel_bytes")  # fmt: skip


@st.composite
def container_stats(draw: st.DrawFn) -> ContainerStats:
    cid = draw(st.text("0123456789abcdef", min_size=64, max_size=64))
    at = draw(TIME)
    sample = CgroupSample(
        cid, 0.0, at, psi_cpu=draw(PRESSURE), psi_memory=draw(PRESSURE), psi_io=draw(PRESSURE),
        net=draw(NET), memory_usage_bytes=draw(INT), memory_rss_bytes=draw(INT),
        memory_cache_bytes=draw(INT), memory_active_file_bytes=draw(INT),
        memory_inactive_file_bytes=draw(INT), memory_shmem_bytes=draw(INT),
        memory_kernel_bytes=draw(INT),
    )  # fmt: skip
    numbers: dict[str, Any] = {name: draw(FLOAT) for name in FLOAT_FIELDS}
    numbers.update({name: draw(INT) for name in INT_FIELDS})
    return ContainerStats(cid, at, sample, name=draw(TEXT | st.none()),
                          image=draw(TEXT | st.none()), **numbers)  # fmt: skip


def _wire(doc: Any) -> Any:
    """What a client gets: the document through JSON text."""
    return json.loads(json.dumps(doc))


@given(container_stats())
def test_stats_read_back_give_the_same_json_and_table(stats: ContainerStats) -> None:
    served = _wire(stats_json(stats))
    back = stats_from_json(served)
    assert _wire(stats_json(back)) == served
    assert stats_table([back]) == stats_table([stats])
    for name in MEMORY_FIELDS:  # the breakdown reads back into the raw sample
        assert getattr(back.sample, name) == getattr(stats.sample, name)


def test_stats_read_back_keep_gaps_as_gaps() -> None:
    """A stats object with nulls (a container that is not running): every cell a dash."""
    cid = "c" * 64
    empty = ContainerStats(cid, 1.8e9, CgroupSample(cid, 0.0, 1.8e9), name="web")
    back = stats_from_json(_wire(stats_json(empty)))
    assert back.cpu_percent is None and back.pids is None and back.sample.psi_cpu is None
    assert stats_table([back]).splitlines()[1].split() == [
        "cccccccccccc", "web", "-", "-", "/", "unlimited", "-", "-", "/", "-", "-", "/", "-",
        "-", "-", "-/-/-",
    ]  # fmt: skip
    broken = stats_from_json({"id": cid, "cpu_percent": "12", "pids": True, "psi": []})
    assert broken.cpu_percent is None and broken.pids is None and broken.sample.psi_io is None
    assert _wire(stats_json(back))["memory_stat"] == dict.fromkeys(
        ("current", "anon", "file", "active_file", "inactive_file", "shmem", "kernel")
    )
    odd = stats_from_json({"id": cid, "memory_stat": {"shmem": "8", "kernel": 1.5, "anon": 0}})
    assert odd.sample.memory_shmem_bytes is None and odd.sample.memory_kernel_bytes is None
    assert odd.sample.memory_rss_bytes == 0  # zero stays zero


@st.composite
def processes(draw: st.DrawFn, depth: int = 0) -> ProcessInfo:
    children = () if depth >= 2 else tuple(draw(st.lists(processes(depth + 1), max_size=2)))
    return ProcessInfo(
        pid=draw(st.integers(1, 2**22)),
        ppid=draw(st.integers(0, 2**22)),
        ns_pid=draw(st.integers(1, 2**22) | st.none()),
        ns_ppid=draw(st.integers(0, 2**22) | st.none()),
        user=draw(TEXT),
        uid=draw(st.integers(0, 2**32) | st.none()),
        state=draw(st.sampled_from("RSDZT")),
        threads=draw(st.integers(1, 1000)),
        cpu_seconds=draw(st.floats(0, 1e6, allow_nan=False)),
        cpu_percent=draw(st.floats(0, 800, allow_nan=False) | st.none()),
        rss_bytes=draw(INT),
        started_at=draw(TIME | st.none()),
        cmd=draw(st.text(max_size=30)),
        children=children,
    )


@given(processes())
def test_processes_read_back_give_the_same_json_and_tables(root: ProcessInfo) -> None:
    flat = _wire(process_json(root))
    tree = _wire(process_json(root, nested=True))
    assert _wire(process_json(process_from_json(flat))) == flat
    assert _wire(process_json(process_from_json(tree), nested=True)) == tree
    assert top_table([process_from_json(flat)]) == top_table([root])
    assert top_tree([process_from_json(tree)]) == top_tree([root])


def test_a_container_object_reads_back() -> None:
    doc = {
        "id": "a" * 64, "name": "web", "image": "busybox", "image_id": "sha256:1",
        "state": "exited", "labels": {"k": "v"}, "pid": None,
        "created": "2026-11-30T09:32:26.481464Z", "started_at": None, "tty": False,
        "restart_count": 2, "exit_code": 3, "oom_killed": True,
        "limits": {"memory_bytes": 1024, "cpus": 0.5, "pids": None}, "stats": None,
    }  # fmt: skip
    ref = ref_from_json(doc)
    assert (ref.name, ref.state, ref.exit_code, ref.oom_killed) == ("web", "exited", 3, True)
    assert ref.created == parse_time("2026-11-30T09:32:26.481464Z") == 1796031146.481464
    assert (ref.memory_limit_bytes, ref.cpu_limit, ref.pids_limit) == (1024, 0.5, None)
    assert ref.labels == {"k": "v"} and ref.started_at is None and ref.tty is False
    assert parse_time("yesterday") is None and parse_time(None) is None


def test_the_unreadable_count_reads_back_and_its_absence_stays_a_gap() -> None:
    """What the agent's document says reaches the footer; an agent that does not report
    the count (one from before it existed) gives "unknown", never 0."""
    ref = ref_from_json({"id": "b" * 64, "name": "web"})
    for count in (0, 1, 3):
        doc = _wire(top_json(ref, [], [], count))
        assert unreadable_from_json(doc) == count
    assert top_footer(2, 0) == "2 processes, 0 unreadable"
    assert top_footer(1, 3) == "1 process, 3 unreadable (exist but could not be read: not listed)"
    for odd in ({}, {"unreadable": None}, {"unreadable": "2"}, {"unreadable": True},
                {"unreadable": -1}):  # fmt: skip
        assert unreadable_from_json(odd) is None
    assert top_footer(2, None) == "2 processes, unreadable unknown (the agent does not report it)"


def test_typed_getters_take_only_their_json_type() -> None:
    # a bool is not a number (JSON true is not 1); anything of another type is a gap
    assert as_int(3) == 3 and as_int(True) is None and as_int(3.0) is None
    assert as_int("3") is None
    value = as_float(2)
    assert value == 2.0 and isinstance(value, float)
    assert as_float(False) is None and as_float("1.5") is None and as_float(None) is None
    assert as_str("x") == "x" and as_str(1) is None
    assert as_obj({"a": 1}) == {"a": 1} and as_obj([1]) == {} and as_obj(None) == {}
