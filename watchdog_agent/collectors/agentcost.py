"""The agent's own cost (CPU seconds, memory, file descriptors, start time), read by
prometheus_client's ``ProcessCollector``, so the ``process_*`` series have exactly the
client library's semantics: /proc/self/stat, /proc/self/limits, /proc/self/fd of the
agent's own /proc (never --proc-root, which may be another PID namespace's)."""

from __future__ import annotations

from prometheus_client.process_collector import ProcessCollector

from watchdog_agent.model import ProcessCost

# ProcessCost field -> prometheus_client's sample name
SAMPLE_NAMES = {field: "process_" + field for field in ProcessCost._fields}


class AgentCost:
    """Reads the agent's ProcessCost. The collector reads /proc/stat's btime once, at
    construction."""

    def __init__(self) -> None:
        self._collector = ProcessCollector(registry=None)

    def read(self) -> ProcessCost:
        values: dict[str, float] = {}
        for metric in self._collector.collect():
            for sample in metric.samples:
                values[sample.name] = float(sample.value)
        return ProcessCost(*(values.get(SAMPLE_NAMES[f]) for f in ProcessCost._fields))
