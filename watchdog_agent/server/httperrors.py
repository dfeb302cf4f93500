"""Errors as HTTP answers: ``{"error": "...", "detail": ...}`` with a 4xx/5xx status.

The project's errors are translated once, here (``translate``); handlers raise them (or
ApiError for conditions only HTTP has) and never build error responses themselves.
``error`` is a short, stable phrase; ``detail`` is the specific message or an object.

A container that is not there is 404, whether it never was or it vanished while it was
being read (ContainerGone); 409 is for one that exists but cannot answer (not running,
no readable logs) or an ambiguous id.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from watchdog_agent.errors import (
    AccessDenied,
    ContainerGone,
    DockerError,
    DockerUnavailable,
    NotFound,
    ParseError,
    StoreError,
    UsageError,
    WatchdogError,
)
from watchdog_agent.logsetup import get_logger

log = get_logger("watchdog_agent.server")


class ApiError(Exception):
    """An answer only HTTP has: ambiguous ids, too many streams, not ready ..."""

    def __init__(self, status: int, error: str, detail: Any = None) -> None:
        super().__init__(f"{error} ({status})")
        self.status = status
        self.error = error
        self.detail = detail


def translate(exc: WatchdogError) -> ApiError:
    """The one mapping of the project's errors to statuses."""
    if isinstance(exc, NotFound):
        return ApiError(404, exc.reason, {"id": exc.ident})
    if isinstance(exc, ContainerGone):
        return ApiError(404, "container is gone", {"id": exc.ident})
    if isinstance(exc, UsageError):
        return ApiError(400, "bad request", str(exc))
    if isinstance(exc, DockerUnavailable):
        return ApiError(503, "docker unavailable", exc.reason)
    if isinstance(exc, DockerError):
        return ApiError(502, "docker error", exc.message)
    if isinstance(exc, StoreError):
        return ApiError(503, f"{exc.store} unavailable", exc.reason)
    if isinstance(exc, AccessDenied):
        return ApiError(500, "permission denied", {"path": exc.path})
    if isinstance(exc, ParseError):
        return ApiError(500, "cannot parse", str(exc))
    return ApiError(500, "internal error", str(exc))


def error_response(err: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    body = {"error": err.error, "detail": err.detail}
    return web.json_response(body, status=err.status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except WatchdogError as exc:
        err = translate(exc)
        if err.status >= 500:
            log.warning("request failed", path=request.path, status=err.status, error=str(exc))
        return error_response(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        headers = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        detail = {"path": request.path, "method": request.method}
        return error_response(ApiError(exc.status, exc.reason.lower(), detail), headers)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        log.exception("unhandled error", path=request.path)
        return error_response(ApiError(500, "internal error"))
