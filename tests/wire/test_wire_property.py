"""The remaining decoders under hypothesis: the agent's own JSON read back by the
commands (wire/fromjson.py) takes documents of any shape, keeping a wrong-typed or
absent field a gap; the minimal HTTP response parser (docker/lite.py), the log
timestamp splitter and the events ``--format`` template compiler answer a value or their
documented error, and what they were given reads back."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from helpers.fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.docker.lite import parse_response
from watchdog_agent.docker.logframes import split_timestamp
from watchdog_agent.errors import ParseError, UsageError
from watchdog_agent.events.render import compile_template, renderer
from watchdog_agent.model import Event
from watchdog_agent.wire.fromjson import (
    parse_time,
    process_from_json,
    ref_from_json,
    stats_from_json,
    unreadable_from_json,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=4,
)
STATS_KEYS = ["name", "image", "sampled_at", "cpu_percent", "memory_usage_bytes", "pids",
              "psi", "memory_stat", "net_interfaces", "net_rx_bytes"]  # fmt: skip
REF_KEYS = ["name", "image", "labels", "state", "pid", "started_at", "created", "tty",
            "restart_count", "exit_code", "oom_killed", "limits"]  # fmt: skip
PROC_KEYS = ["ns_pid", "user", "uid", "state", "threads", "cpu_seconds", "cpu_percent",
             "rss_bytes", "started_at", "cmd"]  # fmt: skip


def docs(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={k: json_values for k in keys})


@settings(max_examples=examples(15))
@given(docs(STATS_KEYS), docs(REF_KEYS))
def test_agent_documents_of_any_shape_read_back_with_gaps(
    stats: dict[str, Any], ref: dict[str, Any]
) -> None:
    got = stats_from_json({"id": "c1", **stats})
    for key in ("cpu_percent", "memory_usage_bytes", "pids", "name", "image"):
        value = stats.get(key)
        if value is None or isinstance(value, bool | list | dict):
            assert getattr(got, key) is None  # absent or the wrong type: a gap
    container = ref_from_json({"id": "c1", **ref})
    for key in ("pid", "exit_code", "restart_count", "tty", "oom_killed", "state"):
        if ref.get(key) is None:
            assert getattr(container, key) is None
    assert container.id == got.id == "c1"


@settings(max_examples=examples(15))
@given(docs(PROC_KEYS), st.lists(docs(PROC_KEYS), max_size=2), json_values)
def test_processes_of_any_shape_read_back(
    proc: dict[str, Any], children: list[dict[str, Any]], unreadable: Any
) -> None:
    doc = {"pid": 5, "ppid": 1, **proc, "children": [{"pid": 6, "ppid": 5, **c} for c in children]}
    got = process_from_json(doc)
    assert (got.pid, got.ppid, len(got.children)) == (5, 1, len(children))
    for key in ("rss_bytes", "threads", "cpu_seconds"):
        if proc.get(key) is None:
            assert getattr(got, key) is None  # absent: a gap, never 0
    count = unreadable_from_json({"unreadable": unreadable})
    assert count is None or (count >= 0 and count == unreadable)


@settings(max_examples=examples(30))
@given(json_values | st.text(st.sampled_from("0123456789-:T.Z+"), max_size=30))
def test_agent_times_read_or_stay_gaps(value: Any) -> None:
    got = parse_time(value)
    assert got is None or isinstance(got, float)


@settings(max_examples=examples(30))
@given(st.integers(100, 599), st.text(st.sampled_from("OK Not Fund"), max_size=12),
       st.dictionaries(st.sampled_from(["content-type", "x-a", "api-version"]),
                       st.text(st.sampled_from("abc/1.; "), max_size=8).map(str.strip)),
       st.binary(max_size=40))  # fmt: skip
def test_http_responses_read_back(
    status: int, reason: str, headers: dict[str, str], body: bytes
) -> None:
    head = f"HTTP/1.0 {status} {reason}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    got = parse_response(head.encode() + b"\r\n" + body, "/x")
    assert got == (status, reason, headers, body)


@settings(max_examples=examples(40))
@given(
    st.binary(max_size=80)
    | st.sampled_from([b"HTTP/1.1 \xc2\xb2 x\r\n\r\n", b"HTTP/1.0 200\r\n\r\n"])
)
def test_any_http_response_parses_or_raises_parse_error(raw: bytes) -> None:
    with contextlib.suppress(ParseError):  # any other exception fails the test
        status, _, headers, _ = parse_response(raw, "/x")
        assert status >= 0 and all(k == k.lower() for k in headers)


stamps = st.sampled_from(["2026-08-23T10:00:00Z", "2026-08-23T10:00:00.123456789Z",
                          "2026-08-23T10:00:00+02:00", "2026-08-23T10:00:00.1-11:30"])  # fmt: skip


@settings(max_examples=examples(30))
@given(stamps, st.binary(max_size=20))
def test_log_timestamps_split_off_and_back(stamp: str, rest: bytes) -> None:
    assert split_timestamp(f"{stamp} ".encode() + rest) == (stamp, rest)
    time, data = split_timestamp(rest)
    assert (time is None and data == rest) or (time is not None and rest.endswith(data))


fields = st.sampled_from([".Action", ".Type", ".Actor.ID", ".Actor.Attributes.name",
                          ".Actor.Attributes", ".TimeNano", ".Scope", ".", ".Nope",
                          ".Actor.X"])  # fmt: skip
templates = st.lists(
    st.one_of(
        st.text(st.sampled_from("ab {}\\nt"), max_size=5),
        st.builds(lambda j, f: "{{" + ("json " if j else "") + f + "}}", st.booleans(), fields),
    ),
    max_size=4,
).map("".join)


@settings(max_examples=examples(40))
@given(templates | st.text(max_size=20))
def test_event_templates_compile_or_raise_usage_error(template: str) -> None:
    event = Event("container", "start", "abc", {"name": "web\x1b[2J"}, "local", 1, 10**9)
    with contextlib.suppress(UsageError):  # any other exception fails the test
        line = renderer(template)(event)
        if "\x1b" not in template:  # the user's own text is theirs; the container's
            assert "\x1b" not in line  # is escaped for the terminal
    with contextlib.suppress(UsageError):
        compile_template(template)


def test_json_template_reads_back() -> None:
    event = Event("container", "start", "abc", {"name": "web"}, "local", 1, 10**9)
    assert json.loads(renderer("{{json .Actor}}")(event)) == {
        "ID": "abc", "Attributes": {"name": "web"}
    }  # fmt: skip
