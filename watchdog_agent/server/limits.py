"""Request limits checked before any handler: query string length, number of query
parameters, and filter values per request (400 beyond, in the usual error shape).

The request line itself is capped by aiohttp's parser (8190 bytes) and bodies by the
app's ``client_max_size``; these caps keep a single request's filter work small.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiMapping

from .httperrors import ApiError, error_response

MAX_QUERY_BYTES = 4096  # the raw query string
MAX_QUERY_PARAMS = 128  # parameters of any name
MAX_FILTERS = 64  # `filter` values


def check_query(query_string: str, query: MultiMapping[str]) -> str | None:
    """What is over a limit, or None when the query is within all of them."""
    if len(query_string) > MAX_QUERY_BYTES:
        return f"query string longer than {MAX_QUERY_BYTES} bytes"
    if len(query) > MAX_QUERY_PARAMS:
        return f"more than {MAX_QUERY_PARAMS} query parameters"
    if len(query.getall("filter", ())) > MAX_FILTERS:
        return f"more than {MAX_FILTERS} filter values"
    return None


@web.middleware
async def limits_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    problem = check_query(request.rel_url.raw_query_string, request.query)
    if problem is not None:
        return error_response(ApiError(400, "bad request", problem))
    return await handler(request)
