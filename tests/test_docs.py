"""The docs stay in step with the code: docs/metrics.md lists every series the exporter can
produce, docs/api.md is generated from the OpenAPI document, and no doc points outside
the repository."""

from __future__ import annotations

import re
from pathlib import Path

from watchdog_agent.exporter.collector import MetricsCache
from watchdog_agent.exporter.table import SNAPSHOT_TABLE
from watchdog_agent.model import CgroupMode
from watchdog_agent.server import apidoc
from watchdog_agent.server.openapi import document

DOC = Path(__file__).parent.parent / "docs" / "metrics.md"


def test_every_metric_is_documented() -> None:
    text = DOC.read_text()
    cache = MetricsCache()
    names = {s.name for mode in CgroupMode for s in cache.specs(mode)}
    names |= {s.name for s in SNAPSHOT_TABLE}
    names |= {"watchdog_container_state", "watchdog_container_exit_code",
              "watchdog_container_restarts", "watchdog_container_oom_killed",
              "watchdog_events_total", "watchdog_events_lost_total"}  # fmt: skip
    missing = sorted(n for n in names if f"`{n}`" not in text)
    assert not missing, f"not in docs/metrics.md: {missing}"


# --- docs/api.md and links ------------------------------------------------------------

ROOT = Path(__file__).parent.parent
API_DOC = ROOT / "docs" / "api.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_api_doc_is_in_step_with_the_openapi_document() -> None:
    """docs/api.md is generated; a route or field changed in openapi.py without
    regenerating it fails here."""
    expected = apidoc.render(document())
    assert API_DOC.read_text() == expected, f"docs/api.md is out of step: run {apidoc.COMMAND}"


def test_api_doc_lists_every_route_and_object() -> None:
    text = API_DOC.read_text()
    doc = document()
    missing = [p for p in doc["paths"] if f"### GET {p}\n" not in text]
    missing += [n for n in doc["components"]["schemas"] if f"### {n}\n" not in text]
    assert not missing


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_docs_never_point_outside_the_repository() -> None:
    """A clone is self-contained: README.md and docs/ link only to files in the
    repository (or to anchors and web pages), and name no ../ path."""
    root = ROOT.resolve()
    bad = []
    for md in markdown_files():
        text = md.read_text()
        if "../" in text or "shared/DESIGN.md" in text:
            bad.append(f"{md.name}: mentions a path outside the repository")
        for target in LINK.findall(text):
            if target.startswith(("http://", "https://", "#")):
                continue
            path = (md.parent / target.split("#", 1)[0]).resolve()
            if not path.is_relative_to(root) or not path.exists():
                bad.append(f"{md.name}: {target}")
    assert not bad


def test_readme_links_the_architecture_and_api_docs() -> None:
    links = set(LINK.findall((ROOT / "README.md").read_text()))
    assert {"docs/architecture.md", "docs/api.md"} <= links
