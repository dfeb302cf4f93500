"""tests/helpers/dashqueries: the PromQL tokenizer that finds metric names, variable
expansion as Grafana does it, and the queries read from a dashboard's JSON."""

from __future__ import annotations

import pytest
from helpers.dashqueries import (
    dashboard_files,
    dashboard_queries,
    expand,
    metric_names,
)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        ('rate(a_total{name=~"$container", job="x"}[$__rate_interval])', {"a_total"}),
        ("sum by (instance, name) (rate(a_total[5m]))", {"a_total"}),
        ("sum(rate(a_total[5m])) without (cpu, device)", {"a_total"}),
        ("a / on (instance, job) group_left (version) b", {"a", "b"}),
        ("a * ignoring(cpu) group_right b", {"a", "b"}),
        ("a and on (instance, job) watchdog_build_info", {"a", "watchdog_build_info"}),
        ("x unless x offset $__interval", {"x"}),
        ("x offset 1h30m > bool 0", {"x"}),
        ('1 - free{instance=~"h.*"} / size', {"free", "size"}),
        ("time() - start_seconds", {"start_seconds"}),
        ('label_replace(a, "dst", "$1", "src", "(.*)")', {"a"}),
        ('count_values("value", a) or vector(0)', {"a"}),
        ("topk(5, a) @ end()", {"a"}),
        ("histogram_quantile(0.9, sum by (le) (rate(h_bucket[1m])))", {"h_bucket"}),
        ("a > Inf or b < NaN or c == 1e3 or d == 0x1f", {"a", "b", "c", "d"}),
        ('{__name__=~"x.*", job="y"}', set()),
        ("ns:recorded:rate5m", {"ns:recorded:rate5m"}),
        ('label_values(watchdog_container_info{instance=~"$instance"}, image)',
         {"watchdog_container_info"}),
        ("label_values(watchdog_build_info, instance)", {"watchdog_build_info"}),
    ],
)  # fmt: skip
def test_metric_names(expr: str, names: set[str]) -> None:
    assert metric_names(expr) == names


def test_a_misspelt_name_is_a_name() -> None:
    """Nothing is dropped just because it looks like a function without a call."""
    assert metric_names("sum by (name) (rat(x_total[1m]))") == {"x_total"}
    assert metric_names("rat + x_total") == {"rat", "x_total"}


def test_expand_fills_every_form() -> None:
    values = {"instance": "h1:9338", "container": "web", "fmt": "z"}
    expr = (
        'rate(a{instance=~"$instance", name=~"${container}", x="${fmt:regex}", y="[[fmt]]"}'
        "[$__rate_interval])"
    )
    assert expand(expr, values) == ('rate(a{instance=~"h1:9338", name=~"web", x="z", y="z"}[1m])')
    assert expand("x offset $__interval", {"__interval": "5m"}) == "x offset 5m"
    assert expand("$__range_s + $__range", {}) == "300 + 5m"
    assert expand('label_replace(a, "d", "$1", "s", "(.*)")', {}) == (
        'label_replace(a, "d", "$1", "s", "(.*)")'
    )


def test_expand_turns_variable_queries_into_their_selector() -> None:
    query = 'label_values(watchdog_container_info{instance=~"$instance", image=~"$image"}, name)'
    assert expand(query, {"instance": ".*", "image": "busybox"}) == (
        'watchdog_container_info{instance=~".*", image=~"busybox"}'
    )
    assert expand("label_values(instance)", {}) == '{instance=~".+"}'
    assert expand("query_result(topk(3, x))", {}) == "topk(3, x)"


def test_expand_refuses_a_variable_without_a_value() -> None:
    with pytest.raises(KeyError, match="container"):
        expand('a{name=~"$container"}', {})


def test_dashboard_queries_reads_panels_variables_and_annotations() -> None:
    queries = [q for path in dashboard_files() for q in dashboard_queries(path)]
    kinds = {q.kind for q in queries}
    assert kinds == {"panel", "variable", "annotation"}
    where = {(q.dashboard, q.where) for q in queries}
    assert ("watchdog-container", "annotation 'OOM kills'") in where
    assert ("watchdog-overview", "variable container") in where
    assert len(where) == len(queries)  # each query is named once
