"""/metrics: the metric table over Snapshots of the fixture trees, the per-Snapshot cache,
byte-for-byte equivalence with prometheus_client (the oracle in tests/helpers/oracle.py),
negotiation and promtool."""

from __future__ import annotations

import builtins
import gc
import itertools
import json
import os
import shutil
import subprocess
import weakref
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from helpers.oracle import Oracle
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as om_exposition
from prometheus_client.openmetrics import parser as om_parser
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.collectors.targets import discovered_targets
from watchdog_agent.exporter.cache import MetricsCache
from watchdog_agent.exporter.exposition import Format, header, negotiate
from watchdog_agent.exporter.getters import cpu_weight_to_shares
from watchdog_agent.exporter.scrape import EventCounts, Scrape
from watchdog_agent.exporter.states import InventoryMetrics
from watchdog_agent.exporter.table import container_table, label_name
from watchdog_agent.model import (
    CgroupMode,
    CgroupSample,
    ContainerRef,
    ContainerStats,
    Snapshot,
)

TREES = Path(__file__).parent.parent / "fixtures" / "trees"
LAYOUTS = sorted(p.name for p in TREES.iterdir() if (p / "expected.json").exists())
ALLOW = ("com.docker.compose.project", "org.opencontainers.image.title")
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]
# prometheus_client's OpenMetrics functions are untyped
om_latest: Callable[[Collector], bytes] = om_exposition.generate_latest
parse_openmetrics: Callable[[str], Iterable[Metric]] = om_parser.text_string_to_metric_families

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


def sample_tree(
    root: Path, named: bool = True, skip: Iterable[str] = ()
) -> tuple[Snapshot, dict[str, ContainerRef], dict[str, Any]]:
    """One Snapshot of a fixture tree, with Docker-like refs (name, image, labels)."""
    expected = json.loads((root / "expected.json").read_text())["containers"]
    layout = Layout(str(root / "cgroup"))
    refs: dict[str, ContainerRef] = {}
    targets: dict[str, Target] = {}
    for i, (cid, t) in enumerate(sorted(discovered_targets(layout).items())):
        if cid in skip:
            continue
        ref = ContainerRef(
            id=cid,
            name=f"web-{i}" if named else None,
            image="nginx:1.27" if named else None,
            labels={"com.docker.compose.project": "shop", "secret.env": "x"},
            started_at=1_700_000_000.5 + i,
        )
        refs[cid] = ref
        targets[cid] = Target(id=cid, location=t.location, ref=ref)
    sampler = Sampler(proc_root=str(root / "proc"), mode=layout.mode)
    try:
        snapshot = sampler.sample(targets)
    finally:
        sampler.close()
    return snapshot, refs, expected


class Exporter:
    """The production exporter over the Snapshot ``latest()`` gives, beside the oracle on
    ``registry``. ``render`` renders that Snapshot into the cache first, as the server's
    Renderer does before a scrape, then writes the scrape."""

    def __init__(
        self,
        snapshot: Snapshot | None,
        refs: Mapping[str, ContainerRef] | None = None,
        events: Callable[[], EventCounts] | None = None,
    ) -> None:
        self.latest: Callable[[], Snapshot | None] = lambda: snapshot
        get_refs = (lambda: refs) if refs is not None else dict
        self.cache = MetricsCache(refs=get_refs if refs is not None else None,
                                  label_allowlist=ALLOW)  # fmt: skip
        states = None
        if refs is not None:  # rendered again on every scrape here
            states = InventoryMetrics(get_refs, itertools.count().__next__)
        self.scrape = Scrape(self.cache, sampling_errors=lambda: 7, events=events, states=states)
        self.registry = CollectorRegistry()
        Oracle(lambda: self.latest(), refs=get_refs, label_allowlist=ALLOW,
               sampling_errors=lambda: 7, events=events, states=states is not None,
               registry=self.registry)  # fmt: skip

    def render(self, fmt: Format = Format.TEXT) -> bytes:
        snapshot = self.latest()
        if snapshot is not None:
            self.cache.render(snapshot)
        return self.scrape.render(fmt)

    def oracle(self, fmt: Format = Format.TEXT) -> bytes:
        """What prometheus_client writes for the same families."""
        if fmt is Format.OPENMETRICS:
            return om_latest(self.registry)
        return generate_latest(self.registry)


def exporter(
    snapshot: Snapshot | None,
    refs: Mapping[str, ContainerRef] | None = None,
    events: Callable[[], EventCounts] | None = None,
) -> tuple[Exporter, CollectorRegistry]:
    served = Exporter(snapshot, refs, events)
    return served, served.registry


def parse(body: bytes) -> Series:
    out: Series = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


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
    assert names == {"watchdog_build_info", "watchdog_sampling_errors_total"}


# ---------------------------------------------------------------------------- formats


def tricky_refs(snapshot: Snapshot) -> dict[str, ContainerRef]:
    """Names, labels and states that need escaping in both formats, and every state
    series: exit codes of stopped containers, restarts, OOM kills."""
    values = ['we"ird\\name', "new\nline", "ünï-cødé"]
    states = ["running", "exited", 'dea"d\\', None]
    return {
        cid: ContainerRef(id=cid, name=values[i % 3], image=values[(i + 1) % 3],
                          labels={ALLOW[0]: values[(i + 2) % 3]}, state=states[i % 4],
                          exit_code=[0, 137, None][i % 3], restart_count=i,
                          oom_killed=[None, True, False][i % 3])
        for i, cid in enumerate(snapshot.containers)
    }  # fmt: skip


