"""deploy/prometheus: promtool accepts the config and the rules, the rules' unit tests pass,
every alert has a firing and a not-firing case, and every metric the rules name is one the
agent serves (``watchdog_agent.exporter.table.every_family``)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from watchdog_agent.exporter.table import every_family

PROM_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = "/usr/bin/promtool"
# the names PromQL itself gives meaning to
PROMQL_WORDS = frozenset({"and", "or", "unless", "on", "ignoring", "by", "without",
                          "group_left", "group_right", "offset", "bool", "atan2"})  # fmt: skip


def promtool(*args: str, cwd: Path = PROM_DIR) -> subprocess.CompletedProcess[str]:
    if not Path(PROMTOOL).exists():
        pytest.skip("promtool is not installed (Debian's prometheus package)")
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def load(name: str) -> Any:
    return yaml.safe_load((PROM_DIR / name).read_text())


def alert_rules() -> list[dict[str, Any]]:
    return [r for g in load("alerts.yml")["groups"] for r in g["rules"] if "alert" in r]


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers that are not functions (not
    followed by ``(``), PromQL keywords, label matchers, ranges or strings."""
    bare = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # strings
    bare = re.sub(r"\{[^}]*\}", " ", bare)  # label matchers
    bare = re.sub(r"\[[^\]]*\]", " ", bare)  # ranges
    bare = re.sub(r"\b(on|ignoring|by|without|group_left|group_right)\s*\([^)]*\)", " ", bare)
    bare = re.sub(r"\boffset\s+\w+", " ", bare)
    bare = re.sub(r"\b\d[\w.]*", " ", bare)  # numbers (1e8, 0.25)
    names = set()
    for m in re.finditer(r"([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?", bare):
        word, call = m.group(1), m.group(2)
        if not call and word not in PROMQL_WORDS:
            names.add(word)
    return names


def test_promtool_check_config() -> None:
    done = promtool("check", "config", "prometheus.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_promtool_check_rules() -> None:
    done = promtool("check", "rules", "alerts.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in done.stdout


def test_promtool_unit_tests_pass() -> None:
    done = promtool("test", "rules", "alerts_test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_firing_and_a_not_firing_case() -> None:
    cases: dict[str, set[bool]] = {}
    for test in load("alerts_test.yml")["tests"]:
        for case in test.get("alert_rule_test", []):
            cases.setdefault(case["alertname"], set()).add(bool(case.get("exp_alerts")))
    alerts = {r["alert"] for r in alert_rules()}
    assert len(alerts) == len(alert_rules()), "an alert name is used twice"
    missing = {a: sorted({True, False} - cases.get(a, set())) for a in alerts}
    assert {a: m for a, m in missing.items() if m} == {}, "True: firing, False: not firing"
    assert set(cases) <= alerts, f"tests of alerts that do not exist: {set(cases) - alerts}"


def test_each_firing_case_depends_on_its_rule(tmp_path: Path) -> None:
    """An alert whose expression never matches makes its unit tests fail: its firing cases
    really test it (for each alert in turn, on copies holding only its own cases)."""
    tests = load("alerts_test.yml")
    rules = load("alerts.yml")
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            kept = rule["expr"]
            rule["expr"] = "vector(1) < 0"
            (tmp_path / "alerts.yml").write_text(yaml.safe_dump(rules))
            rule["expr"] = kept
            own = [
                {**t, "alert_rule_test": cases}
                for t in tests["tests"]
                if (cases := [c for c in t["alert_rule_test"] if c["alertname"] == rule["alert"]])
            ]
            (tmp_path / "alerts_test.yml").write_text(yaml.safe_dump({**tests, "tests": own}))
            done = promtool("test", "rules", "alerts_test.yml", cwd=tmp_path)
            assert done.returncode != 0, f"{rule['alert']}: the tests pass without its expression"
            assert f"alertname: {rule['alert']}" in done.stdout + done.stderr, done.stdout


def test_rules_use_only_metrics_the_agent_serves() -> None:
    served = {spec.name for spec in every_family()} | {"up"}  # up: Prometheus' own, per target
    used: dict[str, set[str]] = {r["alert"]: metric_names(r["expr"]) for r in alert_rules()}
    assert all(used.values()), used
    unknown = {a: names - served for a, names in used.items() if names - served}
    assert unknown == {}


def test_every_selector_names_the_job() -> None:
    """cAdvisor serves some of the same names: every selector is the agent's job only."""
    for rule in alert_rules():
        selectors = re.findall(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{[^}]*\})?", rule["expr"])
        for name in metric_names(rule["expr"]):
            matchers = [m for n, m in selectors if n == name]
            assert matchers and all('job="watchdog-agent"' in m for m in matchers), (
                rule["alert"],
                name,
            )


def test_alerts_say_where_and_how_bad() -> None:
    container_alerts = {"ContainerOOMKilled", "ContainerRestartLoop", "ContainerCPUThrottled",
                        "ContainerMemoryNearLimit", "ContainerExitedNonZero"}  # fmt: skip
    for rule in alert_rules():
        assert rule["labels"]["severity"] in ("info", "warning", "critical"), rule["alert"]
        assert "for" in rule, rule["alert"]
        ann = rule["annotations"]
        assert ann.keys() >= {"summary", "description"}, rule["alert"]
        if rule["alert"] != "WatchdogAgentsMissing":
            assert "{{ $labels.instance }}" in ann["summary"], rule["alert"]
        if rule["alert"] in container_alerts:
            assert "{{ $labels.name }}" in ann["summary"], rule["alert"]


def test_metric_names_parser() -> None:
    expr = (
        'max_over_time(a_b{job="x"}[10m]) == 1 or increase(c_total{job="x", n="y{"}[5m]) > 0'
        " unless on (job, instance, id) d == 1 and predict_linear(e[6h], 24 * 3600) < 0"
        " or absent(up{job='x'}) > bool 0.25"
    )
    assert metric_names(expr) == {"a_b", "c_total", "d", "e", "up"}
