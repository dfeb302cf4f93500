"""Checks on what a scraper reads during churn (no tests here): /metrics parsed with
prometheus_client's parser, counters per series never going back, and the rates the
API serves within physical bounds. Problems are collected, not raised, so one report
names them all."""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

HEX64 = re.compile(r"[0-9a-f]{64}")
CORES = os.cpu_count() or 1
SLACK = 1.10  # a window's edges: a rate may read a little over its bound, not double


def container_id(labels: dict[str, str]) -> str | None:
    for value in labels.values():
        if m := HEX64.search(value):
            return m.group(0)
    return None


@dataclass
class ScrapeCheck:
    problems: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    scrapes: int = 0
    polls: int = 0
    ids_in_metrics: set[str] = field(default_factory=set)
    ids_in_api: set[str] = field(default_factory=set)
    _counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = field(default_factory=dict)
    _api: dict[tuple[str, str], float] = field(default_factory=dict)

    def problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)

    def metrics(self, text: str) -> None:
        """One /metrics body: every per-container counter at least its last value."""
        self.scrapes += 1
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                cid = container_id(sample.labels)
                if cid is None:
                    continue
                self.ids_in_metrics.add(cid)
                if math.isnan(sample.value) or sample.value < 0:
                    self.problem(f"{sample.name}{sample.labels} = {sample.value}")
                if family.type != "counter" or not sample.name.endswith("_total"):
                    continue
                key = (sample.name, tuple(sorted(sample.labels.items())))
                before = self._counters.get(key)
                if before is not None and sample.value < before:
                    back = f"{before} -> {sample.value}"
                    self.problem(f"{sample.name} of {cid[:12]} went back {back}")
                self._counters[key] = sample.value

    def containers(self, items: list[dict[str, Any]]) -> None:
        """One /api/v1/containers answer: rates within bounds, totals never back."""
        self.polls += 1
        for item in items:
            stats = item.get("stats")
            if not stats:
                continue
            cid = item["id"]
            self.ids_in_api.add(cid)
            self._bounded(cid, "cpu_percent", stats.get("cpu_percent"), 100.0 * CORES)
            self._bounded(cid, "cpu_throttled_percent", stats.get("cpu_throttled_percent"), 100)
            self._bounded(cid, "memory_percent", stats.get("memory_percent"), 100)
            for name in ("cpu_usage_seconds_total", "net_rx_bytes", "net_tx_bytes",
                         "blk_read_bytes", "blk_write_bytes"):  # fmt: skip
                value = stats.get(name)
                if value is None:
                    continue
                before = self._api.get((cid, name))
                if value < 0 or (before is not None and value < before):
                    self.problem(f"{name} of {cid[:12]}: {before} -> {value}")
                self._api[(cid, name)] = value

    def host(self, doc: dict[str, Any]) -> None:
        cpus = doc.get("cpus") or CORES
        self._bounded("host", "cpu_percent", doc.get("cpu_percent"), 100.0 * cpus)

    def _bounded(self, who: str, name: str, value: float | None, bound: float) -> None:
        if value is None:
            return
        if not 0 <= value <= bound * SLACK or math.isnan(value):
            self.problem(f"{name} of {who[:12]} = {value} (bound {bound})")
