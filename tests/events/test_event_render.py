"""Event decoding (old and new daemons) and output as the docker CLI prints it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchdog_agent.docker.decode import event_from_json
from watchdog_agent.errors import ParseError, UsageError
from watchdog_agent.events.render import compile_template, json_line, renderer, text_line

# a line as docker 20.10 sends it to an API 1.41 client (legacy fields included)
DOCKER_LINE = (
    '{"status":"die","id":"7c7549a82360e1b933f515b774c1b8c26bdf1c4c18723503f1ba53bdc1f39d6c",'
    '"from":"watchdog-test/busybox","Type":"container","Action":"die","Actor":{"ID":'
    '"7c7549a82360e1b933f515b774c1b8c26bdf1c4c18723503f1ba53bdc1f39d6c","Attributes":'
    '{"exitCode":"0","image":"watchdog-test/busybox","name":"evt1"}},"scope":"local",'
    '"time":1795852388,"timeNano":1795852388401537705}'
)


@contextlib.contextmanager
def utc() -> Iterator[None]:
    mp = pytest.MonkeyPatch()
    mp.setenv("TZ", "UTC")
    time.tzset()
    try:
        yield
    finally:
        mp.undo()
        time.tzset()


def test_docker_line_round_trips_byte_for_byte() -> None:
    event = event_from_json(DOCKER_LINE.encode())
    assert (event.type, event.action, event.status, event.from_) == (
        "container",
        "die",
        "die",
        "watchdog-test/busybox",
    )
    assert event.attributes["exitCode"] == "0"
    assert json_line(event) == DOCKER_LINE


def test_new_daemon_without_legacy_fields() -> None:
    line = (
        b'{"Type":"container","Action":"exec_start: sh -c true","Actor":{"ID":"abc",'
        b'"Attributes":{"execID":"e1","name":"w"}},"scope":"local","time":1,"timeNano":1000000001}'
    )
    event = event_from_json(line)
    assert event.action == "exec_start: sh -c true"
    assert event.status is None and event.id is None and event.from_ is None
    assert json_line(event).startswith('{"Type":"container","Action":"exec_start: sh -c true"')


def test_prune_has_an_empty_actor_id() -> None:
    line = (
        b'{"Type":"container","Action":"prune","Actor":{"ID":"","Attributes":'
        b'{"reclaimed":"0"}},"scope":"local","time":5,"timeNano":5000000000}'
    )
    assert event_from_json(line).actor_id == ""


def test_old_daemon_without_time_nano() -> None:
    line = b'{"status":"start","id":"abc","from":"img","time":7}'
    event = event_from_json(line)
    assert (event.type, event.action, event.actor_id, event.time_nano) == (
        "container",
        "start",
        "abc",
        7_000_000_000,
    )


@pytest.mark.parametrize(
    "line", [b"", b"not json", b"[]", b'{"Type":"container"}', b'{"Action":"x","time":"soon"}']
)
def test_malformed_lines_raise_parse_error(line: bytes) -> None:
    with pytest.raises(ParseError):
        event_from_json(line)


@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        event_from_json(data)


def test_text_line_is_docker_default_format() -> None:
    with utc():
        assert text_line(event_from_json(DOCKER_LINE.encode())) == (
            "2026-11-28T07:53:08.401537705Z container die "
            "7c7549a82360e1b933f515b774c1b8c26bdf1c4c18723503f1ba53bdc1f39d6c "
            "(exitCode=0, image=watchdog-test/busybox, name=evt1)"
        )


def test_templates() -> None:
    event = event_from_json(DOCKER_LINE.encode())
    assert compile_template("{{.Action}} {{.Actor.Attributes.name}}")(event) == "die evt1"
    assert compile_template("{{.Actor.Attributes.nope}}")(event) == "<no value>"
    assert compile_template("{{json .Actor.Attributes}}")(event) == (
        '{"exitCode":"0","image":"watchdog-test/busybox","name":"evt1"}'
    )
    assert compile_template("{{json .}}")(event) == DOCKER_LINE
    assert compile_template("{{.TimeNano}}\\t{{.Type}}")(event) == "1795852388401537705\tcontainer"
    assert renderer("json") is json_line


@pytest.mark.parametrize("template", ["{{.Nope}}", "{{range .}}x{{end}}", "{{.Actor.Nope}}"])
def test_bad_templates_are_usage_errors(template: str) -> None:
    with pytest.raises(UsageError):
        compile_template(template)
