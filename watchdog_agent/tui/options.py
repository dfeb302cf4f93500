"""What the command line asks of the view: the app's starting state (pure values)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ViewOptions:
    """``-a/--all``, ``--filter`` (repeatable), ``--sort COLUMN`` (a column name as the
    table heads it, e.g. ``CPU %``, or its short key, e.g. ``cpu``; None: the app's
    default) and ``reverse`` (sort descending-first order flipped)."""

    all: bool = False
    filters: tuple[str, ...] = ()
    sort: str | None = None
    reverse: bool = False
