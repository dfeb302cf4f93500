"""rows.py: a snapshot document into rows, rates from consecutive documents (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from watchdog_agent.tui.rows import BadDocument, read_document
from watchdog_agent.wire.tojson import rfc3339

T0 = 1_800_000_000.0
CID = "a" * 64


def container(at: float, **stats: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": CID, "name": "web", "image": "nginx:1", "state": "running",
        "labels": {"app": "web"}, "started_at": rfc3339(T0 - 100), "restart_count": 2,
        "exit_code": 0, "oom_killed": False,
        "limits": {"memory_bytes": None, "cpus": 0.5, "pids": 100},
        "stats": {
            "cpu_percent": 49.5, "cpu_throttled_percent": 12.5, "memory_usage_bytes": 1000,
            "memory_limit_bytes": 4000, "memory_percent": 25.0, "pids": 3, "pids_limit": 100,
            "net_rx_bytes": 1000, "net_tx_bytes": 2000, "blk_read_bytes": 0,
            "blk_write_bytes": 4096, "sampled_at": rfc3339(at),
            "psi": {"cpu": {"some": {"avg10": 7.5, "avg60": 1.0, "avg300": 0.5, "total": 9}}},
        },
    }  # fmt: skip
    base["stats"].update(stats)
    return base


def doc(*containers: dict[str, Any], at: float = T0) -> dict[str, Any]:
    return {
        "sampled_at": rfc3339(at), "interval_seconds": 1.0, "containers": list(containers),
        "host": {"hostname": "box"}, "daemon": {"up": True}, "agent": {"open_fds": 9},
    }  # fmt: skip


def test_first_document_has_values_but_no_rates() -> None:
    r = read_document("http://a:1", doc(container(T0)), {})
    row = r.rows[CID]
    assert (row.host, row.name, row.image, row.state) == ("http://a:1", "web", "nginx:1", "running")
    assert row.cpu_percent == 49.5 and row.cpu_limit == 0.5
    assert row.memory_usage_bytes == 1000 and row.memory_limit_bytes == 4000
    assert row.psi_cpu_some_avg10 == 7.5 and row.throttled_percent == 12.5
    assert row.restart_count == 2 and row.pids == 3 and row.pids_limit == 100
    assert row.finished_exit_code is None  # running: no exit code to show
    assert row.started_at == pytest.approx(T0 - 100)
    assert row.labels == {"app": "web"}
    assert (row.net_rx_rate, row.net_tx_rate, row.blk_read_rate, row.blk_write_rate) == (
        None, None, None, None,
    )  # fmt: skip
    assert r.hostname == "box" and r.interval == 1.0 and r.sampled_at == pytest.approx(T0)
    assert r.daemon == {"up": True} and r.agent == {"open_fds": 9}


def test_rates_from_the_previous_counters_over_the_containers_own_times() -> None:
    first = read_document("h", doc(container(T0)), {})
    later = container(T0 + 2, net_rx_bytes=3000, net_tx_bytes=2000, blk_read_bytes=8192,
                      blk_write_bytes=4096)  # fmt: skip
    row = read_document("h", doc(later, at=T0 + 2), first.counters).rows[CID]
    assert row.net_rx_rate == pytest.approx(1000.0)
    assert row.net_tx_rate == 0.0  # no traffic is a real 0
    assert row.blk_read_rate == pytest.approx(4096.0)
    assert row.blk_write_rate == 0.0


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"net_rx_bytes": 10}, "a counter went backwards"),
        ({"net_rx_bytes": None}, "a counter is absent"),
        ({"sampled_at": rfc3339(T0)}, "the time did not advance"),
        ({"sampled_at": None}, "no time"),
    ],
)
def test_a_meaningless_difference_is_a_gap(change: dict[str, Any], why: str) -> None:
    first = read_document("h", doc(container(T0)), {})
    row = read_document("h", doc(container(T0 + 1, **change)), first.counters).rows[CID]
    assert row.net_rx_rate is None, why


def test_a_restart_between_documents_gives_gaps_not_spikes() -> None:
    first = read_document("h", doc(container(T0, net_rx_bytes=10)), {})
    again = container(T0 + 1, net_rx_bytes=50_000)
    again["started_at"] = rfc3339(T0 + 0.5)
    row = read_document("h", doc(again), first.counters).rows[CID]
    assert row.net_rx_rate is None and row.blk_write_rate is None


def test_stopped_container_shows_its_exit_code_and_no_numbers() -> None:
    dead = container(T0)
    dead.update(state="exited", exit_code=137, oom_killed=True, stats=None)
    row = read_document("h", doc(dead), {}).rows[CID]
    assert row.finished_exit_code == 137 and row.oom_killed is True
    assert row.cpu_percent is None and row.memory_usage_bytes is None and row.pids is None
    assert row.cpu_limit == 0.5  # from the container's limits, stats or not
    assert row.pids_limit == 100


def test_missing_and_mistyped_fields_are_gaps() -> None:
    odd = {"id": CID, "stats": {"cpu_percent": "50", "pids": True, "psi": {"cpu": None}},
           "limits": "none"}  # fmt: skip
    r = read_document("h", {"containers": [odd]}, {})
    row = r.rows[CID]
    assert row.cpu_percent is None and row.pids is None and row.psi_cpu_some_avg10 is None
    assert row.name is None and row.state is None and row.cpu_limit is None
    assert r.hostname is None and r.host is None and r.sampled_at is None


@pytest.mark.parametrize(
    "bad", [[], "x", {"containers": None}, {"containers": [{"name": "no id"}]}, {"containers": [1]}]
)
def test_not_a_snapshot(bad: Any) -> None:
    with pytest.raises(BadDocument):
        read_document("h", bad, {})
