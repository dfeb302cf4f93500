"""termsafe.escape: control characters shown as \\xNN, printable text untouched."""

from __future__ import annotations

from watchdog_agent.termsafe import escape, escape_lines


def test_osc_title_and_clear_screen_are_shown_not_obeyed() -> None:
    raw = "sh -c \x1b]0;pwned\x07\x1b[2J"
    assert escape(raw) == "sh -c \\x1b]0;pwned\\x07\\x1b[2J"
    assert "\x1b" not in escape(raw)


def test_printable_and_non_ascii_text_is_kept() -> None:
    assert escape("nginx: worker — café ✓") == "nginx: worker — café ✓"


def test_c1_controls_del_tab_newline() -> None:
    assert escape("a\x9bb\x7fc\td\ne") == "a\\x9bb\\x7fc\\x09d\\x0ae"
    assert escape_lines("a\td\ne\x1b[31m\r") == "a\td\ne\\x1b[31m\\x0d"
