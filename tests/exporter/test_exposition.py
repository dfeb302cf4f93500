"""/metrics formats: byte-for-byte what prometheus_client writes for the same families
(the oracle in tests/helpers/oracle.py), Accept negotiation, and promtool's check."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterable

import prometheus_client
import pytest
from helpers.exporting import (
    LAYOUTS,
    TREES,
    exporter,
    om_latest,
    sample_tree,
    tricky_events,
    tricky_refs,
    with_names,
)
from prometheus_client import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import parser as om_parser

from watchdog_agent.exporter.exposition import Format, header, negotiate
from watchdog_agent.exporter.scrape import EventCounts

parse_openmetrics: Callable[[str], Iterable[Metric]] = om_parser.text_string_to_metric_families


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
