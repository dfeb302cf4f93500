"""docker/decode.py under hypothesis: Engine JSON of any shape decodes or raises
ParseError (never another exception), a well-typed document decodes to exactly its
values, and a key the daemon left out stays a gap (None), never an invented value."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from helpers.fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.docker.decode import (
    container_from_inspect,
    container_from_summary,
    daemon_info_from_json,
    disk_usage_from_json,
    event_from_json,
    parse_rfc3339,
)
from watchdog_agent.docker.engine import decode_json, version_key
from watchdog_agent.errors import ParseError

scalars = st.none() | st.booleans() | st.integers(-(2**63), 2**64) | st.text(max_size=8)
json_values = st.recursive(
    scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def objects(keys: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """An object with any subset of ``keys``, each value well typed or anything at all."""
    return st.fixed_dictionaries({}, optional={k: v | json_values for k, v in keys.items()})


STR, INT, BOOL = st.text(max_size=10), st.integers(-5, 2**40), st.booleans()
TIME = st.sampled_from(["", "0001-01-01T00:00:00Z", "2026-08-23T09:12:00.5Z", "bad"])
LABELS = st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3)
SUMMARY = objects({"Id": STR, "Names": st.lists(STR, max_size=3), "Image": STR, "ImageID": STR,
                   "Labels": LABELS, "State": STR, "Status": STR, "Created": INT,
                   "HostConfig": objects({"NetworkMode": STR})})  # fmt: skip
INSPECT = objects({
    "Id": STR, "Name": STR, "Image": STR, "Created": TIME, "RestartCount": INT,
    "Config": objects({"Image": STR, "Labels": LABELS, "Tty": BOOL}),
    "State": objects({"Status": STR, "Pid": INT, "StartedAt": TIME, "ExitCode": INT,
                      "OOMKilled": BOOL}),
    "HostConfig": objects({"Memory": INT, "PidsLimit": INT, "NanoCpus": INT, "CpuQuota": INT,
                           "CpuPeriod": INT, "NetworkMode": STR}),
})  # fmt: skip
EVENT = objects({"Type": STR, "Action": STR, "status": STR, "id": STR, "from": STR,
                 "scope": STR, "time": INT, "timeNano": INT,
                 "Actor": objects({"ID": STR, "Attributes": LABELS})})  # fmt: skip
INFO = objects({
    "ID": STR, "Name": STR, "ServerVersion": STR, "OperatingSystem": STR, "Driver": STR,
    "LiveRestoreEnabled": BOOL, "Containers": INT, "Images": INT,
    "SecurityOptions": st.lists(STR, max_size=2), "Warnings": st.none() | st.lists(STR),
    "RegistryConfig": objects({
        "Mirrors": st.lists(STR, max_size=2), "InsecureRegistryCIDRs": st.lists(STR),
        "IndexConfigs": st.dictionaries(STR, objects({"Name": STR, "Secure": BOOL}), max_size=2),
    }),
})  # fmt: skip
DF = objects({
    "LayersSize": INT,
    "Images": st.lists(objects({"Id": STR, "RepoTags": st.lists(STR), "Created": INT,
                                "Size": INT, "SharedSize": INT, "Containers": INT}), max_size=2),
    "Containers": st.lists(objects({"Id": STR, "Names": st.lists(STR), "SizeRw": INT,
                                    "Mounts": st.lists(objects({"Driver": STR}))}), max_size=2),
    "Volumes": st.lists(objects({"Name": STR, "Driver": STR,
                                 "UsageData": objects({"Size": INT, "RefCount": INT})}),
                        max_size=2),
    "BuildCache": st.lists(objects({"ID": STR, "Size": INT, "CreatedAt": TIME,
                                    "InUse": BOOL}), max_size=2),
})  # fmt: skip


def only_parse_error(decode: Any, *args: Any) -> Any:
    with contextlib.suppress(ParseError):  # any other exception fails the test
        return decode(*args)
    return None


@settings(max_examples=examples(30))
@given(SUMMARY | json_values)
def test_container_summary_decodes_or_raises_parse_error(raw: Any) -> None:
    ref = only_parse_error(container_from_summary, raw)
    if ref is not None:
        assert ref.pid is None  # the list has no pid: a gap, never 0
        for key, attr in (("Image", "image"), ("State", "state"), ("ImageID", "image_id")):
            if raw.get(key) is None:
                assert getattr(ref, attr) is None
        assert (ref.created is None) is (raw.get("Created") is None)


@settings(max_examples=examples(30))
@given(INSPECT | json_values)
def test_container_inspect_decodes_or_raises_parse_error(raw: Any) -> None:
    ref = only_parse_error(container_from_inspect, raw)
    if ref is not None:
        state, host = raw.get("State") or {}, raw.get("HostConfig") or {}
        if state.get("ExitCode") is None:
            assert ref.exit_code is None
        if state.get("OOMKilled") is None:
            assert ref.oom_killed is None
        assert ref.pid is None or ref.pid == state.get("Pid")
        assert ref.memory_limit_bytes is None or ref.memory_limit_bytes == host.get("Memory")
        assert ref.pids_limit is None or ref.pids_limit > 0
        assert ref.cpu_limit is None or ref.cpu_limit > 0


@settings(max_examples=examples(30))
@given(EVENT | json_values, st.sampled_from(["json", "bytes"]))
def test_event_lines_decode_or_raise_parse_error(raw: Any, form: str) -> None:
    line = json.dumps(raw).encode() if form == "json" else repr(raw).encode()
    ev = only_parse_error(event_from_json, line)
    if ev is not None:
        assert ev.action
        if raw.get("time") is None:
            assert ev.time == ev.time_nano // 10**9
        if raw.get("timeNano") is None:
            assert ev.time_nano == ev.time * 10**9
        else:
            assert ev.time_nano == raw["timeNano"]
        for key, attr in (("status", "status"), ("id", "id"), ("from", "from_")):
            assert getattr(ev, attr) == raw.get(key)  # legacy fields kept as sent, or None


@settings(max_examples=examples(30))
@given(INFO | json_values, objects({"Version": STR, "ApiVersion": STR}) | st.none())
def test_daemon_info_decodes_or_raises_parse_error(info: Any, version: Any) -> None:
    got = only_parse_error(daemon_info_from_json, info, version)
    if got is not None:
        for key, attr in (("Containers", "containers"), ("Images", "images"),
                          ("LiveRestoreEnabled", "live_restore")):  # fmt: skip
            assert getattr(got, attr) == info.get(key)  # absent: None, never 0 or False
        if "SecurityOptions" not in info:
            assert got.security_options is None


@settings(max_examples=examples(30))
@given(DF | json_values)
def test_disk_usage_decodes_or_raises_parse_error(raw: Any) -> None:
    usage = only_parse_error(disk_usage_from_json, raw, 1.0, 0.1)
    if usage is not None:
        for image in usage.images:
            assert image.size is None or image.size >= 0  # Docker's -1 is a gap
            assert image.containers is None or image.containers >= 0
        for volume in usage.volumes:
            assert volume.size is None or volume.size >= 0


RFC3339ISH = st.from_regex(
    r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,10})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?\Z"
)


@settings(max_examples=examples(50))
@given(RFC3339ISH | st.text(max_size=40))
def test_rfc3339_parses_or_raises_parse_error(text: str) -> None:
    only_parse_error(parse_rfc3339, text)


@pytest.mark.parametrize("text", ["2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00-99:00",
                                  "2026-01-01T00:00:00+01:60"])  # fmt: skip
def test_rfc3339_offset_out_of_range_is_a_parse_error(text: str) -> None:
    """Found by hypothesis: ``timezone()`` refused the offset with a bare ValueError."""
    with pytest.raises(ParseError):
        parse_rfc3339(text)


@settings(max_examples=examples(30))
@given(
    st.datetimes(datetime(1970, 1, 2), datetime(2200, 1, 1), timezones=st.just(UTC)),
    st.integers(-(24 * 60 - 1), 24 * 60 - 1),
)
def test_rfc3339_round_trips_every_offset(moment: datetime, minutes: int) -> None:
    moment = moment.replace(microsecond=0)
    local = moment.astimezone(timezone(timedelta(minutes=minutes)))
    sign, off = ("-" if minutes < 0 else "+"), abs(minutes)
    text = f"{local:%Y-%m-%dT%H:%M:%S}{sign}{off // 60:02d}:{off % 60:02d}"
    assert parse_rfc3339(text) == moment.timestamp()


@settings(max_examples=examples(30))
@given(st.binary(max_size=60) | json_values.map(lambda v: json.dumps(v).encode()))
def test_engine_json_decodes_or_raises_parse_error(body: bytes) -> None:
    value = only_parse_error(decode_json, body, "/x")
    if value is not None:
        assert json.loads(body) == value


@settings(max_examples=examples(30))
@given(
    st.lists(st.integers(0, 10**6), min_size=1, max_size=4)
    | st.text(st.sampled_from("019.-a\u00b2\u0663"), max_size=8)  # superscript 2, Arabic 3
)
def test_api_versions_order_as_numbers_or_raise_parse_error(version: Any) -> None:
    if isinstance(version, list):
        assert version_key(".".join(map(str, version))) == tuple(version)
        return
    key = only_parse_error(version_key, version)
    assert key is None or all(part >= 0 for part in key)


@pytest.mark.parametrize("version", ["1.\u00b2", "\u0661.41"])
def test_api_version_with_non_ascii_digits_is_a_parse_error(version: str) -> None:
    """Found by hypothesis: ``"\u00b2".isdigit()`` holds but ``int("\u00b2")`` raises
    ValueError."""
    with pytest.raises(ParseError):
        version_key(version)
