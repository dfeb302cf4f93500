"""/metrics: the metric table over Snapshots of the fixture trees, and the per-Snapshot
cache (the formats and the byte-for-byte check against prometheus_client are in
test_exposition.py)."""

from __future__ import annotations

import builtins
import gc
import os
import weakref
from typing import Any

import pytest
from helpers.exporting import (
    LAYOUTS,
    TREES,
    Series,
    exporter,
    parse,
    sample_tree,
    tricky_events,
)
from prometheus_client import generate_latest

from watchdog_agent.exporter.cache import MetricsCache
from watchdog_agent.exporter.exposition import Format
from watchdog_agent.exporter.getters import cpu_weight_to_shares
from watchdog_agent.exporter.table import HOST_TABLE, PROCESS_TABLE, container_table, label_name
from watchdog_agent.model import CgroupMode, CgroupSample, ContainerStats, Snapshot

# cAdvisor's names (its lib/metrics/prometheus.go) that this exporter serves, with their types
CADVISOR = {
    "container_cpu_usage_seconds_total": "counter",
    "container_cpu_user_seconds_total": "counter",
    "container_cpu_system_seconds_total": "counter",
    "container_cpu_cfs_periods_total": "counter",
    "container_cpu_cfs_throttled_periods_total": "counter",
    "container_cpu_cfs_throttled_seconds_total": "counter",
    "container_memory_usage_bytes": "gauge",
    "container_memory_working_set_bytes": "gauge",
    "container_memory_rss": "gauge",
    "container_memory_cache": "gauge",
    "container_memory_swap": "gauge",
    "container_memory_mapped_file": "gauge",
    "container_memory_total_active_file_bytes": "gauge",
    "container_memory_total_inactive_file_bytes": "gauge",
    "container_memory_failcnt": "gauge",  # a counter in cAdvisor: see table.py
    "container_memory_max_usage_bytes": "gauge",
    "container_memory_failures_total": "counter",
    "container_oom_events_total": "counter",
    "container_spec_memory_limit_bytes": "gauge",
    "container_spec_cpu_quota": "gauge",
    "container_spec_cpu_period": "gauge",
    "container_spec_cpu_shares": "gauge",
    **{
        f"container_network_{d}_{what}_total": "counter"
        for d in ("receive", "transmit")
        for what in ("bytes", "packets", "packets_dropped", "errors")
    },
    "container_blkio_device_usage_total": "counter",
    "container_fs_reads_bytes_total": "counter",
    "container_fs_writes_bytes_total": "counter",
    "container_fs_reads_total": "counter",
    "container_fs_writes_total": "counter",
    "container_threads": "gauge",
    "container_threads_max": "gauge",
    **{
        f"container_pressure_{r}_{k}_seconds_total": "counter"
        for r in ("cpu", "memory", "io")
        for k in ("waiting", "stalled")
    },
    "container_start_time_seconds": "gauge",
    "container_last_seen": "gauge",
}


# ---------------------------------------------------------------------------- helpers


def of(series: Series, name: str, cid: str | None = None, **labels: str) -> dict[str, float]:
    """Values of ``name`` keyed by the non-base labels, for one container (by id)."""
    out = {}
    for (n, lab), v in series.items():
        d = dict(lab)
        if n != name or (cid is not None and d.get("id") != f"/docker/{cid}"):
            continue
        if any(d.get(k) != want for k, want in labels.items()):
            continue
        extra = ",".join(f"{k}={d[k]}" for k in sorted(d) if k not in ("id", "name", "image"))
        out[extra] = v
    return out


def one(series: Series, name: str, cid: str, **labels: str) -> float | None:
    values = of(series, name, cid, **labels)
    assert len(values) <= 1, values
    return next(iter(values.values()), None)


def bare_stats(cid: str, **fields: Any) -> ContainerStats:
    sample = CgroupSample(cid, 1.0, 1_700_000_100.0, **fields)
    return ContainerStats(id=cid, sampled_at=sample.wall, sample=sample)


def snapshot_of(*stats: ContainerStats, mode: CgroupMode = CgroupMode.V2) -> Snapshot:
    return Snapshot(taken_at=1_700_000_100.0, mode=mode, containers={s.id: s for s in stats})


# ---------------------------------------------------------------------------- the table


