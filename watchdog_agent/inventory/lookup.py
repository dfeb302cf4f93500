"""Finding one container by what a user types: a full id, an exact name, or a unique id
prefix (as the docker CLI does). Shared by the commands and the HTTP API."""

from __future__ import annotations

from collections.abc import Mapping

from watchdog_agent.errors import NotFound
from watchdog_agent.model import ContainerRef


class Ambiguous(NotFound):
    """The prefix matches several containers."""

    def __init__(self, ident: str, matches: list[str]) -> None:
        super().__init__(ident, "ambiguous container")
        self.matches = matches


def find_container(ident: str, refs: Mapping[str, ContainerRef]) -> ContainerRef:
    """Full id first, then exact name (a leading "/" allowed), then a unique id prefix."""
    ref = refs.get(ident)
    if ref is not None:
        return ref
    name = ident.removeprefix("/")
    for ref in refs.values():
        if ref.name == name:
            return ref
    hits = sorted(r.id for r in refs.values() if r.id.startswith(ident))
    if len(hits) == 1:
        return refs[hits[0]]
    if not hits:
        raise NotFound(ident)
    raise Ambiguous(ident, hits)
