"""Event output as the docker CLI prints it: ``{{json .}}``, the default text line, and
Go-template style formats such as ``{{.Action}} {{.Actor.Attributes.name}}``.

Actions (``exec_start: <command>``) and attributes (names, labels) come from inside
containers: the text line and every value a template prints are escaped with
``termsafe``; ``json_line`` keeps the exact characters."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime

from watchdog_agent.errors import UsageError
from watchdog_agent.model import Event
from watchdog_agent.termsafe import escape, escape_json
from watchdog_agent.wire.tojson import event_json

Render = Callable[[Event], str]
NO_VALUE = "<no value>"  # what Go's templates print for a missing map key


# Go's encoder writes these as \u escapes where Python writes \b, \f or the raw
# character; escaped backslashes are matched first so "\\b" stays as it is.
_GO_ESCAPES = re.compile(r"\\\\|\\b|\\f|\u2028|\u2029")
_GO_FORM = {"\\b": "\\u0008", "\\f": "\\u000c", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: object) -> str:
    """JSON as Go's encoder (docker's ``{{json .}}``) writes it: compact, UTF-8."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return _GO_ESCAPES.sub(lambda m: _GO_FORM.get(m.group(0), m.group(0)), text)


def json_line(event: Event) -> str:
    return go_json(event_json(event))


def _timestamp(nanos: int) -> str:
    """Go's RFC3339NanoFixed in local time: 2006-01-02T15:04:05.000000000Z07:00."""
    local = datetime.fromtimestamp(nanos // 1_000_000_000).astimezone()
    offset = local.strftime("%z")
    zone = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    return f"{local:%Y-%m-%dT%H:%M:%S}.{nanos % 1_000_000_000:09d}{zone}"


def text_line(event: Event) -> str:
    """docker events' default line: time, type, action, actor id, sorted attributes."""
    line = f"{_timestamp(event.time_nano)} {event.type} {event.action} {event.actor_id}"
    if event.attributes:
        attrs = ", ".join(f"{k}={v}" for k, v in sorted(event.attributes.items()))
        line += f" ({attrs})"
    return escape(line)


def _field(event: Event, path: tuple[str, ...]) -> object:
    top = {
        "Type": event.type,
        "Action": event.action,
        "Status": event.status or "",
        "ID": event.id or "",
        "From": event.from_ or "",
        "Scope": event.scope,
        "Time": event.time,
        "TimeNano": event.time_nano,
        "Actor": {"ID": event.actor_id, "Attributes": dict(event.attributes)},
    }
    if not path:
        return event_json(event)
    value: object = top
    for i, name in enumerate(path):
        if isinstance(value, dict):
            is_struct = i == 0 or (i == 1 and path[0] == "Actor")
            if name not in value:
                if is_struct:
                    raise UsageError(f"template: no field {'.'.join(path[: i + 1])!r} in an event")
                return NO_VALUE
            value = value[name]
        else:
            raise UsageError(f"template: {'.'.join(path[:i])!r} has no field {name!r}")
    return value


_ACTION = re.compile(r"\{\{\s*(json\s+)?\.([A-Za-z0-9_.]*)\s*\}\}")
_ESCAPES = {"\\n": "\n", "\\t": "\t"}


def compile_template(template: str) -> Render:
    """A renderer for the ``{{.Field}}``/``{{json .X}}`` subset of Go templates that
    docker's --format examples use. Anything else in braces is an error."""
    for esc, char in _ESCAPES.items():
        template = template.replace(esc, char)
    parts: list[str | tuple[bool, tuple[str, ...]]] = []
    pos = 0
    for m in _ACTION.finditer(template):
        parts.append(template[pos : m.start()])
        path = tuple(p for p in m.group(2).split(".") if p)
        parts.append((m.group(1) is not None, path))
        pos = m.end()
    parts.append(template[pos:])
    if any("{{" in p or "}}" in p for p in parts if isinstance(p, str)):
        raise UsageError(f"unsupported template {template!r}: use {{{{.Field}}}} or {{{{json .}}}}")

    def render(event: Event) -> str:
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            as_json, path = part
            value = _field(event, path)
            if as_json:
                out.append(escape_json(go_json(value)))
            else:
                out.append(escape(_go_string(value)))
        return "".join(out)

    render(_PROBE)  # unknown fields fail now, not on the first event
    return render


def _go_string(value: object) -> str:
    if isinstance(value, dict):
        inner = " ".join(f"{k}:{_go_string(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    return str(value)


_PROBE = Event("container", "start", "0" * 64, {"name": "probe"}, "local", 0, 0)


def renderer(fmt: str) -> Render:
    if fmt == "json":
        return json_line
    if fmt in ("text", ""):
        return text_line
    return compile_template(fmt)
