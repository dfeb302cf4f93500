"""Docker events of one host: the last hour, then live, newest at the bottom. ``f`` edits
the filters (docker's ``key=value`` grammar, ``key!=value`` to exclude, separated by
spaces); a bad filter is refused with the grammar's own message and the old one kept.
Every attribute is escaped; lines are Rich Text, never markup."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Input, RichLog, Static

from watchdog_agent.errors import UsageError
from watchdog_agent.events.filters import parse_filters
from watchdog_agent.model import Event
from watchdog_agent.termsafe import escape
from watchdog_agent.tui.view import Fleet, FleetError

from .base import FleetScreen

SINCE = "1h"
BUFFER = 2000  # events kept on screen
ACTION_STYLES = {"die": "red", "oom": "bold red", "kill": "red", "start": "green"}


def event_line(e: Event) -> Text:
    """``HH:MM:SS type action name-or-id (key=value ...)``, every part escaped (UTC)."""
    when = datetime.fromtimestamp(e.time_nano / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S")
    who = e.attributes.get("name") or e.actor_id[:12]
    action = e.action.partition(":")[0]
    out = Text(f"{when}  {escape(e.type):9} ")
    out.append(escape(e.action), style=ACTION_STYLES.get(action, "bold"))
    out.append(f"  {escape(who)}")
    rest = [f"{escape(k)}={escape(v)}" for k, v in sorted(e.attributes.items()) if k != "name"]
    if rest:
        out.append(f"  ({', '.join(rest)})", style="dim")
    return out


def split_filters(text: str) -> tuple[str, ...]:
    """The filter input: items separated by spaces (or commas), shell quoting allowed."""
    try:
        words = shlex.split(text.replace(",", " "))
    except ValueError as e:
        raise UsageError(f"bad filter {text!r}: {e}") from None
    return tuple(w for w in words if w)


class EventsScreen(FleetScreen):
    """``e``: events matching ``filters`` (the container's own, from its view)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("f", "edit_filter", "Filter")]

    def __init__(self, fleet: Fleet, host_key: str, filters: tuple[str, ...]) -> None:
        super().__init__(fleet, host_key)
        self.filters = filters
        self.count = 0
        self.failed: str | None = None
        self.rejected: str | None = None  # a bad filter's message, until the next try
        self.title_line = Static("", id="title", markup=False)
        self.log_view = RichLog(max_lines=BUFFER, wrap=False, markup=False, highlight=False)
        self.editor = Input(placeholder="key=value ... (Enter: apply, Escape: cancel)", id="filter")

    def compose(self) -> ComposeResult:
        yield self.title_line
        yield self.log_view
        yield self.editor
        yield from self.compose_status()
        yield Footer()

    def on_mount(self) -> None:
        self.editor.display = False
        self.restart()

    def restart(self) -> None:
        """(Re)open the stream with the current filters: the last hour, then live."""
        self.count = 0
        self.failed = None
        self.log_view.clear()
        shown = " ".join(self.filters) or "none"
        title = f"Events since {SINCE} ago, then live   filters: {escape(shown)}"
        self.title_line.update(Text(title))
        self.show_state()
        self.run_worker(self._stream(self.filters), group="events", exclusive=True)

    async def _stream(self, filters: Sequence[str]) -> None:
        try:
            async for event in self.fleet.events(self.host_key, filters, SINCE):
                self.count += 1
                self.log_view.write(event_line(event))
                self.show_state()
        except FleetError as e:
            self.failed = f"events: {e}"
            self.show_state()

    def show_state(self) -> None:
        problem = self.rejected or self.failed
        if problem is not None:
            self.show_status(problem, error=True)
            return
        noun = "event" if self.count == 1 else "events"
        self.show_status(f"{self.count} {noun}; live (f: filter)")

    def action_edit_filter(self) -> None:
        self.editor.display = True
        self.editor.value = " ".join(self.filters)
        self.editor.focus()

    def action_back(self) -> None:
        if self.editor.display:
            self.editor.display = False
            self.rejected = None
            self.show_state()
            self.log_view.focus()
            return
        super().action_back()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            filters = split_filters(event.value)
            parse_filters(filters)
        except UsageError as e:
            self.rejected = f"{e} (the filter was not changed)"
            self.show_state()
            return
        self.rejected = None
        self.editor.display = False
        self.log_view.focus()
        self.filters = filters
        self.restart()
