"""The host's totals and the agent's own cost, read on the sampling interval by a task of
their own, in a worker thread apart from the container pass, which they never delay
(bench/host.py: about 0.7 ms of CPU a reading)."""

from __future__ import annotations

from watchdog_agent.aio import FixedRate, run_to_end
from watchdog_agent.collectors.agentcost import AgentCost
from watchdog_agent.collectors.host import HostReader
from watchdog_agent.logsetup import get_logger
from watchdog_agent.model import HostSample, ProcessCost

log = get_logger("watchdog_agent.agent.hostsampler")


class HostSampler:
    """The latest ``HostSample`` (``host``) and ``ProcessCost`` (``cost``)."""

    def __init__(self, proc_root: str, interval: float) -> None:
        self.proc_root = proc_root
        self.interval = interval
        self.host: HostSample | None = None
        self.cost: ProcessCost | None = None
        self._reader: HostReader | None = None
        self._self: AgentCost | None = None

    async def start(self) -> None:
        """The readers and the first reading, before the server answers."""
        self._reader, self._self = await run_to_end(_readers, self.proc_root)
        await self._read()

    async def run(self) -> None:
        """A reading every ``interval`` seconds after the first, until cancelled."""
        rate = FixedRate(self.interval, first=self.interval)
        while True:
            await rate.wait()
            try:
                await self._read()
            except Exception:
                log.exception("host sample failed")

    async def _read(self) -> None:
        assert self._reader is not None and self._self is not None, "start() first"
        self.host, self.cost = await run_to_end(_read, self._reader, self._self)


def _readers(proc_root: str) -> tuple[HostReader, AgentCost]:
    return HostReader(proc_root), AgentCost()


def _read(reader: HostReader, cost: AgentCost) -> tuple[HostSample, ProcessCost]:
    return reader.read(), cost.read()
