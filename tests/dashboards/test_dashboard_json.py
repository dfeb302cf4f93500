"""The committed dashboards: uids, panel ids, the datasource through its variable, the
template variables, and every metric a query names exists in the agent's table."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from helpers.dashqueries import (
    all_panels,
    dashboard_files,
    dashboard_queries,
    expand,
    metric_names,
    tokens,
)

from watchdog_agent.exporter.table import every_family

FILES = dashboard_files()
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PER_CONTAINER = ("container_", "watchdog_container_")
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}


def load(path: Path) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return board


def exported() -> set[str]:
    """Every series name /metrics can serve (with the compose labels allow-listed)."""
    names: set[str] = set()
    for spec in every_family(("com.docker.compose.project", "com.docker.compose.service")):
        names.add(spec.name)
        names.update(spec.name + s for s in SUFFIXES.get(spec.type, ()))
    return names


def unknown_metrics(path: Path) -> list[str]:
    known = exported()
    return [f"{q.where}: {name}" for q in dashboard_queries(path)
            for name in sorted(metric_names(q.expr) - known)]  # fmt: skip


def test_two_dashboards_with_their_own_uids() -> None:
    uids = [load(p).get("uid") for p in FILES]
    assert len(FILES) == 2 and all(uids) and len(set(uids)) == 2, uids


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_panel_ids_unique_rows_included(path: Path) -> None:
    panels = list(all_panels(load(path)["panels"]))
    ids = [p.get("id") for p in panels]
    assert len(panels) > 10 and None not in ids
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_datasource_is_the_variable(path: Path) -> None:
    board = load(path)
    refs = []
    for panel in all_panels(board["panels"]):
        if panel["type"] != "row":
            refs.append((f"panel {panel['id']}", panel.get("datasource")))
            refs += [(f"panel {panel['id']} target", t.get("datasource")) for t in panel["targets"]]
    refs += [(f"variable {v['name']}", v.get("datasource"))
             for v in board["templating"]["list"] if v["type"] == "query"]  # fmt: skip
    refs += [(f"annotation {a['name']}", a.get("datasource"))
             for a in board.get("annotations", {}).get("list", [])]  # fmt: skip
    wrong = [(where, ref) for where, ref in refs if ref != DATASOURCE]
    assert refs and not wrong, wrong
    # no uid of some Grafana anywhere: the only datasource uid is the variable
    assert set(_uids(board)) == {"${datasource}"}


def _uids(node: Any) -> list[str]:
    if isinstance(node, dict):
        here = [node["uid"]] if "uid" in node and "type" in node else []
        return here + [u for key, v in node.items() if key != "uid" for u in _uids(v)]
    if isinstance(node, list):
        return [u for v in node for u in _uids(v)]
    return []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_the_template_variables(path: Path) -> None:
    variables = {v["name"]: v for v in load(path)["templating"]["list"]}
    assert list(variables) == ["datasource", "instance", "project", "image", "container"]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert variables["instance"]["multi"] and variables["instance"]["includeAll"]
    project = variables["project"]
    assert project["query"] == ('label_values(watchdog_container_info{instance=~"$instance"}, '
                                "label_com_docker_compose_project)")  # fmt: skip
    assert project["includeAll"] and project["allValue"] == ".*"
    container = variables["container"]["query"]
    assert container.startswith("label_values(watchdog_container_info{") and "name)" in container
    for chained in ('instance=~"$instance"', '=~"$project"', 'image=~"$image"'):
        assert chained in container


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_panels_filter_on_host_and_container(path: Path) -> None:
    """Every panel and annotation query filters on the host; every selector of a
    per-container family also on the container name, except the hosts' totals (counts of
    all their containers, summed by instance)."""
    checked = 0
    for q in dashboard_queries(path):
        if q.kind == "variable":
            continue
        assert 'instance=~"$instance"' in q.expr, q
        if q.expr.startswith("sum by (instance) ("):
            continue
        toks = tokens(q.expr)
        for (kind, text), (_, after) in zip(toks, [*toks[1:], ("", "")], strict=True):
            if kind == "name" and text in metric_names(q.expr) and text.startswith(PER_CONTAINER):
                assert 'name=~"$container"' in after and 'instance=~"$instance"' in after, q
                checked += 1
    assert checked > 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_metric_exists_in_the_agents_table(path: Path) -> None:
    queries = dashboard_queries(path)
    assert len(queries) > 20 and all(metric_names(q.expr) for q in queries)
    assert unknown_metrics(path) == []


def test_promtool_parses_every_query(tmp_path: Path) -> None:
    """Every query, its variables filled in as Grafana would, is PromQL Prometheus' own
    parser accepts (promtool checks them as recording rules)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is not installed (scripts/test installs Debian's prometheus)")
        pytest.skip("promtool is not installed")
    values = {"instance": "h1:9338|h2:9338", "project": ".*", "image": ".*", "container": "a|b"}
    rules = [{"record": f"dashboard:query:{i}", "expr": expand(q.expr, values)}
             for i, q in enumerate(q for p in FILES for q in dashboard_queries(p))]  # fmt: skip
    path = tmp_path / "queries.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboards", "rules": rules}]}))
    proc = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(rules)} rules found" in proc.stdout, proc.stdout
    path.write_text(path.read_text().replace("offset 1m", "offset", 1))  # and it can fail
    broken = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert broken.returncode != 0, broken.stdout


def test_a_made_up_metric_is_reported(tmp_path: Path) -> None:
    board = load(FILES[0])
    panel = next(p for p in all_panels(board["panels"]) if p.get("targets"))
    panel["targets"][0]["expr"] = 'rate(container_cpu_made_up_total{name=~"$container"}[5m])'
    fake = tmp_path / "fake.json"
    fake.write_text(json.dumps(board))
    assert unknown_metrics(fake) == [
        f"panel {panel['id']} {panel['title']!r} A: container_cpu_made_up_total"
    ]
