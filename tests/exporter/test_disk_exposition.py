"""The disk sample's series: byte-for-byte what prometheus_client writes for the same
families (tests/helpers/oracle.py), rendered once per sample, and accepted by promtool."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence

import pytest
from helpers.diskdocs import DF, usage
from helpers.exporting import om_latest
from helpers.oracle import disk_families
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry

from watchdog_agent.agent.diskareas import areas
from watchdog_agent.exporter.disk import DiskMetrics, render_disk
from watchdog_agent.exporter.exposition import EOF, Format
from watchdog_agent.exporter.gzipped import inflate
from watchdog_agent.model import DiskArea, DiskUsage


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        msg = "promtool not installed (Debian package prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    return path


def tricky() -> DiskUsage:
    raw = json.loads(json.dumps(DF))
    raw["Containers"][0]["Names"] = ['/we"ird\\name\n', "/other/link"]
    raw["Containers"][1]["Names"] = ["/db/alias"]  # a legacy link only
    raw["Containers"][1]["Image"] = "registry:5000/app@sha256:" + "f" * 64
    return usage(raw)


class Families(Collector):
    def __init__(self, du: DiskUsage) -> None:
        self.du = du

    def collect(self) -> Iterator[Metric]:
        yield from disk_families(self.du, areas(self.du))


def test_same_bytes_as_prometheus_client() -> None:
    du = tricky()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(Families(du))
    assert render_disk(du, areas(du), Format.TEXT) == generate_latest(registry)
    assert render_disk(du, areas(du), Format.OPENMETRICS) + EOF == om_latest(registry)
    text = render_disk(du, areas(du), Format.TEXT).decode()
    assert 'watchdog_docker_disk_bytes{type="build_cache"} 1000.0\n' in text
    # a container with no SizeRw has no series (a gap, not 0)
    assert f'id="/docker/{"5" * 64}"' not in text


def test_rendered_once_per_sample_and_none_before_the_first() -> None:
    latest: list[DiskUsage | None] = [None]
    calls: list[DiskUsage] = []

    def counting(du: DiskUsage) -> Sequence[DiskArea]:
        calls.append(du)
        return areas(du)

    metrics = DiskMetrics(lambda: latest[0], counting)
    assert metrics.render(Format.TEXT) == b""
    latest[0] = usage()
    first = metrics.render(Format.TEXT)
    assert metrics.render(Format.TEXT) is first and len(calls) == 1
    latest[0] = tricky()
    assert metrics.render(Format.TEXT) != first and len(calls) == 2


def test_a_container_removed_since_the_sample_has_no_series() -> None:
    """The sample (every --disk-interval seconds) may name a container Docker has since
    removed: its series go with the inventory's next version, the sample's areas stay."""
    du = usage()
    ids = [c.id for c in du.containers if c.size_rw is not None]
    assert len(ids) >= 2
    known = set(ids)
    version = [0]
    metrics = DiskMetrics(lambda: du, areas, known=lambda: known, version=lambda: version[0])
    before = metrics.render(Format.TEXT).decode()
    assert all(f'id="/docker/{i}"' in before for i in ids)
    known.discard(ids[0])
    assert metrics.render(Format.TEXT).decode() == before  # the same version: cached
    version[0] += 1
    after = metrics.render(Format.TEXT).decode()
    assert f'id="/docker/{ids[0]}"' not in after
    assert all(f'id="/docker/{i}"' in after for i in ids[1:])
    assert 'watchdog_docker_disk_bytes{type="build_cache"}' in after
    assert inflate(metrics.gzipped(Format.TEXT)) == after.encode()


def test_promtool_accepts_the_disk_series() -> None:
    tool = promtool()
    body = render_disk(tricky(), areas(tricky()), Format.TEXT)
    proc = subprocess.run(
        [tool, "check", "metrics"], input=body, capture_output=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    assert proc.stdout == b"" and proc.stderr == b"", proc.stderr.decode()
