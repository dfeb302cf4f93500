"""``--since``/``--until`` parsing into unix nanoseconds, and the Engine's ``since`` format."""

from __future__ import annotations

import calendar
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchdog_agent.errors import UsageError
from watchdog_agent.events.timeparse import FLAGS, parse_time, parse_window, to_docker_since

NS = 10**9
NOW = 1_732_780_800.0  # 2024-11-28T08:00:00Z
NOW_NS = 1_732_780_800 * NS


def utc(*fields: int) -> int:
    """Unix nanoseconds of a UTC calendar time (year, month, day[, hour, minute, second])."""
    return calendar.timegm((*fields, *(0,) * (6 - len(fields)), 0, 0, 0)) * NS


def local(*fields: int) -> int:
    """The same calendar time without a zone, read as docker does: in the local zone's
    offset at NOW (UTC when TZ is unset; see test_timeparse_local.py for other zones)."""
    return utc(*fields) - time.localtime(NOW).tm_gmtoff * NS


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # RFC 3339
        ("2026-11-28T07:12:00Z", utc(2026, 11, 28, 7, 12)),
        ("2026-11-28t07:12:00z", utc(2026, 11, 28, 7, 12)),
        ("2026-11-28T07:12:00.123456789+01:00", utc(2026, 11, 28, 6, 12) + 123_456_789),
        ("2026-11-28T07:12:00.5-02:30", utc(2026, 11, 28, 9, 42) + 500_000_000),
        ("2026-11-28T07:12:00.000000001Z", utc(2026, 11, 28, 7, 12) + 1),
        ("2026-11-28T07:12:00+00:00", utc(2026, 11, 28, 7, 12)),
        ("2026-11-28T07:12:00", local(2026, 11, 28, 7, 12)),  # no zone: local, as docker
        ("2026-11-28T07:12", local(2026, 11, 28, 7, 12)),  # docker CLI short forms
        ("2026-11-28T07", local(2026, 11, 28, 7)),
        ("2026-11-28T07:12:00.25", local(2026, 11, 28, 7, 12) + 250_000_000),
        ("2024-02-29T23:59:59Z", utc(2024, 2, 29, 23, 59, 59)),
        ("1970-01-01T00:00:00Z", 0),
        # date only: local midnight; with a zone, that zone's midnight
        ("2026-11-28", local(2026, 11, 28)),
        ("2026-11-28Z", utc(2026, 11, 28)),
        ("2026-11-28+01:00", utc(2026, 11, 27, 23)),
        # unix seconds, exact to the nanosecond
        ("1732780800", 1_732_780_800 * NS),
        ("1732780800.5", 1_732_780_800 * NS + 500_000_000),
        ("1732780800.000000001", 1_732_780_800 * NS + 1),
        ("1732780800.999999999", 1_732_780_800 * NS + 999_999_999),
        ("0", 0),
        ("  1732780800  ", 1_732_780_800 * NS),
        # Go durations, before now
        ("10m", NOW_NS - 600 * NS),
        ("1h30m", NOW_NS - 5400 * NS),
        ("90s", NOW_NS - 90 * NS),
        ("1.5h", NOW_NS - 5400 * NS),
        ("500ms", NOW_NS - 500_000_000),
        ("2h45m30s", NOW_NS - (2 * 3600 + 45 * 60 + 30) * NS),
        ("0s", NOW_NS),
        ("1ns", NOW_NS - 1),
        ("3us", NOW_NS - 3_000),
        ("3µs", NOW_NS - 3_000),  # micro sign
        ("3μs", NOW_NS - 3_000),  # Greek mu
        (".5s", NOW_NS - 500_000_000),
        ("1.s", NOW_NS - NS),
        ("1m1m", NOW_NS - 120 * NS),
        ("+10m", NOW_NS - 600 * NS),
        ("-10m", NOW_NS + 600 * NS),  # Go's sign: after now
        ("1.000000001s", NOW_NS - NS - 1),
    ],
)
def test_parse_time(value: str, expected: int) -> None:
    assert parse_time(value, now=NOW) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        " ",
        "yesterday",
        "10x",
        "1d",  # Go has no day unit
        "10m5",
        "1h-5m",
        "m",
        ".s",
        "1e9",
        "nan",
        "inf",
        "-5",
        "+5",
        "1732780800.",
        "1732780800.1234567890",  # more than 9 fraction digits
        "0x10",
        "١٢٣",  # non-ASCII digits
        "2026-13-01",
        "2026-02-30",
        "2026-11-28T24:00:00Z",
        "2026-11-28T07:60:00Z",
        "2026-11-28T07:12:60Z",
        "2026-11-28T07:12:00+24:00",
        "2026-11-28T07:12:00+0100",
        "2026-11-28T07:12:00.Z",
        "2026-11-28T07:12:00.1234567891Z",
        "2026-11-28 07:12:00Z",
        "26-11-28",
        "0000-01-01",
        "3000000h",  # longer than a Go duration
        "-3000000h",
        "9223372036854775808",  # unix seconds beyond int64: docker refuses them too
        "9" * 30,
        "9" * 100,
    ],
)
def test_bad_values(value: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_time(value, now=NOW)
    assert repr(value) in str(info.value)


MAX_NANOS = 2**63 - 1  # 2262-04-11T23:47:16.854775807Z


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # after the end of int64 nanoseconds: clamped to it (docker accepts these)
        ("9999999999", MAX_NANOS),  # 2286-11-20
        ("9999999999.5", MAX_NANOS),
        ("9223372036.854775807", MAX_NANOS),  # exactly the end
        ("9223372036.854775806", MAX_NANOS - 1),
        ("9223372036.854775808", MAX_NANOS),
        ("9223372036854775807", MAX_NANOS),  # the largest unix seconds docker reads
        ("2263-01-01", MAX_NANOS),
        ("9999-12-31T23:59:59.999999999Z", MAX_NANOS),
        ("-2562047h", MAX_NANOS),  # a duration after now, past the end
        # before 1970: clamped to 0
        ("1969-12-31T23:59:59Z", 0),
        ("1900-01-01T00:00:00+01:00", 0),
        ("500000h", 0),  # reaches back before 1970
    ],
)
def test_times_outside_nanoseconds_are_clamped(value: str, expected: int) -> None:
    assert parse_time(value, now=NOW) == expected