def test_names_and_types_are_cadvisors() -> None:
    table = {s.name: s.type for s in container_table(CgroupMode.V2)}
    container = {n: t for n, t in table.items() if n.startswith("container_")}
    assert container == CADVISOR
    assert all(n.startswith("watchdog_") for n in set(table) - set(container))
    assert all(n.endswith("_total") for n, t in table.items() if t == "counter")
    assert not any(n.endswith("_total") for n, t in table.items() if t == "gauge")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_values_match_the_sample(layout: str) -> None:
    snapshot, refs, expected = sample_tree(TREES / layout)
    series = parse(exporter(snapshot, refs)[0].render(Format.TEXT))
    assert set(snapshot.containers) == set(expected)
    for cid, want in expected.items():
        s = snapshot.containers[cid].sample
        assert one(series, "container_cpu_usage_seconds_total", cid, cpu="total") == (
            want["cpu_usage_ns"] / 1e9
        )
        assert one(series, "container_cpu_user_seconds_total", cid) == want["cpu_user_ns"] / 1e9
        assert one(series, "container_memory_usage_bytes", cid) == want["memory_usage_bytes"]
        working_set = one(series, "container_memory_working_set_bytes", cid)
        assert working_set == want["docker_memory_usage_bytes"]
        assert one(series, "container_memory_rss", cid) == want["memory_rss_bytes"]
        assert one(series, "container_memory_cache", cid) == want["memory_cache_bytes"]
        limit = want["memory_limit_bytes"]
        assert one(series, "container_spec_memory_limit_bytes", cid) == (limit or 0)
        assert one(series, "container_spec_cpu_quota", cid) == want["cpu_quota_us"]
        assert one(series, "container_threads", cid) == want["pids_current"]
        assert one(series, "container_threads_max", cid) == (want["pids_limit"] or 0)
        assert one(series, "container_oom_events_total", cid) == want["oom_kills"]
        psi = want["psi_cpu_some_total_usec"]
        waiting = one(series, "container_pressure_cpu_waiting_seconds_total", cid)
        assert waiting == (None if psi is None else psi / 1e6)
        if s.psi_io is not None and s.psi_io.full is not None:
            assert one(series, "container_pressure_io_stalled_seconds_total", cid) == (
                s.psi_io.full.total_usec / 1e6
            )
        reads = of(series, "container_fs_reads_bytes_total", cid)
        blkio = of(series, "container_blkio_device_usage_total", cid, operation="Read")
        if want["blk_read_bytes"] is None:
            assert reads == {} and blkio == {}
        else:
            assert sum(reads.values()) == sum(blkio.values()) == want["blk_read_bytes"]
        ifaces = of(series, "container_network_receive_bytes_total", cid)
        outside = [f"interface={i}" for i in want["net_interfaces"] if i != "lo"]
        assert sorted(ifaces) == sorted(outside)
        assert one(series, "container_start_time_seconds", cid) == refs[cid].started_at
        assert one(series, "container_last_seen", cid) == s.wall


def test_base_labels_on_every_container_series() -> None:
    snapshot, refs, _ = sample_tree(TREES / "systemd")
    series = parse(exporter(snapshot, refs)[0].render(Format.TEXT))
    for (name, labels), _v in series.items():
        if not name.startswith("container_"):
            continue
        d = dict(labels)
        cid = d["id"].removeprefix("/docker/")
        assert cid in snapshot.containers, d
        assert (d["name"], d["image"]) == (refs[cid].name, "nginx:1.27")
        assert not any(k.startswith("label_") or k.startswith("container_label") for k in d)


def test_unknown_name_and_image_are_empty_labels() -> None:
    snapshot, _, _ = sample_tree(TREES / "unlimited", named=False)
    series = parse(exporter(snapshot)[0].render(Format.TEXT))
    cid = next(iter(snapshot.containers))
    labels = next(dict(k[1]) for k in series if k[0] == "container_memory_usage_bytes")
    assert labels == {"id": f"/docker/{cid}", "name": "", "image": ""}
    assert of(series, "container_start_time_seconds") == {}  # no ref, no start time


def test_memory_failures_from_memory_stat() -> None:
    snapshot, refs, _ = sample_tree(TREES / "systemd")
    series = parse(exporter(snapshot, refs)[0].render(Format.TEXT))
    assert snapshot.containers
    for cid in snapshot.containers:
        got = of(series, "container_memory_failures_total", cid)
        (path,) = (TREES / "systemd" / "cgroup").glob(f"**/*{cid}*/memory.stat")
        stat = dict(line.split() for line in path.read_text().splitlines())
        assert got == {
            "failure_type=pgfault,scope=container": int(stat["pgfault"]),
            "failure_type=pgmajfault,scope=container": int(stat["pgmajfault"]),
        }


def test_none_values_give_no_series_never_zero() -> None:
    """A field that could not be read is a gap: no series, not a 0 sample."""
    bare = bare_stats("a" * 64)
    series = parse(exporter(snapshot_of(bare))[0].render(Format.TEXT))
    names = {n for n, _ in series if n.startswith("container_")}
    assert names == {"container_last_seen"}
    # the missing layout has no io.stat and no PSI files
    snapshot, refs, _ = sample_tree(TREES / "missing")
    series = parse(exporter(snapshot, refs)[0].render(Format.TEXT))
    names = {n for n, _ in series}
    assert not any(n.startswith(("container_fs_", "container_blkio_")) for n in names)
    assert not any(n.startswith("container_pressure_") for n in names)
    assert "container_cpu_usage_seconds_total" in names