def with_names(snapshot: Snapshot, refs: Mapping[str, ContainerRef]) -> Snapshot:
    containers = {
        cid: s._replace(name=refs[cid].name, image=refs[cid].image)
        for cid, s in snapshot.containers.items()
    }
    return Snapshot(snapshot.taken_at, snapshot.mode, containers, snapshot.duration_seconds)


def tricky_events() -> EventCounts:
    counts = {("container", "start"): 12, ("container", 'ex"ec\\'): 2, ("network", "new\nl"): 1}
    return EventCounts(counts, lost=3, gaps=1, skipped_lines=4)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_same_bytes_as_prometheus_client(layout: str) -> None:
    snapshot, _, _ = sample_tree(TREES / layout)
    refs = tricky_refs(snapshot)
    snapshot = with_names(snapshot, refs)
    served, registry = exporter(snapshot, refs, events=tricky_events)
    text = served.render(Format.TEXT)
    assert text == generate_latest(registry)
    om = served.render(Format.OPENMETRICS)
    assert om == om_latest(registry)
    assert b'\nwatchdog_events_total{action="start",type="container"} 12.0\n' in om
    assert om.endswith(b"# EOF\n")
    assert b"# TYPE container_cpu_usage_seconds counter\n" in om
    assert b"# TYPE container_cpu_usage_seconds_total counter\n" in text
    families = {f.name for f in parse_openmetrics(om.decode())}
    assert {"container_cpu_usage_seconds", "watchdog_events", "watchdog_container_state",
            "watchdog_container_restarts"} <= families  # fmt: skip
    if len(refs) > 1:  # the second container exited, OOM-killed
        assert {"watchdog_container_exit_code", "watchdog_container_oom_killed"} <= families


def test_empty_families_are_written_as_prometheus_client_does() -> None:
    """No events yet: the events family is there with no sample; no container known: no
    state family at all."""
    served, registry = exporter(None, {}, events=lambda: EventCounts({}, 0, 0, 0))
    text = served.render(Format.TEXT)
    assert text == generate_latest(registry)
    assert served.render(Format.OPENMETRICS) == om_latest(registry)
    assert b"# TYPE watchdog_events_total counter\n# HELP watchdog_events_lost_total" in text
    assert b"watchdog_container_state" not in text


@pytest.mark.parametrize("help_", ['say "hi"', "back\\slash", "two\nlines", "plain"])
@pytest.mark.parametrize("type_", ["counter", "gauge"])
def test_headers_as_prometheus_client_writes_them(help_: str, type_: str) -> None:
    name = "watchdog_x_total" if type_ == "counter" else "watchdog_x"
    metric = Metric(name.removesuffix("_total"), help_, type_)

    class One:
        def collect(self) -> list[Metric]:
            return [metric]

    assert header(name, type_, help_, Format.TEXT) == generate_latest(One())
    assert header(name, type_, help_, Format.OPENMETRICS) + b"# EOF\n" == om_latest(One())


def test_exporter_registers_nothing_globally() -> None:
    """A scrape never touches prometheus_client's global registry (the oracle lives in
    the tests, on a registry of its own)."""
    before = set(prometheus_client.REGISTRY._names_to_collectors)
    snapshot, refs, _ = sample_tree(TREES / "systemd")
    served, registry = exporter(snapshot, refs, events=tricky_events)
    assert served.render(Format.TEXT) == generate_latest(registry)
    assert set(prometheus_client.REGISTRY._names_to_collectors) == before


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        ("", Format.TEXT),
        ("*/*", Format.TEXT),
        ("text/plain; version=0.0.4", Format.TEXT),
        ("application/openmetrics-text; version=1.0.0; charset=utf-8", Format.OPENMETRICS),
        # Prometheus 2.x
        ("application/openmetrics-text;version=1.0.0,application/openmetrics-text;"
         "version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", Format.OPENMETRICS),
        # Prometheus 3.x
        ("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
         "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;"
         "escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
         Format.OPENMETRICS),
        ("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5", Format.TEXT),
        ("application/openmetrics-text;q=0,text/plain", Format.TEXT),
        ("application/json", Format.TEXT),
        ("application/openmetrics-text;q=bogus, text/plain;q=0.1", Format.TEXT),
    ],
)  # fmt: skip
def test_negotiate(accept: str, fmt: Format) -> None:
    assert negotiate(accept) == (fmt.content_type, fmt)


def test_scrape_answers_the_accept_header() -> None:
    snapshot, refs, _ = sample_tree(TREES / "podman")
    served, registry = exporter(snapshot, refs)
    ctype, fmt = negotiate("application/openmetrics-text; version=1.0.0")
    assert ctype == "application/openmetrics-text; version=1.0.0; charset=utf-8"
    assert served.render(fmt) == om_latest(registry)
    ctype, fmt = negotiate(None)
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    assert served.render(fmt) == generate_latest(registry)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        msg = "promtool not installed (Debian package prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return path


@pytest.mark.parametrize("layout", LAYOUTS)
def test_promtool_accepts_the_output(layout: str) -> None:
    tool = promtool()
    snapshot, _, _ = sample_tree(TREES / layout)
    refs = tricky_refs(snapshot)
    served, _ = exporter(with_names(snapshot, refs), refs, events=tricky_events)
    body = served.render(Format.TEXT)
    proc = subprocess.run(
        [tool, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert proc.stdout == b"" and proc.stderr == b"", proc.stderr.decode()
