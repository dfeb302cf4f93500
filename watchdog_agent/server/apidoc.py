"""docs/api.md, written from the OpenAPI document (openapi.document()), never by hand.

    python -m watchdog_agent.server.apidoc docs/api.md     # regenerate
    python -m watchdog_agent.server.apidoc                 # print to stdout

tests/test_docs.py regenerates it and fails when the committed file differs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

from .openapi import document

Schema = dict[str, Any]
COMMAND = "python -m watchdog_agent.server.apidoc docs/api.md"


def _anchor(name: str) -> str:
    return f"[{name}](#{name.lower()})"


def _cell(text: str) -> str:
    """Text for a table cell: no line breaks, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def type_of(schema: Schema) -> str:
    """A schema in words: ``string (date-time) or null``, ``array of [Stats](#stats)``."""
    nullable = " or null" if schema.get("nullable") else ""
    if "$ref" in schema:
        return _anchor(schema["$ref"].rsplit("/", 1)[-1]) + nullable
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return type_of(schema["allOf"][0]) + nullable
    if "oneOf" in schema:
        return "one of: " + "; ".join(type_of(s) for s in schema["oneOf"]) + nullable
    kind = schema.get("type")
    if kind == "array":
        return f"array of {type_of(schema.get('items', {}))}" + nullable
    if kind == "object":
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            return f"map of string to {type_of(extra)}" + nullable
        props = schema.get("properties")
        if props:
            return "object {" + ", ".join(f"`{k}`" for k in props) + "}" + nullable
        return "object" + nullable
    if kind is None:
        return "any" + nullable
    words = str(kind)
    if "format" in schema:
        words += f" ({schema['format']})"
    if "enum" in schema:
        words += ": " + ", ".join(f"`{v}`" if v != "" else '`""`' for v in schema["enum"])
    if "pattern" in schema:
        words += f" matching `{schema['pattern']}`"
    if "minimum" in schema:
        words += f", at least {schema['minimum']}"
    return words + nullable


def _fields(schema: Schema, prefix: str = "") -> Iterator[tuple[str, Schema, bool]]:
    """(dotted name, schema, required) of every field, nested inline objects flattened."""
    required = set(schema.get("required", ()))
    for name, sub in schema.get("properties", {}).items():
        yield prefix + name, sub, name in required
        inner = sub["allOf"][0] if "allOf" in sub and len(sub["allOf"]) == 1 else sub
        if inner.get("type") == "object" and inner.get("properties"):
            yield from _fields(inner, f"{prefix}{name}.")


def _schema_section(name: str, schema: Schema) -> list[str]:
    out = [f"### {name}", ""]
    if schema.get("description"):
        out += [schema["description"], ""]
    if schema.get("properties"):
        out += ["| Field | Type | Required |", "|---|---|---|"]
        for field, sub, required in _fields(schema):
            note = f" ({sub['description']})" if sub.get("description") else ""
            out.append(
                f"| `{field}` | {_cell(type_of(sub) + note)} | {'yes' if required else 'no'} |"
            )
    else:
        out.append(f"Type: {_cell(type_of(schema))}")
    return [*out, ""]


def _operation(path: str, op: Schema) -> list[str]:
    out = [f"### GET {path}", "", op["summary"], ""]
    params = op.get("parameters", [])
    if params:
        out += ["| Parameter | In | Type | Description |", "|---|---|---|---|"]
        for p in params:
            kind = type_of(p["schema"]) + (", repeatable" if p.get("explode") else "")
            where = p["in"] + (", required" if p.get("required") else "")
            out.append(f"| `{p['name']}` | {where} | {_cell(kind)} | {_cell(p['description'])} |")
        out.append("")
    out += ["| Status | Meaning | Body |", "|---|---|---|"]
    for code, answer in sorted(op["responses"].items()):
        bodies = [
            f"`{media}`: {type_of(content.get('schema', {}))}"
            for media, content in answer.get("content", {}).items()
        ]
        out.append(f"| {code} | {_cell(answer['description'])} | {_cell('; '.join(bodies))} |")
    return [*out, ""]


def render(doc: Schema) -> str:
    """The whole of docs/api.md for an OpenAPI document."""
    info = doc["info"]
    schemes = doc.get("components", {}).get("securitySchemes", {})
    out = [
        "# HTTP API",
        "",
        f"<!-- Generated from watchdog_agent/server/openapi.py by `{COMMAND}`;",
        "     do not edit by hand: tests/test_docs.py fails when this file is out of step. -->",
        "",
        f"{info['description']} OpenAPI {doc['openapi']}; the agent serves the same "
        "document at `GET /api/v1/openapi.json`. Every route is a GET; the default address "
        "is `http://127.0.0.1:9338`.",
        "",
        'Errors are JSON objects `{"error": "...", "detail": ...}` with a 4xx or 5xx '
        "status. `{id}` in a path is a full container id, a unique id prefix, or a name. "
        "Times (`since`, `until`) take RFC 3339, unix seconds or a duration before now "
        "(`10m`); a time without a zone is the agent's local time.",
        "",
        "Authentication (only when the agent is started with `--auth-token-file` or "
        "`--basic-auth-file`; otherwise every route is open):",
        "",
    ]
    for name, scheme in schemes.items():
        out.append(f"- `{name}`: HTTP {scheme['scheme']}, {scheme.get('description', '')}")
    out += ["", "## Routes", ""]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method != "get":
                raise ValueError(f"{method.upper()} {path}: the agent's API is GET-only")
            out += _operation(path, op)
    out += ["## Objects", ""]
    for name, schema in doc["components"]["schemas"].items():
        out += _schema_section(name, schema)
    return "\n".join(out).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    text = render(document())
    if not args:
        sys.stdout.write(text)
        return 0
    if len(args) != 1:
        print(f"usage: {COMMAND.replace('docs/api.md', '[PATH]')}", file=sys.stderr)
        return 2
    with open(args[0], "w", encoding="utf-8") as fh:
        fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