def test_clamped_until_is_accepted_by_the_engine_format() -> None:
    assert to_docker_since(parse_time("9999999999")) == "9223372036.854775807"


def test_error_names_the_accepted_forms() -> None:
    with pytest.raises(UsageError, match=r"RFC 3339.*unix seconds.*duration"):
        parse_time("soon")


def test_window_reads_both_ends_against_one_now() -> None:
    assert parse_window("10m", "1m", NOW) == (NOW_NS - 600 * NS, NOW_NS - 60 * NS)
    assert parse_window(None, "1m", NOW) == (None, NOW_NS - 60 * NS)
    assert parse_window("2024-11-28", None, NOW) == (local(2024, 11, 28), None)
    assert parse_window(None, None, NOW) == (None, None)
    assert parse_window("1732780800", "1732780800", NOW) == (NOW_NS, NOW_NS)  # inclusive


@pytest.mark.parametrize(
    ("names", "message"),
    [((), "until is before since"), ((FLAGS,), "--until is before --since")],
)
def test_window_ending_before_it_begins_names_its_ends(
    names: tuple[tuple[str, str], ...], message: str
) -> None:
    with pytest.raises(UsageError) as err:
        parse_window("1m", "10m", NOW, *names)
    assert str(err.value) == message
    with pytest.raises(UsageError, match="bad time 'soon'"):
        parse_window("soon", None, NOW, *names)


def test_now_defaults_to_the_clock() -> None:
    before = time.time_ns()
    got = parse_time("1s")
    after = time.time_ns()
    assert before - NS <= got <= after - NS


def test_now_as_a_float_is_taken_at_its_decimal_value() -> None:
    assert parse_time("0s", now=1_732_780_800.1) == 1_732_780_800_100_000_000


@pytest.mark.parametrize(
    ("nanos", "text"),
    [
        (0, "0.000000000"),
        (1, "0.000000001"),
        (1_732_780_800 * NS, "1732780800.000000000"),
        (1_732_780_800 * NS + 500_000_000, "1732780800.500000000"),
        (1_732_780_800 * NS + 123_456_789, "1732780800.123456789"),
    ],
)
def test_to_docker_since(nanos: int, text: str) -> None:
    assert to_docker_since(nanos) == text


def test_to_docker_since_refuses_negative() -> None:
    with pytest.raises(ValueError):
        to_docker_since(-1)


@given(st.text())
def test_any_text_gives_an_int_or_usage_error(value: str) -> None:
    try:
        result = parse_time(value, now=NOW)
    except UsageError:
        return
    assert isinstance(result, int)
    assert 0 <= result < 2**63


@given(st.text(alphabet="0123456789.:-+TZzhmsunµ ", max_size=30))
def test_time_like_text_gives_an_int_or_usage_error(value: str) -> None:
    try:
        result = parse_time(value, now=NOW)
    except UsageError:
        return
    assert isinstance(result, int)
    assert 0 <= result < 2**63


@given(
    st.integers(min_value=0, max_value=9_223_372_035),
    st.text(alphabet="0123456789", max_size=9),
)
def test_unix_seconds_round_trip(seconds: int, fraction: str) -> None:
    value = f"{seconds}.{fraction}" if fraction else str(seconds)
    nanos = parse_time(value)
    assert to_docker_since(nanos) == f"{seconds}.{fraction.ljust(9, '0')}"
    assert parse_time(to_docker_since(nanos)) == nanos
