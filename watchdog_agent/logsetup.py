"""structlog set-up, decided once at start: JSON lines when stderr is not a terminal,
readable console lines when it is. Logs go to stderr, never stdout, where commands
print their data (event lines, JSON stats). Console lines show control characters in
values escaped (a container's name or a request path may carry terminal escapes);
JSON lines keep them exactly."""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any, TextIO

# structlog's console renderer imports rich, and rich.traceback pygments, whenever rich
# is installed (it is: Textual needs it): 3.3 MB of the agent's resident memory for
# tracebacks it never prints (format_exc_info renders them as plain text first). Every
# module logs through get_logger below, so structlog is first imported here, with rich
# hidden for that import only; a command that uses rich (dstats) still imports it.
_rich = sys.modules.get("rich")
sys.modules["rich"] = None  # type: ignore[assignment]  # makes `import rich` fail
try:
    import structlog
finally:
    if _rich is None:
        del sys.modules["rich"]
    else:
        sys.modules["rich"] = _rich

from watchdog_agent.termsafe import escape, escape_lines  # noqa: E402

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


def get_logger(name: str) -> Any:
    """A structlog logger named ``name`` (configured or not yet)."""
    return structlog.get_logger(name)


def current() -> dict[str, Any]:
    """The configuration in force, to give back to :func:`restore`."""
    return structlog.get_config()


def restore(config: Mapping[str, Any]) -> None:
    structlog.configure(**config)
