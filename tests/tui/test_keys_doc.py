"""Every key of the main screen is in the help list (tui/keys.py), and that list is in
docs/dstats.md's "## Keys" table, row for row."""

from __future__ import annotations

from pathlib import Path

from textual.binding import Binding

from watchdog_agent.tui.app import DstatsApp
from watchdog_agent.tui.keys import KEYS
from watchdog_agent.tui.mainscreen import MainScreen
from watchdog_agent.tui.table import ContainerTable

DOC = Path(__file__).parent.parent.parent / "docs" / "dstats.md"
# how KEYS names Textual's key names
SHOWN = {"slash": "/", "question_mark": "?", "enter": "Enter", "left": "←", "right": "→",
         "up": "↑", "down": "↓", "pageup": "PgUp", "pagedown": "PgDn", "home": "Home",
         "end": "End"}  # fmt: skip


def bound_keys() -> set[str]:
    keys: set[str] = set()
    for owner in (MainScreen, ContainerTable, DstatsApp):
        for binding in owner.BINDINGS:
            assert isinstance(binding, Binding)
            keys.update(k.strip() for k in binding.key.split(","))
    return keys


def test_help_lists_every_bound_key() -> None:
    listed = " ".join(k for k, _ in KEYS)
    words = set(listed.replace(",", " ").split())
    for key in bound_keys():
        assert SHOWN.get(key, key) in words, key


def test_docs_keys_table_is_the_help_list() -> None:
    text = DOC.read_text()
    section = text.split("## Keys", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[0] == "| Key | Action |"
    assert rows[1:] == [f"| {key} | {what} |" for key, what in KEYS]
