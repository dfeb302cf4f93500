"""The main screen's keys and what they do: one list for the help screen and the docs
(pure)."""

from __future__ import annotations

KEYS: tuple[tuple[str, str], ...] = (
    ("s", "pick the sort column from a list"),
    ("← / →", "sort by the column to the left / right"),
    ("r", "reverse the sort order"),
    ("click a column title", "sort by it (again: reverse)"),
    (
        "f or /",
        "filter: words match a name or image; KEY=VALUE terms use docker's "
        "filter grammar (name, id, image/ancestor, status, label, exited) and host=; "
        "Enter applies, Escape cancels, an empty filter shows everything",
    ),
    ("a", "show or hide stopped containers (with their exit codes)"),
    ("↑ / ↓, PgUp / PgDn, Home / End", "move the cursor"),
    ("Enter", "open the selected container"),
    ("l", "the selected container's logs"),
    (
        "e",
        "events of the selected container's host (or the first host), with the filter's "
        "label= and image= terms",
    ),
    ("t", "the selected container's process tree"),
    ("d", "disk use by area of the selected container's host (or the first host)"),
    ("p", "pause or resume refreshing (the status line says PAUSED)"),
    ("h or ?", "this help (Escape, q, h or ? closes it)"),
    ("q", "quit"),
)
