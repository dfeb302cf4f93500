"""One container: sparklines of CPU, memory, network, block I/O and PSI (full at once from
the agent's history, then extended by each publish), limits, the memory breakdown beside
what docker stats and cAdvisor call memory, the process tree (host PID and container PID),
its recent events and, for a dead container, its post-mortem. Every read is a worker's."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, Sparkline, Static
from textual.worker import Worker

from watchdog_agent.commands.pmtext import render as postmortem_text
from watchdog_agent.commands.textfmt import binary_size
from watchdog_agent.model import Event
from watchdog_agent.termsafe import escape
from watchdog_agent.tui.columns import duration
from watchdog_agent.tui.view import Fleet, FleetError, FleetView, Row

from .base import MISSING, FleetScreen, host_of, label, row_of, vanished
from .events import EventsScreen, event_line
from .logs import LogsScreen
from .memory import memory_table
from .proctable import process_table
from .series import KEEP, SPECS, Series
from .tree import TreeScreen

REFRESH_SECONDS = 2.0  # the document (memory, limits) and the process tree
EVENTS_SHOWN = 10
EVENTS_SINCE = "1h"
DEAD_STATES = frozenset({"exited", "dead"})


def limits_line(doc: Mapping[str, Any]) -> str:
    raw = doc.get("limits")
    limits: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    cpus = limits.get("cpus")
    memory = limits.get("memory_bytes")
    pids = limits.get("pids")
    return "   ".join((
        f"CPUs {cpus:g}" if isinstance(cpus, int | float) else "CPUs unlimited",
        f"memory {binary_size(memory)}" if isinstance(memory, int) else "memory unlimited",
        f"PIDs {pids}" if isinstance(pids, int) else "PIDs unlimited",
    ))  # fmt: skip


def state_line(doc: Mapping[str, Any], row: Row | None, now: float) -> str:
    state = str(doc.get("state") or (row.state if row else None) or MISSING)
    out = f"state {escape(state)}"
    if row is not None and row.running and row.started_at is not None:
        out += f" (up {duration(now - row.started_at)})"
    code = doc.get("exit_code")
    if state in DEAD_STATES and code is not None:
        out += f"   exit code {code}"
        if doc.get("oom_killed"):
            out += " (OOM killed)"
    restarts = doc.get("restart_count")
    if restarts:
        out += f"   restarts {restarts}"
    return out + f"   image {escape(str(doc.get('image') or MISSING))}"


class ContainerScreen(FleetScreen):
    """Enter: the container view. ``l`` logs, ``t`` tree, ``e`` its events."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("l", "logs", "Logs"),
        Binding("t", "tree", "Tree"),
        Binding("e", "events", "Events"),
    ]

    def __init__(
        self, fleet: Fleet, host_key: str, container_id: str, clock: Callable[[], float]
    ) -> None:
        super().__init__(fleet, host_key)
        self.container_id = container_id
        self.clock = clock
        self.row: Row | None = None
        self.host_name: str | None = None
        self.doc: Mapping[str, Any] | None = None
        self.gone = False
        self.postmortem_read = False
        self.reading: Worker[None] | None = None
        self.series = Series(KEEP)
        self.recent: deque[Event] = deque(maxlen=EVENTS_SHOWN)
        self.title_line = Static(label(None, container_id), id="title", markup=False)
        self.info = Static("", id="info", markup=False)
        self.sparks = {s.key: Sparkline([], id=f"spark-{s.key}") for s in SPECS}
        self.values = {s.key: Static("", classes="spark-value", markup=False) for s in SPECS}
        self.history_title = Static(Text("History"), classes="section", markup=False)
        self.memory = Static("", id="memory", markup=False)
        self.procs = Static("", id="processes", markup=False)
        self.events_view = Static(Text("none in the last hour"), id="events", markup=False)
        self.postmortem = Static("", id="postmortem", markup=False)
        self.problems: dict[str, str] = {}  # part -> what failed

    DEFAULT_CSS = """
    ContainerScreen .spark-row { height: 1; }
    ContainerScreen .spark-title { width: 14; }
    ContainerScreen .spark-value { width: 28; }
    ContainerScreen Sparkline { width: 1fr; height: 1; }
    ContainerScreen .section { margin-top: 1; text-style: bold; }
    """

    def compose(self) -> ComposeResult:
        yield self.title_line
        with VerticalScroll():
            yield self.info
            yield self.history_title
            for spec in SPECS:
                with Horizontal(classes="spark-row"):
                    yield Static(Text(spec.title), classes="spark-title")
                    yield self.sparks[spec.key]
                    yield self.values[spec.key]
            yield Static(Text("Memory"), classes="section")
            yield self.memory
            yield Static(Text("Processes (PID: host, CPID: in the container)"), classes="section")
            yield self.procs
            yield Static(Text(f"Recent events (the last {EVENTS_SHOWN})"), classes="section")
            yield self.events_view
            yield self.postmortem
        yield from self.compose_status()
        yield Footer()

    def on_mount(self) -> None:
        self.postmortem.display = False
        self.show_status("reading...")
        self.run_worker(self._events(), group="events", exclusive=True)
        self.set_interval(REFRESH_SECONDS, self.refresh_parts)

    def on_screen_resume(self) -> None:
        """On top again (first shown, or back from logs/tree/events): the sparklines are
        filled again from the history, which covers the time spent away."""
        self.run_worker(self._history(), group="history", exclusive=True)
        self.refresh_parts()

    def refresh_parts(self) -> None:
        """Read the document and the tree again, unless the container is gone or a read
        is under way (a slow agent's answer is not cancelled by the next tick)."""
        if self.gone or (self.reading is not None and self.reading.is_running):
            return
        self.reading = self.run_worker(self._parts(), group="parts")

    # -- workers
    async def _history(self) -> None:
        try:
            history = await self.fleet.history(self.host_key, self.container_id, KEEP)
        except FleetError as e:
            self._problem("history", e)
            return
        self.series.fill(history)
        self._draw_series()
        self._problem("history", None)

    async def _parts(self) -> None:
        try:
            doc = await self.fleet.container(self.host_key, self.container_id)
        except FleetError as e:
            self._problem("container", e)
            if not self.postmortem_read:  # removed (docker run --rm): it may have one
                await self._postmortem(quiet=True)
            return
        self._problem("container", None)
        self.doc = doc
        self._draw_doc()
        state = str(doc.get("state") or "")
        if state in DEAD_STATES:
            self.procs.update(Text("none: the container is not running"))
            if not self.postmortem_read:
                await self._postmortem()
            return
        try:
            roots = await self.fleet.top(self.host_key, self.container_id)
        except FleetError as e:
            self.procs.update(Text(f"process tree: {escape(str(e))}", style="red"))
            return
        self.procs.update(process_table(roots))

    async def _postmortem(self, *, quiet: bool = False) -> None:
        """``quiet``: only show one that exists (the container's state is unknown)."""
        self.postmortem_read = True
        try:
            doc = await self.fleet.postmortem(self.host_key, self.container_id)
        except FleetError as e:
            if not quiet:
                self._problem("post-mortem", e)
            return
        if doc is None and quiet:
            return
        self.postmortem.display = True
        if doc is None:
            self.postmortem.update(Text("Post-mortem: none recorded for this container"))
            return
        try:
            text = postmortem_text(dict(doc))
        except (KeyError, TypeError, ValueError) as e:
            text = f"the post-mortem document could not be read ({e!r})"
        self.postmortem.update(Group(Text("Post-mortem", style="bold"), Text(text)))

    async def _events(self) -> None:
        filters = (f"container={self.container_id}",)
        try:
            async for event in self.fleet.events(self.host_key, filters, EVENTS_SINCE):
                self.recent.append(event)
                self.events_view.update(Text("\n").join(event_line(e) for e in self.recent))
        except FleetError as e:
            self.events_view.update(Text(f"events: {escape(str(e))}", style="red"))

    # -- drawing
    def _problem(self, part: str, error: FleetError | None) -> None:
        if error is None:
            self.problems.pop(part, None)
        else:
            self.problems[part] = f"{part}: {error}"
        self._show_state()

    def _show_state(self) -> None:
        if self.gone:
            self.show_status("the container is gone (removed)", error=True)
        elif self.problems:
            self.show_status("; ".join(self.problems.values()), error=True)
        else:
            self.show_status(f"{len(self.series)} samples; l logs  t tree  e events  Esc back")

    def _draw_doc(self) -> None:
        doc = self.doc
        if doc is None:
            return
        name = doc.get("name") if isinstance(doc.get("name"), str) else None
        self.title_line.update(Text(f"Container {label(name, self.container_id)}", style="bold"))
        host = self.host_name or self.host_key
        lines = [state_line(doc, self.row, self.clock()), f"limits: {limits_line(doc)}",
                 f"host {escape(host)}"]  # fmt: skip
        self.info.update(Text("\n".join(lines)))
        stats = doc.get("stats")
        self.memory.update(memory_table(stats if isinstance(stats, Mapping) else None))

    def _draw_series(self) -> None:
        self.history_title.update(Text(f"History: {self.series.span()}"))
        for spec in SPECS:
            self.sparks[spec.key].data = self.series.known(spec.key)
            self.values[spec.key].update(Text(self.series.summary(spec)))
        self._show_state()

    # -- the app's calls and keys
    def fleet_changed(self, view: FleetView) -> None:
        gone = vanished(view, self.host_key, self.container_id)
        if gone != self.gone:
            self.gone = gone
            self._show_state()
            if not gone:
                self.refresh_parts()
        host = host_of(view, self.host_key)
        if host is not None and host.name != self.host_name:
            self.host_name = host.name
            self._draw_doc()
        row = row_of(view, self.host_key, self.container_id)
        if row is None:
            return
        self.row = row
        if row.running and self.series.extend(row, None if host is None else host.sampled_at):
            self._draw_series()

    def action_logs(self) -> None:
        self.app.push_screen(LogsScreen(self.fleet, self.host_key, self.container_id))

    def action_tree(self) -> None:
        self.app.push_screen(TreeScreen(self.fleet, self.host_key, self.container_id))

    def action_events(self) -> None:
        filters = (f"container={self.container_id}",)
        self.app.push_screen(EventsScreen(self.fleet, self.host_key, filters))
