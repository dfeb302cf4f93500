"""structlog set-up, decided once at start: JSON lines when stderr is not a terminal,
readable console lines when it is. Logs go to stderr, never stdout, where commands
print their data (event lines, JSON stats). Console lines show control characters in
values escaped (a container's name or a request path may carry terminal escapes);
JSON lines keep them exactly."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

from watchdog_agent.termsafe import escape, escape_lines

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}  # fmt: skip


def _escape_values(
    _logger: object, _method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Console only: one-line values escaped; a traceback keeps its line breaks."""
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = escape_lines(value) if key == "exception" else escape(value)
    return event


def configure(level: str = "info", json: bool | None = None, stream: TextIO | None = None) -> None:
    out = sys.stderr if stream is None else stream
    as_json = not out.isatty() if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if as_json
        else structlog.dev.ConsoleRenderer(colors=out.isatty())
    )
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            *(() if as_json else (_escape_values,)),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS.get(level, logging.INFO)),
        # sys.stderr looked up per logger, not bound once: callers (tests) swap it
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr if stream is None else stream),
        cache_logger_on_first_use=False,
    )
