"""The exporter over Snapshots of the fixture trees (tests/fixtures/trees), beside the
oracle: shared by the exporter tests (no tests here)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics import exposition as om_exposition
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from helpers.oracle import Oracle
from watchdog_agent.collectors.cgroupfs import Layout
from watchdog_agent.collectors.sampler import Sampler, Target
from watchdog_agent.collectors.targets import discovered_targets
from watchdog_agent.exporter.cache import MetricsCache
from watchdog_agent.exporter.exposition import Format
from watchdog_agent.exporter.scrape import EventCounts, Scrape
from watchdog_agent.exporter.states import InventoryMetrics
from watchdog_agent.model import ContainerRef, HostSample, ProcessCost, Snapshot

TREES = Path(__file__).parent.parent / "fixtures" / "trees"
LAYOUTS = sorted(p.name for p in TREES.iterdir() if (p / "expected.json").exists())
ALLOW = ("com.docker.compose.project", "org.opencontainers.image.title")
# a host sample and an agent cost with every value, written beside every Snapshot
HOST = HostSample(
    taken_at=1_700_000_000.25, hostname="h", kernel="6.1.0", os="Debian GNU/Linux 12",
    boot_time=1_699_000_000.0, cpus=8, cpu_percent=123.5, load1=0.5, load5=1.25,
    load15=2.0, memory_total_bytes=16 << 30, memory_available_bytes=9 << 30,
    memory_used_bytes=5 << 30, swap_total_bytes=2 << 30, swap_used_bytes=1 << 20,
    swap_free_bytes=(2 << 30) - (1 << 20),
)  # fmt: skip
COST = ProcessCost(
    virtual_memory_bytes=4.5e8, resident_memory_bytes=3.25e7, start_time_seconds=1.7e9,
    cpu_seconds_total=12.34, open_fds=17.0, max_fds=1_048_576.0,
)  # fmt: skip
Series = dict[tuple[str, frozenset[tuple[str, str]]], float]
# prometheus_client's OpenMetrics functions are untyped
om_latest: Callable[[Collector], bytes] = om_exposition.generate_latest


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
        self.scrape = Scrape(self.cache, sampling_errors=lambda: 7, events=events, states=states,
                             host=lambda: HOST, cost=lambda: COST)  # fmt: skip
        self.registry = CollectorRegistry()
        Oracle(lambda: self.latest(), refs=get_refs, label_allowlist=ALLOW,
               sampling_errors=lambda: 7, events=events, states=states is not None,
               host=lambda: HOST, cost=lambda: COST, registry=self.registry)  # fmt: skip

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
