"""The table's filter (``f`` or ``/``, and ``--filter``): which rows to show (pure).

The text is split like a shell line (quotes keep spaces). Every term must hold:

- a plain word matches when the container's name or image contains it (any case);
- ``key=value`` terms use docker's ``ps --filter`` grammar as the agent's
  ``inventory/psfilter.py`` implements it (``id``, ``name``, ``label``, ``status``,
  ``ancestor``/``image``, ``exited``: OR across the values of one key, AND across keys,
  every ``label`` must hold), applied to the row; image ids are not in a row, so
  ``ancestor`` matches the image reference or its familiar name only;
- ``host=value``: the host's name or key (``--agent`` URL) contains the value.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from watchdog_agent.errors import UsageError
from watchdog_agent.inventory.psfilter import PsFilter, parse_ps_filters
from watchdog_agent.model import ContainerRef

from .view import Row


@dataclass(frozen=True, slots=True)
class RowFilter:
    text: str = ""
    words: tuple[str, ...] = ()  # casefolded
    hosts: tuple[str, ...] = ()  # casefolded; OR across them
    ps: PsFilter | None = None
    ps_terms: tuple[str, ...] = ()  # the docker-grammar terms as written (for events)

    @property
    def active(self) -> bool:
        return bool(self.words or self.hosts or self.ps is not None)

    @property
    def asks_state(self) -> bool:
        """``status=`` or ``exited=``: stopped containers are shown for it without -a."""
        return self.ps is not None and bool({"status", "exited"} & set(self.ps.include))

    def matches(self, row: Row, host_name: str = "") -> bool:
        for word in self.words:
            if word not in (row.name or "").casefold() and word not in (row.image or "").casefold():
                return False
        if self.hosts:
            names = (row.host.casefold(), host_name.casefold())
            if not any(h in n for h in self.hosts for n in names):
                return False
        return self.ps is None or self.ps.matches(_as_ref(row))


def _as_ref(row: Row) -> ContainerRef:
    return ContainerRef(
        id=row.id,
        name=row.name,
        image=row.image,
        labels=row.labels,
        state=row.state,
        exit_code=row.finished_exit_code,
    )


def parse_filter(text: str) -> RowFilter:
    """The filter ``text`` means; a UsageError (its message shown to the user) if bad."""
    try:
        terms = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"bad filter: {exc}") from None
    return from_terms(terms, text)


def from_terms(terms: Sequence[str], text: str | None = None) -> RowFilter:
    words: list[str] = []
    hosts: list[str] = []
    ps_terms: list[str] = []
    for term in terms:
        key, sep, value = term.partition("=")
        if not sep:
            if term.strip():
                words.append(term.strip().casefold())
        elif key.strip().lower() == "host":
            hosts.append(value.strip().casefold())
        else:
            ps_terms.append(term)
    ps = parse_ps_filters(ps_terms) if ps_terms else None
    return RowFilter(
        text=shlex.join(terms) if text is None else text.strip(),
        words=tuple(words),
        hosts=tuple(hosts),
        ps=ps,
        ps_terms=tuple(ps_terms),
    )


EVENT_KEYS = frozenset({"label", "image"})


def event_filters(row_filter: RowFilter) -> tuple[str, ...]:
    """The terms of the table's filter that mean the same to ``docker events``
    (``label=...`` and ``image=...``/``ancestor=...`` as ``image=...``)."""
    out: list[str] = []
    for term in row_filter.ps_terms:
        key, _, value = term.partition("=")
        key = key.strip().lower()
        if key == "ancestor":
            key = "image"
        if key in EVENT_KEYS:
            out.append(f"{key}={value.strip()}")
    return tuple(out)
