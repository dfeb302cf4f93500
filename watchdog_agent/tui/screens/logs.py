"""A container's log: the last 500 lines, then followed; ``f`` toggles following (new
lines keep arriving, the view stops scrolling), ``/`` searches (matches highlighted, the
view on the newest one), ``n``/``N`` move to the next/previous match. Lines are escaped
(termsafe.escape_lines) and written as Rich Text, so neither terminal escapes nor Rich
markup in a log line are ever obeyed; stderr lines carry a red bar. The buffer is bounded."""

from __future__ import annotations

import re
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Input, Static

from watchdog_agent.model import LogLine
from watchdog_agent.termsafe import escape_lines
from watchdog_agent.tui.view import Fleet, FleetError, FleetView

from .base import FleetScreen, label, row_of, vanished
from .logview import STDERR_BAR, LogView

TAIL = 500
BUFFER = 5000  # lines kept (the oldest go first)


def search_pattern(term: str) -> re.Pattern[str] | None:
    """A literal, case-insensitive search (None: no search)."""
    return re.compile(re.escape(term), re.IGNORECASE) if term else None


class LogsScreen(FleetScreen):
    """``l``: the container's log lines, followed."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "toggle_follow", "Follow"),
        Binding("slash", "search", "Search"),
        Binding("n", "next_match", "Next"),
        Binding("N", "previous_match", "Previous", show=False),
    ]

    def __init__(
        self, fleet: Fleet, host_key: str, container_id: str, *, buffer: int = BUFFER
    ) -> None:
        super().__init__(fleet, host_key)
        self.container_id = container_id
        self.buffer = buffer
        self.log_view = LogView(buffer, id="log")
        self.lines = self.log_view.lines  # the bounded buffer (the view draws from it)
        self.term = ""
        self.pattern: re.Pattern[str] | None = None
        self.matches: list[int] = []  # indexes into lines
        self.current: int | None = None  # index into matches
        self.ended: str | None = None
        self.flush_due = False
        self.title_line = Static(f"Log of {label(None, container_id)}", id="title", markup=False)
        self.search = Input(placeholder="search (Enter: find, Escape: cancel)", id="search")

    @property
    def follow(self) -> bool:
        return self.log_view.follow

    def compose(self) -> ComposeResult:
        yield self.title_line
        yield self.log_view
        yield self.search
        yield from self.compose_status()
        yield Footer()

    def on_mount(self) -> None:
        self.search.display = False
        self.log_view.focus()
        self.show_state()
        self.run_worker(self._stream(), group="logs", exclusive=True)

    async def _stream(self) -> None:
        try:
            async for line in self.fleet.logs(
                self.host_key, self.container_id, tail=TAIL, follow=True
            ):
                self._add(line)
        except FleetError as e:
            self.ended = f"logs: {e}"
            self.show_status(self.ended, error=True)
            return
        self.ended = "the log ended (the container stopped)"
        self.show_state()

    def _add(self, line: LogLine) -> None:
        """Keep the line; the view is updated once for all the lines that arrive before
        the next frame (a chatty container costs one repaint a frame, not one a line)."""
        if len(self.lines) == self.buffer:  # the oldest line goes
            self._forget_oldest()
        self.log_view.append(line)
        if self.pattern is not None and self.pattern.search(escape_lines(line.line)):
            self.matches.append(len(self.lines) - 1)
        if not self.flush_due:
            self.flush_due = True
            self.call_after_refresh(self._flush)

    def _forget_oldest(self) -> None:
        if not self.matches:
            return
        dropped = self.matches[0] == 0
        self.matches = [i - 1 for i in self.matches if i > 0]
        if dropped and self.current is not None:
            self.current = self.current - 1 if self.current > 0 else None
        if not self.matches:
            self.current = None
        self._mark()

    def _flush(self) -> None:
        self.flush_due = False
        self.log_view.changed()
        self.show_state()

    def show_state(self) -> None:
        parts = [
            "following" if self.follow else "paused (f: follow)",
            f"{len(self.lines)} lines",
        ]
        if self.term:
            at = "" if self.current is None else f"{self.current + 1}/"
            parts.append(f"search {self.term!r}: {at}{len(self.matches)} matches")
        if self.ended:
            parts.append(self.ended)
        parts.append(f"{STDERR_BAR.strip()} stderr")
        self.show_status("  |  ".join(parts))

    def _mark(self) -> None:
        line = None if self.current is None else self.matches[self.current]
        self.log_view.mark(self.pattern, line)

    def _set_follow(self, on: bool) -> None:
        self.log_view.follow = on
        if on:
            self.log_view.scroll_end(animate=False, immediate=True)

    # -- keys
    def action_toggle_follow(self) -> None:
        self._set_follow(not self.follow)
        self.show_state()

    def action_search(self) -> None:
        self.search.display = True
        self.search.value = self.term
        self.search.focus()

    def action_back(self) -> None:
        if self.search.display:
            self.search.display = False
            self.log_view.focus()
            return
        super().action_back()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.search.display = False
        self.log_view.focus()
        self.find(event.value)

    def find(self, term: str) -> None:
        """Mark every line holding ``term`` and show the newest one (following stops)."""
        self.term = term
        self.pattern = search_pattern(term)
        self.matches = []
        if self.pattern is not None:
            pattern = self.pattern
            self.matches = [
                i for i, line in enumerate(self.lines) if pattern.search(escape_lines(line.line))
            ]
        self.current = len(self.matches) - 1 if self.matches else None
        self._mark()
        if self.current is not None:
            self._set_follow(False)
            self._show_match()
        self.show_state()

    def _step(self, by: int) -> None:
        if not self.matches:
            self.notify("no matches" if self.term else "no search (/ to search)")
            return
        here = -1 if self.current is None else self.current
        self.current = (here + by) % len(self.matches)
        self._set_follow(False)
        self._mark()
        self._show_match()
        self.show_state()

    def action_next_match(self) -> None:
        self._step(1)

    def action_previous_match(self) -> None:
        self._step(-1)

    def _show_match(self) -> None:
        if self.current is None:
            return
        index = self.matches[self.current]
        top = max(0, index - self.log_view.scrollable_content_region.height // 2)
        self.log_view.scroll_to(y=top, animate=False, immediate=True)

    def fleet_changed(self, view: FleetView) -> None:
        if vanished(view, self.host_key, self.container_id):
            self.ended = "the container is gone (removed)"
            self.show_state()
        row = row_of(view, self.host_key, self.container_id)
        if row is not None:
            self.title_line.update(Text(f"Log of {label(row.name, row.id)}"))
