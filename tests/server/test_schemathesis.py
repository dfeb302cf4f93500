"""A schemathesis run against the OpenAPI document the app serves, on a fixture tree (no
Docker): generated requests for every operation find no 5xx and no answer that breaks
its documented schema, status code or content type.

The app runs under an AppRunner on its own event loop in a thread; schemathesis loads the
document from ``/api/v1/openapi.json`` and calls the server over HTTP, for every operation
of the document (test_server_units.py checks the document lists every route of the
router). Streams are exercised with bounds: a request that asks for a live stream
(``stream``/``follow`` true, or events without ``until``) is read for at most a few
messages or seconds and closed, its status and content type checked against the document
and each message checked to be JSON; the rest get schemathesis' full checks. Methods the
document does not list answer 405, never a 5xx.

The budget is small in the normal suite; ``WATCHDOG_TEST_NIGHTLY=1`` multiplies it
(helpers/fuzzing.py).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import schemathesis
from aiohttp import web
from helpers.fuzzing import examples
from helpers.serving import tree_settings
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from watchdog_agent.server.app import create_app
from watchdog_agent.server.openapi import document

OPERATIONS = sorted((m.upper(), p) for p, item in document()["paths"].items() for m in item)
MAX_EXAMPLES = examples(12)  # per operation
STREAM_MESSAGES = 3  # a live stream is read for at most this many messages
STREAM_SECONDS = 3.0  # or this long
QUIET_SECONDS = 0.3  # a stream silent this long (events on an idle host) is done too
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
]
STREAM_FLAGS = ("stream", "follow")  # a true value would keep the answer open
TRUE = {"1", "true", "yes", "on"}
# Docker-only routes on an agent without Docker answer 503 "docker unavailable" by design
DOCKER_ONLY = ("/logs", "/api/v1/disk")
# aiohttp's HTTP parser answers a longer request line with a plain-text 400 before the app
# sees it (negative cases with hundreds of filters); shorter queries over the app's own
# limits get the JSON 400
PARSER_MAX_LINE = 8190


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The app on 127.0.0.1:<ephemeral>, run by its own loop in a thread, once ready."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(
        create_app(tree_settings(interval=0.2)), handler_cancellation=True, access_log=None
    )
    loop.run_until_complete(runner.setup())
    site = web.TCPSite(runner, "127.0.0.1", 0)
    loop.run_until_complete(site.start())
    port = runner.addresses[0][1]
    thread = threading.Thread(target=loop.run_forever, name="schemathesis-app", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while requests.get(f"{url}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, "the agent did not become ready"
            time.sleep(0.05)
        yield url
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@pytest.fixture(scope="module")
def api(base_url: str) -> Any:
    return schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")


def live(case: Any) -> bool:
    """Whether the request asks for an answer that does not end by itself."""
    query = case.query if isinstance(case.query, dict) else {}
    if any(str(query.get(name, "")).strip().lower() in TRUE for name in STREAM_FLAGS):
        return True
    return bool(case.path == "/api/v1/events" and "until" not in query)


def read_bounded(case: Any, base_url: str, session: requests.Session) -> None:
    """A live stream: status and content type as documented, a few JSON messages, closed."""
    kwargs = case.as_transport_kwargs(base_url=base_url)
    with session.request(**kwargs, stream=True, timeout=(5, QUIET_SECONDS)) as response:
        responses = case.operation.definition.raw["responses"]
        status = str(response.status_code)
        assert response.status_code < 500 or (
            case.path.endswith(DOCKER_ONLY) and response.status_code == 503
        ), response.text
        assert status in responses, (status, sorted(responses))
        documented = responses[status].get("content", {})
        media = response.headers.get("Content-Type", "").split(";")[0].strip()
        assert not documented or media in documented, (media, sorted(documented))
        if response.status_code != 200:
            response.json()  # errors are JSON documents
            return
        deadline = time.monotonic() + STREAM_SECONDS
        seen = 0
        lines = response.iter_lines(chunk_size=1)
        while seen < STREAM_MESSAGES and time.monotonic() < deadline:
            try:
                line = next(lines)
            except StopIteration:
                break
            except requests.ConnectionError as exc:  # requests' name for a read timeout
                assert "Read timed out" in str(exc), exc
                break
            if line.startswith(b"data:"):
                line = line[5:]
            elif media == "text/event-stream":
                continue  # event:, id:, comments and blank separators
            if line.strip():
                json.loads(line)
                seen += 1


@pytest.fixture(scope="module")
def real_id(base_url: str) -> str:
    """A container of the tree, so {id} routes are exercised past the 404 too."""
    return str(requests.get(f"{base_url}/api/v1/containers", timeout=10).json()[0]["id"])


def strategy(operation: Any) -> Any:
    """Valid requests, and (for operations with parameters) invalid ones too."""
    valid = operation.as_strategy()
    if not operation.definition.raw.get("parameters"):
        return valid
    return valid | operation.as_strategy(GenerationMode.NEGATIVE)


@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_api_matches_its_openapi_document(
    api: Any, base_url: str, real_id: str, method: str, path: str
) -> None:
    operation = api[path][method]
    session = requests.Session()

    def call(case: Any) -> None:
        if live(case):
            read_bounded(case, base_url, session)
            return
        response = case.call(base_url=base_url, session=session, timeout=10)
        checks = CHECKS
        target = urlsplit(response.request.url)
        if len(target.path) + len(target.query) + 1 > PARSER_MAX_LINE:
            assert response.status_code == 400, response.text
            return
        if path.endswith(DOCKER_ONLY) and response.status_code == 503:
            assert response.json()["error"] == "docker unavailable", response.text
            checks = [c for c in CHECKS if c is not not_a_server_error]
        case.validate_response(response, checks=checks)

    @given(case=strategy(operation))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        call(case)
        if "{id}" in path:  # the same request for a container that exists
            case.path_parameters = {**(case.path_parameters or {}), "id": real_id}
            call(case)

    check()


UNLISTED = ("POST", "PUT", "PATCH", "DELETE")


@pytest.mark.parametrize("path", sorted({p for _, p in OPERATIONS}))
def test_methods_the_document_does_not_list_answer_405(base_url: str, path: str) -> None:
    listed = {m for m, p in OPERATIONS if p == path}
    url = base_url + path.replace("{id}", "x")
    with requests.Session() as session:
        for method in sorted(set(UNLISTED) - listed):
            response = session.request(method, url, data=b"{}", timeout=10)
            assert response.status_code == 405, (method, path, response.status_code)
