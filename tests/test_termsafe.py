"""termsafe.escape: control characters shown as \\xNN, printable text untouched."""

from __future__ import annotations

import json

from watchdog_agent.termsafe import escape, escape_json, escape_lines


def test_osc_title_and_clear_screen_are_shown_not_obeyed() -> None:
    raw = "sh -c \x1b]0;pwned\x07\x1b[2J"
    assert escape(raw) == "sh -c \\x1b]0;pwned\\x07\\x1b[2J"
    assert "\x1b" not in escape(raw)


def test_printable_and_non_ascii_text_is_kept() -> None:
    assert escape("nginx: worker — café ✓") == "nginx: worker — café ✓"


def test_c1_controls_del_tab_newline() -> None:
    assert escape("a\x9bb\x7fc\td\ne") == "a\\x9bb\\x7fc\\x09d\\x0ae"
    assert escape_lines("a\td\ne\x1b[31m\r") == "a\td\ne\\x1b[31m\\x0d"


def test_escape_json_is_still_json_with_the_same_value() -> None:
    value = {"a\x9b": "x\x7f\x1b]0;t\x07\n\u2028"}
    raw = json.dumps(value, ensure_ascii=False, indent=1)  # structural newlines too
    shown = escape_json(raw)
    assert not any(c in shown for c in "\x1b\x07\x7f\x9b")
    assert "\\u009b" in shown and "\\u007f" in shown
    assert json.loads(shown) == value
