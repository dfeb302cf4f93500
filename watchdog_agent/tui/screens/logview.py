"""The log lines as a Line API widget: a bounded buffer the screen owns, of which only
the visible lines are rendered (a search over 5,000 lines marks the matches and repaints
one screenful; writing each line into a RichLog cost ~0.4 ms a line, measured here)."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable

from rich.segment import Segment
from rich.text import Text
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from watchdog_agent.model import LogLine
from watchdog_agent.termsafe import escape_lines

MATCH_STYLE = "black on yellow"
CURRENT_STYLE = "reverse"
STDERR_BAR = "┃ "
PLAIN_BAR = "  "


def line_text(line: LogLine, pattern: re.Pattern[str] | None = None) -> Text:
    """One log line for the screen: a bar for stderr, the text escaped (Rich markup in it
    is text: this is a Text, never a markup string), matches marked."""
    bar = Text(STDERR_BAR if line.stream != "stdout" else PLAIN_BAR, style="bold red")
    body = Text(escape_lines(line.line).replace("\n", " ").expandtabs(8))
    if line.stream == "system":
        body.stylize("italic")
    if pattern is not None:
        body.highlight_regex(pattern, MATCH_STYLE)
    return bar + body


class LogView(ScrollView, can_focus=True):
    """Shows ``lines`` (oldest first); ``follow`` keeps the newest in view."""

    DEFAULT_CSS = "LogView { height: 1fr; }"

    def __init__(self, buffer: int, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: deque[LogLine] = deque(maxlen=buffer)
        self.pattern: re.Pattern[str] | None = None
        self.current: int | None = None  # index of the line of the current match
        self.follow = True
        self._width = 0

    def append(self, line: LogLine) -> None:
        """Keep ``line`` (the oldest goes when full); shown at the next ``changed``."""
        self.lines.append(line)
        self._width = max(self._width, len(line.line) + len(PLAIN_BAR))

    def add(self, lines: Iterable[LogLine]) -> None:
        for line in lines:
            self.append(line)
        self.changed()

    def changed(self) -> None:
        """Lines were appended: resize, and keep the newest in view when following."""
        self._resize()
        if self.follow:
            self.scroll_end(animate=False)  # after the new size is laid out

    def on_resize(self) -> None:
        if self.follow:
            self.scroll_end(animate=False)

    def mark(self, pattern: re.Pattern[str] | None, current: int | None) -> None:
        self.pattern = pattern
        self.current = current
        self.refresh()

    def _resize(self) -> None:
        self.virtual_size = Size(self._width, len(self.lines))
        self.refresh()

    def plain_lines(self) -> list[str]:
        """What each line shows, as plain text (tests)."""
        return [line_text(line).plain for line in self.lines]

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.scrollable_content_region.width
        if index >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        text = line_text(self.lines[index], self.pattern)
        if index == self.current:
            text.stylize(CURRENT_STYLE)
        segments = [Segment(s.text, s.style) for s in text.render(self.app.console, end="")]
        strip = Strip(segments).crop_extend(scroll_x, scroll_x + width, self.rich_style)
        return strip.apply_style(self.rich_style)
