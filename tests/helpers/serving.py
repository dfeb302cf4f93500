"""Helpers for the server tests (no tests here): an app under aiohttp's test client, a
small OpenAPI 3.0 schema check, and readers for NDJSON and SSE streams."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from watchdog_agent.agent.wiring import Agent
from watchdog_agent.config import Settings
from watchdog_agent.server.app import create_app
from watchdog_agent.server.openapi import document

TREES = Path(__file__).parent.parent / "fixtures" / "trees"


def tree_settings(layout: str = "systemd", **more: Any) -> Settings:
    """Settings over a fixture tree, no Docker, no journal, a fast interval."""
    root = TREES / layout
    values: dict[str, Any] = {
        "proc_root": str(root / "proc"),
        "cgroup_root": str(root / "cgroup"),
        "no_docker": True,
        "interval": 0.1,
        "journal": None,
    }
    values.update(more)
    return Settings(**values)


@asynccontextmanager
async def serving(
    settings: Settings, agent: Agent | None = None, ready: bool = True
) -> AsyncIterator[TestClient[Any, Any]]:
    """The app on an ephemeral loopback port; waits for /readyz unless ``ready`` is False."""
    app = create_app(settings, agent)
    async with TestClient(TestServer(app)) as client:
        if ready:
            await until_ready(client)
        yield client


async def until_ready(client: TestClient[Any, Any], timeout: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        async with client.get("/readyz") as resp:
            if resp.status == 200:
                return
        assert loop.time() < end, "the agent did not become ready"
        await asyncio.sleep(0.05)


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not check():
        assert loop.time() < end, "condition not reached in time"
        await asyncio.sleep(0.05)


async def json_lines(resp: ClientResponse, n: int, timeout: float = 10.0) -> list[Any]:
    """The next ``n`` NDJSON documents of a streaming response."""
    out: list[Any] = []
    async with asyncio.timeout(timeout):
        while len(out) < n:
            line = await resp.content.readline()
            assert line, f"stream ended after {len(out)} lines"
            if line.strip():
                out.append(json.loads(line))
    return out


async def sse_events(resp: ClientResponse, n: int, timeout: float = 10.0) -> list[dict[str, str]]:
    """The next ``n`` Server-Sent Events as {field: value} (comments skipped)."""
    out: list[dict[str, str]] = []
    fields: dict[str, str] = {}
    async with asyncio.timeout(timeout):
        while len(out) < n:
            raw = await resp.content.readline()
            assert raw, f"stream ended after {len(out)} events"
            line = raw.decode().rstrip("\n")
            if not line:
                if fields:
                    out.append(fields)
                fields = {}
            elif not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
    return out


# -- a small OpenAPI 3.0 schema check (the subset the document uses) -----------------------


def check_schema(value: Any, schema: dict[str, Any], where: str = "$") -> None:
    """Raise AssertionError where ``value`` does not match ``schema`` (OpenAPI 3.0)."""
    schemas = document()["components"]["schemas"]
    _check(value, schema, where, schemas)


def response_schema(path: str, status: int, media: str = "application/json") -> dict[str, Any]:
    op = document()["paths"][path]["get"]
    return op["responses"][str(status)]["content"][media]["schema"]  # type: ignore[no-any-return]


_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


def _check(value: Any, schema: dict[str, Any], where: str, schemas: dict[str, Any]) -> None:
    if "$ref" in schema:
        _check(value, schemas[schema["$ref"].rsplit("/", 1)[1]], where, schemas)
        return
    if value is None:
        assert schema.get("nullable"), f"{where}: null where the schema does not allow it"
        return
    for sub in schema.get("allOf", []):
        _check(value, sub, where, schemas)
    if "oneOf" in schema:
        passed = 0
        for sub in schema["oneOf"]:
            try:
                _check(value, sub, where, schemas)
                passed += 1
            except AssertionError:
                pass
        assert passed == 1, f"{where}: matches {passed} of the oneOf schemas"
    kind = schema.get("type")
    if kind is not None:
        assert _TYPES[kind](value), f"{where}: {value!r:.80} is not {kind}"
    if "enum" in schema:
        assert value in schema["enum"], f"{where}: {value!r} not in {schema['enum']}"
    if "pattern" in schema:
        assert re.search(schema["pattern"], value), f"{where}: {value!r} fails the pattern"
    if kind == "object":
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            assert name in value, f"{where}: {name!r} is missing"
        extra = schema.get("additionalProperties")
        for name, item in value.items():
            if name in props:
                _check(item, props[name], f"{where}.{name}", schemas)
            elif isinstance(extra, dict):
                _check(item, extra, f"{where}.{name}", schemas)
            else:
                assert not props, f"{where}: undocumented field {name!r}"
    if kind == "array":
        for i, item in enumerate(value):
            _check(item, schema["items"], f"{where}[{i}]", schemas)
