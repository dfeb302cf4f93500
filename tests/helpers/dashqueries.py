"""The committed Grafana dashboards' queries, as tests run them against a real Prometheus:
every panel target, query variable and annotation (``dashboard_queries``), their Grafana
variables filled in (``expand``), which ones answer nothing (``unanswered``), and the
metric names a PromQL expression uses (``metric_names``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"

# Grafana's built-in variables, with fixed values for tests (a caller may override them)
BUILTINS: Mapping[str, str] = MappingProxyType({
    "__rate_interval": "1m", "__interval": "1m", "__interval_ms": "60000",
    "__range": "5m", "__range_s": "300", "__range_ms": "300000",
})  # fmt: skip
NO_VALUES: Mapping[str, str] = MappingProxyType({})
# $var, ${var}, ${var:format}, [[var]], [[var:format]]
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$([A-Za-z_]\w*)")


@dataclass(frozen=True)
class DashQuery:
    dashboard: str  # the dashboard's uid
    where: str  # e.g. "panel 7 'CPU' A", "variable container", "annotation 'OOM kills'"
    expr: str  # the PromQL as written, with $variables
    kind: str  # "panel" | "variable" | "annotation"


def dashboard_files() -> list[Path]:
    """The committed dashboards/*.json."""
    return sorted(DASHBOARDS.glob("*.json"))


def all_panels(panels: Sequence[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    """Every panel, rows' nested (collapsed) panels included."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def dashboard_queries(path: Path) -> list[DashQuery]:
    board = json.loads(path.read_text(encoding="utf-8"))
    uid = board["uid"]
    out: list[DashQuery] = []
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") == "query":
            query = variable["query"]
            expr = query["query"] if isinstance(query, dict) else query
            out.append(DashQuery(uid, f"variable {variable['name']}", expr, "variable"))
    for panel in all_panels(board.get("panels", [])):
        for target in panel.get("targets", []):
            where = f"panel {panel['id']} {panel.get('title', '')!r} {target.get('refId', '')}"
            out.append(DashQuery(uid, where.rstrip(), target["expr"], "panel"))
    for annotation in board.get("annotations", {}).get("list", []):
        if "expr" in annotation:
            out.append(DashQuery(uid, f"annotation {annotation['name']!r}", annotation["expr"],
                                 "annotation"))  # fmt: skip
    return out


def as_promql(expr: str) -> str:
    """A variable query as the PromQL Grafana runs for it: ``label_values(SEL, label)``
    is a series query for SEL, ``label_values(label)`` one for any series with that label,
    ``query_result(Q)`` the query Q; anything else is PromQL already."""
    text = expr.strip()
    for function in ("label_values", "query_result"):
        if text.startswith(f"{function}(") and text.endswith(")"):
            inner = text[len(function) + 1 : -1].strip()
            if function == "query_result":
                return inner
            selector, comma, label = inner.rpartition(",")
            return selector.strip() if comma else f'{{{label.strip()}=~".+"}}'
    return text


def expand(expr: str, values: Mapping[str, str]) -> str:
    """``expr`` with its variables replaced from ``values`` and Grafana's built-ins
    ($__rate_interval, $__interval, $__range, ...) from BUILTINS (``values`` wins); a
    ``label_values(...)`` variable query becomes the selector inside it. A variable with
    no value is an error (KeyError), not left in place."""
    known = {**BUILTINS, **values}

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group is not None)
        if name not in known:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return known[name]

    return as_promql(VARIABLE.sub(value, expr))


def unanswered(
    query: Callable[[str], Sequence[Mapping[str, Any]]],
    instances: Sequence[str],
    values: Mapping[str, str] = NO_VALUES,
    annotation_window: str = "5m",
) -> list[str]:
    """One line per (dashboard query, instance) whose instant query returned nothing:
    each query expanded with ``instance`` = that instance, every other variable from
    ``values`` (default ``.*``). ``query`` runs an instant PromQL query, returns its
    result list. Event-driven panels and annotations need their events made first.
    An annotation marks a moment, as Grafana finds it over the dashboard's time range:
    it must have matched at some step of the last ``annotation_window``."""
    missing: list[str] = []
    for path in dashboard_files():
        for item in dashboard_queries(path):
            for instance in instances:
                filled = {"project": ".*", "image": ".*", "container": ".*", **values}
                promql = expand(item.expr, {**filled, "instance": instance})
                if item.kind == "annotation":
                    # count(): one series per step, whatever labels the parts keep
                    promql = f"count_over_time(count({promql})[{annotation_window}:5s])"
                if not query(promql):
                    missing.append(f"{item.dashboard} {item.where} on {instance}: {promql}")
    return missing


# --- metric names in PromQL ---------------------------------------------------------

# words that are never metric names where they stand: set operators, modifiers, literals
KEYWORDS = frozenset({"and", "or", "unless", "by", "without", "on", "ignoring", "group_left",
                      "group_right", "offset", "bool", "atan2", "inf", "nan"})  # fmt: skip
# keywords followed by a parenthesised label list (skipped: label names, not metrics)
LABEL_LISTS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
TOKEN = re.compile(
    r"""(?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
      | (?P<braces>\{[^}]*\})
      | (?P<range>\[[^\]]*\])
      | (?P<variable>\$\{[^}]*\}|\$\w+|\[\[[^\]]*\]\])
      | (?P<number>(?:0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)[a-zA-Z]*)
      | (?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)
      | (?P<open>\()
      | (?P<other>\S)""",
    re.VERBOSE,
)


def tokens(expr: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of ``expr``; strings, label matchers in braces, ranges in
    brackets and Grafana variables are single tokens."""
    return [(m.lastgroup or "other", m.group()) for m in TOKEN.finditer(expr)]


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression (or a label_values() variable query) selects:
    identifiers that are not function or aggregation calls, keywords, or label names in
    by/without/on/ignoring/group_left/group_right lists."""
    toks = tokens(as_promql(expr))
    names: set[str] = set()
    skip_list = False
    for i, (kind, text) in enumerate(toks):
        after = toks[i + 1] if i + 1 < len(toks) else ("", "")
        if skip_list:  # inside a label list: skip up to its closing parenthesis
            skip_list = text != ")"
            continue
        if kind != "name":
            continue
        word = text.lower()
        if word in LABEL_LISTS:
            skip_list = after[0] == "open"
            continue
        if word in KEYWORDS or after[0] == "open":  # a function: rate(, sum(, time(
            continue
        if after[1].lower() in ("by", "without"):  # an aggregation: sum by (...) (...)
            continue
        names.add(text)
    return names
