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
from watchdog_agent.model import ContainerRef, Snapshot

TREES = Path(__file__).parent.parent / "fixtures" / "trees"
LAYOUTS = sorted(p.name for p in TREES.iterdir() if (p / "expected.json").exists())
ALLOW = ("com.docker.compose.project", "org.opencontainers.image.title")
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
