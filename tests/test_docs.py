"""The docs stay in step with the code: docs/metrics.md lists every series the exporter can
produce, docs/api.md is generated from the OpenAPI document, and no doc points outside
the repository."""

from __future__ import annotations

import re
from pathlib import Path

from watchdog_agent.exporter.table import every_family
from watchdog_agent.server import apidoc
from watchdog_agent.server.openapi import document

DOC = Path(__file__).parent.parent / "docs" / "metrics.md"
# a row of one of docs/metrics.md's tables: | `name` | type | labels | meaning |
METRIC_ROW = re.compile(r"^\| `(\w+)` \| (\w+) \| ([^|]*) \|", re.MULTILINE)
NO_LABELS = ("-", "(no container labels)")


def documented_series() -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (type, extra labels) of every row of docs/metrics.md's metric tables."""
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    for name, type_, labels in METRIC_ROW.findall(DOC.read_text()):
        assert name not in out, f"{name} is documented twice"
        labels = labels.strip()
        out[name] = (type_, () if labels in NO_LABELS else tuple(labels.split(", ")))
    return out


def test_docs_list_exactly_the_exported_series() -> None:
    """Every family of the metric table (per-container on any cgroup mode, per-Snapshot,
    state, the agent's own) has a row with its type and labels, and every row is one of
    them. The docs' info-series example allow-lists the label ``com.example.team``."""
    exported = {
        s.name: (s.type, getattr(s, "labels", ())) for s in every_family(("com.example.team",))
    }
    documented = documented_series()
    assert len(documented) > 50  # the tables were found
    assert sorted(set(exported) - set(documented)) == [], "not in docs/metrics.md"
    assert sorted(set(documented) - set(exported)) == [], "in docs/metrics.md, not exported"
    wrong = {n: (documented[n], want) for n, want in exported.items() if documented[n] != want}
    assert not wrong, f"docs/metrics.md says (type, labels) != the table's: {wrong}"


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
