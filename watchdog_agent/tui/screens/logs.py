"""A container's log: the last 500 lines, then followed; ``f`` toggles following (new
lines keep arriving, the view stops scrolling), ``/`` searches (matches highlighted, the
view on the newest one), ``n``/``N`` move to the next/previous match. Lines are escaped
(termsafe.escape_lines) and written as Rich Text, so neither terminal escapes nor Rich
markup in a log line are ever obeyed; stderr lines carry a red bar. The buffer is bounded."""

from __future__ import annotations

import re
from collections import deque
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Footer, Input, RichLog, Static

from watchdog_agent.model import LogLine
from watchdog_agent.termsafe import escape_lines
from watchdog_agent.tui.view import Fleet, FleetError, FleetView

from .base import FleetScreen, label, row_of

TAIL = 500
BUFFER = 5000  # lines kept (the oldest go first)
MATCH_STYLE = "black on yellow"
STDERR_BAR = "┃ "
PLAIN_BAR = "  "


def render_line(line: LogLine, pattern: re.Pattern[str] | None = None) -> Text:
    """One log line for the screen: a bar for stderr, the text escaped, matches marked."""
    bar = Text(STDERR_BAR if line.stream != "stdout" else PLAIN_BAR, style="bold red")
    body = Text(escape_lines(line.line).replace("\n", " "))
    if line.stream == "system":
        body.stylize("italic")
    if pattern is not None:
        body.highlight_regex(pattern, MATCH_STYLE)
    return bar + body


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
        self.lines: deque[LogLine] = deque(maxlen=buffer)
        self.follow = True
        self.term = ""
        self.pattern: re.Pattern[str] | None = None
        self.matches: list[int] = []
        self.current: int | None = None  # index into matches
        self.ended: str | None = None
        self.title_line = Static(f"Log of {label(None, container_id)}", id="title", markup=False)
        self.log_view = RichLog(max_lines=buffer, wrap=False, markup=False, highlight=False)
        self.search = Input(placeholder="search (Enter: find, Escape: cancel)", id="search")

    def compose(self) -> ComposeResult:
        yield self.title_line
        yield self.log_view
        yield self.search
        yield from self.compose_status()
        yield Footer()

    def on_mount(self) -> None:
        self.search.display = False
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
        if len(self.lines) == self.buffer and self.matches:  # the oldest line goes
            self.matches = [i - 1 for i in self.matches if i > 0]
        self.lines.append(line)
        if self.pattern is not None and self.pattern.search(escape_lines(line.line)):
            self.matches.append(len(self.lines) - 1)
        self.log_view.write(render_line(line, self.pattern), scroll_end=self.follow)
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

    def _redraw(self) -> None:
        self.log_view.clear()
        for line in self.lines:
            self.log_view.write(render_line(line, self.pattern), scroll_end=False)

    # -- keys
    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        self.log_view.auto_scroll = self.follow
        if self.follow:
            self.log_view.scroll_end(animate=False)
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
        self._redraw()
        if self.current is not None:
            self.follow = False
            self.log_view.auto_scroll = False
            self._show_match()
        self.show_state()

    def _step(self, by: int) -> None:
        if not self.matches:
            self.notify("no matches" if self.term else "no search (/ to search)")
            return
        here = -1 if self.current is None else self.current
        self.current = (here + by) % len(self.matches)
        self.follow = False
        self.log_view.auto_scroll = False
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
        row = row_of(view, self.host_key, self.container_id)
        if row is None:
            self.ended = "the container is gone (removed)"
            self.show_state()
            return
        self.title_line.update(Text(f"Log of {label(row.name, row.id)}"))
