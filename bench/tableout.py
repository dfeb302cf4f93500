"""What the bench contract asks of a module's output, for the modules to share: Markdown
tables on stdout, each after its ``<!-- table: KEY -->`` line; progress and what was
skipped on stderr; whether a Docker engine answers for the real-container rows."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from bench.machine import docker_version

_T0 = time.monotonic()


def progress(message: str) -> None:
    """One line of progress on stderr, with the seconds since the module started."""
    print(f"[{time.monotonic() - _T0:6.1f} s] {message}", file=sys.stderr, flush=True)


def skipped(what: str, why: str) -> None:
    """Say on stderr what was not measured (the runner lists these lines)."""
    print(f"skipped: {what} ({why})", file=sys.stderr, flush=True)


def docker_host() -> str | None:
    """``$DOCKER_HOST`` when an engine answers there, else None."""
    host = os.environ.get("DOCKER_HOST")
    if host and docker_version(host) is not None:
        return host
    return None


def table(
    key: str,
    head: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    align: str = "",
    caption: str = "",
) -> None:
    """Print one table: its key line, an optional caption line, the Markdown table.
    ``align``: one letter per column, "l" or "r" (default: first left, the rest right)."""
    align = align or "l" + "r" * (len(head) - 1)
    print(f"<!-- table: {key} -->")
    if caption:
        print(caption)
        print()
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---:" if a == "r" else "---" for a in align) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    print(flush=True)
