"""docs/metrics.md lists every series the exporter can produce."""

from __future__ import annotations

from pathlib import Path

from watchdog_agent.exporter.collector import MetricsCache
from watchdog_agent.exporter.table import SNAPSHOT_TABLE
from watchdog_agent.model import CgroupMode

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
