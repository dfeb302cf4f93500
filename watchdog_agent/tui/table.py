"""The main table: a Line API widget over the app's TableModel.

Only the lines on screen are rendered (about one per terminal row), from the model's
``visible`` list, so a refresh costs what the screen shows, not the number of
containers (Textual's DataTable re-measures every cell and is too slow at 1,000 rows).
The first line is the column header and stays put while the rows scroll under it; a
click on a title sorts by that column (again: reverses). The widget keeps no data of
its own: sorting, filtering and the cursor live in the model.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from .columns import Cell, Column, Context, Tone
from .tablemodel import TableModel

SEPARATOR = 1  # spaces between columns
ELLIPSIS = "…"


class ContainerTable(ScrollView, can_focus=True):
    """The containers, one per line, under a fixed header line."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "container-table--header",
        "container-table--sorted",
        "container-table--cursor",
        "container-table--dim",
        "container-table--ok",
        "container-table--warn",
        "container-table--crit",
    }
    DEFAULT_CSS = """
    ContainerTable { height: 1fr; }
    ContainerTable > .container-table--header { text-style: bold; }
    ContainerTable > .container-table--sorted { text-style: bold reverse; }
    ContainerTable > .container-table--cursor { background: $block-cursor-background;
        color: $block-cursor-foreground; text-style: bold; }
    ContainerTable > .container-table--dim { color: $text-muted; }
    ContainerTable > .container-table--ok { color: $success; }
    ContainerTable > .container-table--warn { color: $warning; }
    ContainerTable > .container-table--crit { color: $error; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "cursor_to(0)", "First", show=False),
        Binding("end", "cursor_to(-1)", "Last", show=False),
        Binding("left", "shift_sort(-1)", "Sort ←", show=False),
        Binding("right", "shift_sort(1)", "Sort →", show=False),
    ]

    class SortChanged(Message):
        """The user picked another sort column or direction in the table itself."""

    def __init__(
        self, model: TableModel, clock: Callable[[], float], *, id: str | None = None
    ) -> None:
        super().__init__(id=id)
        self.model = model
        self.clock = clock
        self._spans: list[tuple[int, int, Column]] = []  # (start, end, column)
        self._tones: dict[Tone, Style] | None = None
        self._frame: _Frame | None = None

    # --- from the model ------------------------------------------------------------

    def model_changed(self) -> None:
        """Lay out the columns again, follow the cursor, repaint what is on screen."""
        spans: list[tuple[int, int, Column]] = []
        x = SEPARATOR
        for column in self.model.columns:
            width = self._width(column)
            spans.append((x, x + width, column))
            x += width + SEPARATOR
        self._spans = spans
        size = Size(x, len(self.model.visible) + 1)
        if size != self.virtual_size:
            self.virtual_size = size
        self._follow_cursor()
        self.refresh()

    @staticmethod
    def _width(column: Column) -> int:
        return max(column.width, cell_len(column.title) + 2)

    def _rows_on_screen(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def _follow_cursor(self) -> None:
        cursor, top, height = self.model.cursor, round(self.scroll_y), self._rows_on_screen()
        if cursor < top:
            self.scroll_to(y=cursor, animate=False)
        elif cursor >= top + height:
            self.scroll_to(y=cursor - height + 1, animate=False)

    # --- keys and mouse ------------------------------------------------------------

    def action_cursor(self, step: int) -> None:
        self.model.move_cursor(self.model.cursor + step)
        self.model_changed()

    def action_page(self, pages: int) -> None:
        self.action_cursor(pages * self._rows_on_screen())

    def action_cursor_to(self, index: int) -> None:
        self.model.move_cursor(len(self.model.visible) - 1 if index < 0 else index)
        self.model_changed()

    def action_shift_sort(self, step: int) -> None:
        self.model.shift_sort(step)
        self._show_sort_column()
        self.model_changed()
        self.post_message(self.SortChanged())

    def _show_sort_column(self) -> None:
        for start, end, column in self._spans:
            if column.key == self.model.sort_column.key:
                left, width = round(self.scroll_x), self.scrollable_content_region.width
                if start < left or end > left + width:
                    self.scroll_to(x=max(0, end - width if end > left + width else start),
                                   animate=False)  # fmt: skip

    def column_at(self, x: int) -> Column | None:
        """The column under content column ``x`` (scrolling included)."""
        x += round(self.scroll_x)
        for start, end, column in self._spans:
            if start - SEPARATOR <= x < end:
                return column
        return None

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self.column_at(offset.x)
            if column is not None:
                self.model.set_sort(column.key)
                self.model_changed()
                self.post_message(self.SortChanged())
            return
        self.model.move_cursor(round(self.scroll_y) + offset.y - 1)
        self.model_changed()

    # --- rendering -----------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._tones = None

    def _tone_styles(self) -> dict[Tone, Style]:
        tones = getattr(self, "_tones", None)
        if tones is None:
            partial = {
                Tone.PLAIN: Style(),
                Tone.DIM: self.get_component_rich_style("container-table--dim", partial=True),
                Tone.OK: self.get_component_rich_style("container-table--ok", partial=True),
                Tone.WARN: self.get_component_rich_style("container-table--warn", partial=True),
                Tone.CRIT: self.get_component_rich_style("container-table--crit", partial=True),
            }
            tones = self._tones = partial
        return tones

    def render_lines(self, crop: Region) -> list[Strip]:
        """One frame: what every line shares (styles, scroll, the formatters' context)
        is worked out once here, not once per line."""
        self._frame = _Frame(
            base=self.rich_style,
            cursor=self.rich_style + self.get_component_rich_style("container-table--cursor"),
            tones=self._tone_styles(),
            ctx=self.model.context(self.clock()),
            width=self.scrollable_content_region.width,
            scroll_x=round(self.scroll_x),
            scroll_y=round(self.scroll_y),
        )
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        frame = self._frame
        if frame is None:  # not from render_lines (Textual always calls it first)
            self.render_lines(Region(0, y, self.size.width, 1))
            frame = self._frame
            assert frame is not None
        if y == 0:
            strip = self._header_strip(frame.base)
        else:
            index = frame.scroll_y + y - 1
            if index >= len(self.model.visible):
                return Strip.blank(frame.width, frame.base)
            strip = self._row_strip(index, frame)
        if frame.scroll_x == 0 and strip.cell_length == frame.width:
            return strip
        return strip.crop_extend(frame.scroll_x, frame.scroll_x + frame.width, frame.base)

    def _header_strip(self, base: Style) -> Strip:
        header = base + self.get_component_rich_style("container-table--header")
        sorted_style = base + self.get_component_rich_style("container-table--sorted")
        arrow = " ▼" if self.model.descending else " ▲"
        segments = [Segment(" " * SEPARATOR, header)]
        for start, end, column in self._spans:
            is_sorted = column.key == self.model.sort_column.key
            title = column.title + (arrow if is_sorted else "")
            cell: Cell = ((title, Tone.PLAIN),)
            style = sorted_style if is_sorted else header
            segments += _cell(cell, end - start, column.right, style, {})
            segments.append(Segment(" " * SEPARATOR, header))
        return Strip(segments, self.virtual_size.width)

    def _row_strip(self, index: int, frame: _Frame) -> Strip:
        row = self.model.visible[index]
        base = frame.cursor if index == self.model.cursor else frame.base
        gap = Segment(" " * SEPARATOR, base)
        segments = [gap]
        left, right = frame.scroll_x, frame.scroll_x + frame.width
        for start, end, column in self._spans:
            if end < left or start > right:  # off screen: blank, not formatted
                segments.append(Segment(" " * (end - start), base))
            else:
                cell = column.format(row, frame.ctx)
                segments += _cell(cell, end - start, column.right, base, frame.tones)
            segments.append(gap)
        return Strip(segments, self.virtual_size.width)


@dataclass(frozen=True, slots=True)
class _Frame:
    base: Style
    cursor: Style
    tones: dict[Tone, Style]
    ctx: Context
    width: int
    scroll_x: int
    scroll_y: int


def _cell(
    cell: Cell, width: int, right: bool, base: Style, tones: dict[Tone, Style]
) -> list[Segment]:
    """A cell's pieces as segments exactly ``width`` cells wide (cropped with "…")."""
    total = sum(cell_len(text) for text, _ in cell)
    if total > width:
        kept: list[tuple[str, Tone]] = []
        room = width - 1
        for text, tone in cell:
            n = cell_len(text)
            if n > room:
                kept.append((set_cell_size(text, room), tone))
                break
            kept.append((text, tone))
            room -= n
        cell = (*kept, (ELLIPSIS, Tone.DIM))
        total = width
    segments = [Segment(text, base + tones[tone] if tone in tones else base) for text, tone in cell]
    pad = Segment(" " * (width - total), base)
    return [pad, *segments] if right else [*segments, pad]
