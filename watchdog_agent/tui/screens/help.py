"""The help screen: every key of the main screen (``h`` or ``?``)."""

from __future__ import annotations

import textwrap
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from watchdog_agent.tui.keys import KEYS

KEY_CELLS = 32
TEXT_CELLS = 72  # the description column, wrapped under itself


def help_text() -> Content:
    lines = [Content.styled("dstats keys", "bold"), Content("")]
    for key, what in KEYS:
        wrapped = textwrap.wrap(what, TEXT_CELLS) or [""]
        lines.append(Content.assemble((key.ljust(KEY_CELLS), "bold $accent"), wrapped[0]))
        lines += [Content(" " * KEY_CELLS + more) for more in wrapped[1:]]
    return Content("\n").join(lines)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Static { width: 100%; max-width: 110; height: auto; max-height: 100%;
        border: round $accent; padding: 0 1; background: $surface; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,h,question_mark", "dismiss", "Close", show=True),
    ]

    def compose(self) -> ComposeResult:
        yield Static(help_text(), id="help")
