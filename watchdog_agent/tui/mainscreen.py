"""The main screen: header, the container table, the status line, the filter input and
ctop's keys. It owns the TableModel; the app hands it every FleetView.

The other screens are imported when their key is pressed (they belong to their own
modules and need only the Fleet, a host key and a container id).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.events import Resize
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from watchdog_agent.errors import UsageError
from watchdog_agent.termsafe import escape

from .header import FleetHeader
from .options import ViewOptions
from .rowfilter import RowFilter, event_filters, from_terms, parse_filter
from .screens.help import HelpScreen
from .screens.sortpick import SortPicker
from .table import ContainerTable
from .tablemodel import TableModel
from .view import Fleet, FleetView

MIN_WIDTH, MIN_HEIGHT = 80, 12


class FilterInput(Input):
    """The ``f`` / ``/`` line: Enter applies (Input.Submitted), Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    class Cancelled(Input.Changed):
        pass

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled(self, self.value))


class MainScreen(Screen[None]):
    AUTO_FOCUS = "#table"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort_menu", "Sort"),
        Binding("r", "reverse", "Reverse"),
        Binding("f,slash", "filter", "Filter"),
        Binding("a", "toggle_all", "All"),
        Binding("enter", "open", "Open", show=False),
        Binding("l", "logs", "Logs", show=False),
        Binding("e", "events", "Events", show=False),
        Binding("t", "tree", "Tree", show=False),
        Binding("d", "disk", "Disk", show=False),
        Binding("p", "pause", "Pause"),
        Binding("h,question_mark", "help", "Help"),
    ]

    def __init__(self, fleet: Fleet, options: ViewOptions, clock: Callable[[], float]) -> None:
        super().__init__()
        self.fleet = fleet
        self.clock = clock
        self.filter_error: str | None = None
        try:
            row_filter = from_terms(options.filters)
        except UsageError as exc:
            row_filter, self.filter_error = RowFilter(), str(exc)
        self.model = TableModel(
            sort=options.sort, reverse=options.reverse, show_all=options.all, row_filter=row_filter
        )
        self.paused = False
        self.view: FleetView | None = None  # the latest view shown
        self.pending: FleetView | None = None  # the latest view held back by a pause
        self._widgets_ready = False  # widgets exist (views before that wait for on_mount)

    def compose(self) -> ComposeResult:
        yield FleetHeader(id="header")
        yield ContainerTable(self.model, self.clock, id="table")
        yield Static(id="too-small")
        yield FilterInput(placeholder="filter: words, or KEY=VALUE (Enter applies, Escape cancels)",
                          id="filter")  # fmt: skip
        yield Static(id="status")
        yield Footer()

    @property
    def table(self) -> ContainerTable:
        return self.query_one("#table", ContainerTable)

    def on_mount(self) -> None:
        self.query_one("#filter").display = False
        self._widgets_ready = True
        if self.view is not None:
            self.show(self.view)
        self.table.model_changed()
        self._status()
        if self.filter_error is not None:
            self.notify(self.filter_error, title="filter ignored", severity="error")

    # --- data ----------------------------------------------------------------------

    def fleet_changed(self, view: FleetView) -> None:
        """A new FleetView: shown at once, or held until ``p`` resumes."""
        if self.paused:
            self.pending = view
            return
        self.show(view)

    def show(self, view: FleetView) -> None:
        self.view, self.pending = view, None
        self.model.update(view)
        if self._widgets_ready:
            self.query_one("#header", FleetHeader).show(view, self.clock())
            self.table.model_changed()
            self._status()

    def _status(self) -> None:
        m = self.model
        arrow = "▼" if m.descending else "▲"
        parts = [
            f"{len(m.visible)} of {m.total} containers",
            f"sort {m.sort_column.title} {arrow}",
        ]
        if m.row_filter.active:
            parts.append(f"filter: {escape(m.row_filter.text)}")
        parts.append("stopped shown" if m.show_all else "stopped hidden (a shows them)")
        text = Content("  ·  ".join(parts))
        if self.paused:
            text = Content.assemble(("PAUSED (p resumes)", "bold reverse $warning"), "  ", text)
        self.query_one("#status", Static).update(text, layout=False)  # one line, always

    def _changed(self) -> None:
        self.table.model_changed()
        self._status()

    # --- size ----------------------------------------------------------------------

    def on_resize(self, event: Resize) -> None:
        width, height = event.size
        small = width < MIN_WIDTH or height < MIN_HEIGHT
        self.set_class(small, "-too-small")
        if small:
            self.query_one("#too-small", Static).update(
                f"dstats needs a terminal of at least {MIN_WIDTH}x{MIN_HEIGHT}; "
                f"this one is {width}x{height}. Enlarge it (q quits)."
            )

    # --- keys ----------------------------------------------------------------------

    def action_sort_menu(self) -> None:
        def chosen(key: str | None) -> None:
            if key is not None:
                self.model.choose_sort(key)
                self._changed()

        self.app.push_screen(SortPicker(self.model.columns, self.model.sort_column.key), chosen)

    def action_reverse(self) -> None:
        self.model.toggle_reverse()
        self._changed()

    def action_toggle_all(self) -> None:
        self.model.toggle_all()
        self._changed()

    def action_pause(self) -> None:
        self.paused = not self.paused
        if not self.paused and self.pending is not None:
            self.show(self.pending)
        self._status()

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_filter(self) -> None:
        box = self.query_one("#filter", FilterInput)
        box.value = self.model.row_filter.text
        box.remove_class("-invalid")
        box.display = True
        box.focus()

    @on(Input.Submitted, "#filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            row_filter = parse_filter(event.value)
        except UsageError as exc:
            event.input.add_class("-invalid")
            self.notify(str(exc), title="filter", severity="error")
            return
        self.model.set_filter(row_filter)
        self._close_filter()
        self._changed()

    @on(FilterInput.Cancelled)
    def _filter_cancelled(self, event: FilterInput.Cancelled) -> None:
        event.stop()
        self._close_filter()

    def _close_filter(self) -> None:
        self.query_one("#filter").display = False
        self.table.focus()

    def on_container_table_sort_changed(self, event: ContainerTable.SortChanged) -> None:
        self._status()

    # --- other screens -------------------------------------------------------------

    def _selected(self) -> tuple[str, str] | None:
        row = self.model.selected
        if row is None:
            self.notify("no container selected", severity="warning")
            return None
        return row.host, row.id

    def _host(self) -> str | None:
        row = self.model.selected
        if row is not None:
            return row.host
        if self.view is not None and self.view.hosts:
            return self.view.hosts[0].key
        self.notify("no host yet", severity="warning")
        return None

    def action_open(self) -> None:
        if (sel := self._selected()) is not None:
            from .screens.container import ContainerScreen

            self.app.push_screen(ContainerScreen(self.fleet, sel[0], sel[1], self.clock))

    def action_logs(self) -> None:
        if (sel := self._selected()) is not None:
            from .screens.logs import LogsScreen

            self.app.push_screen(LogsScreen(self.fleet, sel[0], sel[1]))

    def action_tree(self) -> None:
        if (sel := self._selected()) is not None:
            from .screens.tree import TreeScreen

            self.app.push_screen(TreeScreen(self.fleet, sel[0], sel[1]))

    def action_events(self) -> None:
        if (host := self._host()) is not None:
            from .screens.events import EventsScreen

            filters = event_filters(self.model.row_filter)
            self.app.push_screen(EventsScreen(self.fleet, host, filters))

    def action_disk(self) -> None:
        if (host := self._host()) is not None:
            from .screens.disk import DiskScreen

            self.app.push_screen(DiskScreen(self.fleet, host))