def test_unlimited_is_zero_only_when_the_controller_answers() -> None:
    unlimited = bare_stats("b" * 64, memory_usage_bytes=10, pids_current=3)
    unknown = bare_stats("c" * 64)
    series = parse(exporter(snapshot_of(unlimited, unknown))[0].render(Format.TEXT))
    assert one(series, "container_spec_memory_limit_bytes", "b" * 64) == 0
    assert one(series, "container_threads_max", "b" * 64) == 0
    assert one(series, "container_spec_memory_limit_bytes", "c" * 64) is None
    assert one(series, "container_threads_max", "c" * 64) is None


@pytest.mark.parametrize(
    ("mode", "weight", "shares"),
    [(CgroupMode.V2, 100, 2597), (CgroupMode.V2, 39, 998), (CgroupMode.V2, 1, 2),
     (CgroupMode.V2, 10_000, 262_144), (CgroupMode.HYBRID, 1024, 1024),
     (CgroupMode.V1, 512, 512)],
)  # fmt: skip
def test_cpu_shares_follow_cadvisor(mode: CgroupMode, weight: int, shares: int) -> None:
    stats = bare_stats("d" * 64, cpu_weight=weight)
    series = parse(exporter(snapshot_of(stats, mode=mode))[0].render(Format.TEXT))
    assert one(series, "container_spec_cpu_shares", "d" * 64) == shares
    assert cpu_weight_to_shares(0) is None


def test_info_series_carries_allow_listed_labels_only() -> None:
    snapshot, refs, _ = sample_tree(TREES / "systemd")
    series = parse(exporter(snapshot, refs)[0].render(Format.TEXT))
    info = [dict(k[1]) for k in series if k[0] == "watchdog_container_info"]
    assert len(info) == len(snapshot.containers)
    for labels in info:
        cid = labels["id"].removeprefix("/docker/")
        assert labels == {
            "id": f"/docker/{cid}", "name": refs[cid].name, "image": "nginx:1.27",
            "label_com_docker_compose_project": "shop",
            "label_org_opencontainers_image_title": "",
        }  # fmt: skip
    assert label_name("a.b-c/d") == "label_a_b_c_d"
    with pytest.raises(ValueError, match="collide"):
        MetricsCache(label_allowlist=["a.b", "a_b"])


# ---------------------------------------------------------------------------- cache


def test_rendered_once_per_snapshot() -> None:
    snapshot, refs, _ = sample_tree(TREES / "cgroupfs")
    served, _ = exporter(snapshot, refs)
    first = served.cache.render(snapshot, Format.TEXT)
    assert served.cache.render(snapshot, Format.TEXT) is first
    served.render(Format.TEXT)
    served.render(Format.OPENMETRICS)
    assert served.cache.renders == 1


def test_rendering_does_not_keep_its_snapshot() -> None:
    """The cache keeps the rendered bytes once; the Snapshot itself is released when the
    store replaces it, and its rendering still serves scrapes until the next one."""
    snapshot, refs, _ = sample_tree(TREES / "systemd")
    served, registry = exporter(snapshot, refs)
    expected = served.render(Format.TEXT)
    assert expected == generate_latest(registry)
    om = served.render(Format.OPENMETRICS)
    cache = served.cache
    alive = weakref.ref(snapshot)
    served.latest = lambda: None
    del snapshot
    gc.collect()
    assert alive() is None
    assert cache.last(Format.TEXT)[0] is cache.last(Format.TEXT)[0]  # stored once, not copied
    assert served.scrape.render(Format.TEXT) == expected
    assert served.scrape.render(Format.OPENMETRICS) == om


def test_removed_container_series_disappear_next_snapshot() -> None:
    root = TREES / "systemd"
    before, refs, _ = sample_tree(root)
    gone = sorted(before.containers)[0]
    after, _, _ = sample_tree(root, skip=[gone])
    current = [before]
    served, _ = exporter(None, refs)
    served.latest = lambda: current[0]
    assert f"/docker/{gone}".encode() in served.render(Format.TEXT)
    current[0] = after
    body = served.render(Format.TEXT)
    assert gone.encode() not in body
    assert sorted(after.containers)[0].encode() in body
    assert served.cache.renders == 2


def test_scrape_does_no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot, refs, _ = sample_tree(TREES / "systemd")
    served, registry = exporter(snapshot, refs, events=tricky_events)

    def no_io(*args: object, **kw: object) -> None:
        raise AssertionError("I/O during a scrape")

    monkeypatch.setattr(builtins, "open", no_io)
    monkeypatch.setattr(os, "open", no_io)
    monkeypatch.setattr(os, "read", no_io)
    assert served.render(Format.TEXT) == generate_latest(registry)


def test_no_snapshot_yet_serves_agent_metrics() -> None:
    served, registry = exporter(None)
    body = served.render(Format.TEXT)
    assert body == generate_latest(registry)
    names = {n for n, _ in parse(body)}
    host = {s.name for s in (*HOST_TABLE, *PROCESS_TABLE)}  # known without a Snapshot
    assert names == {"watchdog_build_info", "watchdog_sampling_errors_total", *host}
