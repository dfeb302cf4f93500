"""Query parameters: each parsed and checked once, a bad one is a UsageError (400)."""

from __future__ import annotations

from collections.abc import Mapping

from watchdog_agent.errors import UsageError

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def flag(query: Mapping[str, str], name: str) -> bool:
    """``?name=1`` style booleans; absent is false."""
    value = query.get(name)
    if value is None:
        return False
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise UsageError(f"{name}={value[:40]!r}: expected 1/0, true/false or yes/no")


def count(query: Mapping[str, str], name: str, maximum: int) -> int | None:
    """A positive integer (capped at ``maximum``), or None when absent."""
    value = query.get(name)
    if value is None:
        return None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or int(text) < 1:  # int("²") fails
        raise UsageError(f"{name}={value[:40]!r}: expected a positive integer")
    return min(int(text), maximum)


def wants_sse(accept: str) -> bool:
    """True when the client asks for Server-Sent Events."""
    return any(part.split(";")[0].strip() == "text/event-stream" for part in accept.split(","))
