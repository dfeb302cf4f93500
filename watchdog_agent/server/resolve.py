"""``{id}`` in a path: a full id, a unique id prefix, or a name (as the docker CLI)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from watchdog_agent.errors import UsageError
from watchdog_agent.inventory.lookup import Ambiguous, find_container
from watchdog_agent.model import ContainerRef

from .httperrors import ApiError

# Docker's container names ([a-zA-Z0-9][a-zA-Z0-9_.-]+) and hex ids or prefixes of them
SAFE_IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,254}")
MAX_LISTED = 10  # ids listed in an "ambiguous" answer


def check_ident(ident: str) -> str:
    """The id or name, or UsageError when it cannot name a container."""
    if not SAFE_IDENT.fullmatch(ident):
        raise UsageError(
            f"bad container id or name {ident[:80]!r}: expected letters, digits, '_', '.', '-'"
        )
    return ident


def resolve(ident: str, refs: Mapping[str, ContainerRef]) -> ContainerRef:
    """Full id first, then exact name, then a unique id prefix; several matches: 409."""
    check_ident(ident)
    try:
        return find_container(ident, refs)
    except Ambiguous as exc:
        raise ApiError(
            409,
            "ambiguous container",
            {"id": ident, "matches": exc.matches[:MAX_LISTED], "count": len(exc.matches)},
        ) from exc
