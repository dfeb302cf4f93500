"""``s``: pick the sort column from a list (ctop's sort menu)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from watchdog_agent.tui.columns import Column


class SortPicker(ModalScreen[str | None]):
    """Dismissed with the chosen column's key, or None (Escape)."""

    DEFAULT_CSS = """
    SortPicker { align: center middle; }
    SortPicker > OptionList { width: 40; height: auto; max-height: 90%;
        border: round $accent; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,s", "dismiss(None)", "Cancel")]

    def __init__(self, columns: Sequence[Column], current: str) -> None:
        super().__init__()
        self.columns = tuple(columns)
        self.current = current

    def compose(self) -> ComposeResult:
        options = OptionList(*(Option(c.title, id=c.key) for c in self.columns), id="sort-list")
        options.border_title = "sort by"
        keys = [c.key for c in self.columns]
        options.highlighted = keys.index(self.current) if self.current in keys else 0
        yield options

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)
