"""Series about every container Docker knows, stopped ones included, which the samples
cannot give: state, last exit code, restart count, OOM kill. They change only when the
inventory does (an event, a resync), so they are rendered once per change."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prometheus_client.metrics_core import Metric

from watchdog_agent.model import LIVE_STATES, ContainerRef

from .exposition import Format, render_metrics
from .table import docker_series_id

Refs = Callable[[], Mapping[str, ContainerRef]]


def inventory_families(refs: Mapping[str, ContainerRef]) -> list[Metric]:
    state = Metric("watchdog_container_state", "1 for the container's current state.", "gauge")
    exit_code = Metric(
        "watchdog_container_exit_code", "Exit code of the container's last run.", "gauge"
    )
    restarts = Metric(
        "watchdog_container_restarts", "Restarts by Docker (its RestartCount).", "gauge"
    )
    oom = Metric(
        "watchdog_container_oom_killed", "1 when the last run ended in the OOM killer.", "gauge"
    )
    for ref in refs.values():
        base = {"id": docker_series_id(ref.id), "name": ref.name or "", "image": ref.image or ""}
        if ref.state:
            state.add_sample(state.name, {**base, "state": ref.state}, 1)
        if ref.exit_code is not None and ref.state not in LIVE_STATES:
            exit_code.add_sample(exit_code.name, base, ref.exit_code)
        if ref.restart_count is not None:
            restarts.add_sample(restarts.name, base, ref.restart_count)
        if ref.oom_killed is not None:
            oom.add_sample(oom.name, base, 1 if ref.oom_killed else 0)
    return [m for m in (state, exit_code, restarts, oom) if m.samples]


class InventoryMetrics:
    """Renders the inventory's series once per ``version`` (which changes with it)."""

    def __init__(self, refs: Refs, version: Callable[[], object]) -> None:
        self._refs = refs
        self._version = version
        self._key: object = object()
        self._rendered: dict[Format, bytes] = {}

    def render(self, fmt: Format) -> bytes:
        key = self._version()
        if key != self._key:
            self._key, self._rendered = key, {}
        out = self._rendered.get(fmt)
        if out is None:
            out = self._rendered[fmt] = render_metrics(inventory_families(self._refs()), fmt)
        return out
