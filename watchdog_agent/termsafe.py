"""Untrusted text made safe for a terminal: control characters shown, never obeyed.

What comes from inside containers (argv, labels, log lines, event attributes, names)
may carry escape sequences (``\\x1b]0;title\\x07``, ``\\x1b[2J``) that a terminal would
act on. Text and table output passes every such string through ``escape``; JSON output
keeps the exact bytes and never uses it.
"""

from __future__ import annotations

import re

# C0 controls except tab and newline are handled below; DEL and the C1 range
# (U+0080-U+009F, which some terminals treat as 8-bit CSI/OSC introducers) too.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_KEEP_NL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# What json.dumps(ensure_ascii=False) leaves raw: it escapes C0 itself.
_CONTROL_IN_JSON = re.compile(r"[\x7f-\x9f]")


def _repr(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()):02x}"


def escape(text: str) -> str:
    """``text`` with every control character (tab and newline included) as ``\\xNN``.

    For one-line cells: a process's arguments, a label, a name, an event attribute.
    """
    return _CONTROL.sub(_repr, text)


def escape_lines(text: str) -> str:
    """Like ``escape`` but keeps newlines and tabs: for log lines written to a terminal."""
    return _CONTROL_KEEP_NL.sub(_repr, text)


def escape_json(text: str) -> str:
    """JSON text (from ``json.dumps``) with DEL and C1 controls written as ``\\u00NN``.

    For JSON embedded in text output (``{{json .Actor}}`` in a template): the result is
    still JSON and decodes to the very same string; JSON output proper keeps the raw form.
    C0 controls never appear raw inside JSON strings (the encoder escapes them), and
    outside strings only as whitespace, so they are left alone.
    """
    return _CONTROL_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
