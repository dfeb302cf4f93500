"""``--since``/``--until`` under hypothesis: every form round trips from a random instant
(RFC 3339 at any offset, unix seconds, the Engine's own ``since`` text, Go durations),
any text is nanoseconds in range or a UsageError, and a window never ends before it
begins. The commands' ``logs --tail`` parsing rides along."""

from __future__ import annotations

import contextlib
import time
from datetime import UTC, datetime, timedelta

import pytest
from helpers.fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.commands.logs import LogsQuery
from watchdog_agent.errors import UsageError
from watchdog_agent.events.timeparse import (
    MAX_NANOS,
    parse_time,
    parse_window,
    to_docker_since,
)

NS = 10**9
NOW = 1_732_780_800  # whole seconds: durations are then exact
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
instants = st.integers(0, MAX_NANOS)
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1)  # minutes


def rfc3339(nanos: int, minutes: int, digits: int) -> str:
    """``nanos`` as RFC 3339 at a UTC offset of ``minutes``, ``digits`` fraction digits."""
    seconds, frac = divmod(nanos, NS)
    local = EPOCH + timedelta(seconds=seconds, minutes=minutes)
    sign, off = ("-" if minutes < 0 else "+"), abs(minutes)
    zone = "Z" if minutes == 0 and digits % 2 else f"{sign}{off // 60:02d}:{off % 60:02d}"
    fraction = f".{frac:09d}"[: digits + 1] if digits else ""
    return f"{local:%Y-%m-%dT%H:%M:%S}{fraction}{zone}"


@settings(max_examples=examples(40))
@given(instants, offsets, st.integers(0, 9))
def test_rfc3339_round_trips_at_any_offset(nanos: int, minutes: int, digits: int) -> None:
    text = rfc3339(nanos, minutes, digits)
    truncated = nanos - nanos % 10 ** (9 - digits)  # the digits written, no more
    assert parse_time(text, now=NOW) == truncated


@settings(max_examples=examples(40))
@given(instants)
def test_unix_seconds_and_the_engine_form_round_trip(nanos: int) -> None:
    assert parse_time(to_docker_since(nanos)) == nanos
    seconds, frac = divmod(nanos, NS)
    assert parse_time(f" {seconds} ") == seconds * NS
    assert parse_time(f"{seconds}.{frac:09d}".rstrip("0").rstrip(".")) == nanos


units = st.sampled_from([("h", 3600 * NS), ("m", 60 * NS), ("s", NS), ("ms", 10**6),
                         ("us", 10**3), ("\u00b5s", 10**3), ("ns", 1)])  # fmt: skip


@settings(max_examples=examples(40))
@given(st.lists(st.tuples(st.integers(0, 10**6), units), min_size=1, max_size=4), st.booleans())
def test_go_durations_count_back_from_now(
    parts: list[tuple[int, tuple[str, int]]], after: bool
) -> None:
    text = ("-" if after else "") + "".join(f"{n}{unit}" for n, (unit, _) in parts)
    length = sum(n * scale for n, (_, scale) in parts)
    if length > MAX_NANOS:  # longer than Go's durations (292 years)
        with pytest.raises(UsageError, match="too long"):
            parse_time(text, now=NOW)
        return
    expected = NOW * NS + (length if after else -length)
    assert parse_time(text, now=NOW) == min(max(expected, 0), MAX_NANOS)


@settings(max_examples=examples(30))
@given(instants)
def test_a_time_without_zone_is_read_in_the_local_offset_at_now(nanos: int) -> None:
    """What the docker CLI does: the zone's offset *now*, whatever the date."""
    text = rfc3339(nanos, 0, 9).removesuffix("Z")
    expected = nanos - time.localtime(NOW).tm_gmtoff * NS
    assert parse_time(text, now=NOW) == min(max(expected, 0), MAX_NANOS)


odd = st.text(st.sampled_from("0129-:.TZz+hms \u00b5\u00b2\u0663e"), max_size=24)


@settings(max_examples=examples(75))
@given(odd | st.text(max_size=30))
def test_any_text_is_nanoseconds_in_range_or_a_usage_error(text: str) -> None:
    with contextlib.suppress(UsageError):  # any other exception fails the test
        assert 0 <= parse_time(text, now=NOW) <= MAX_NANOS


@settings(max_examples=examples(30))
@given(st.none() | odd, st.none() | odd)
def test_a_window_never_ends_before_it_begins(since: str | None, until: str | None) -> None:
    with contextlib.suppress(UsageError):
        start, end = parse_window(since, until, NOW)
        assert (start is None) is (since is None) and (end is None) is (until is None)
        assert start is None or end is None or start <= end


@settings(max_examples=examples(30))
@given(st.integers(0, 10**6) | odd)
def test_logs_tail_is_a_count_all_or_a_usage_error(tail: int | str) -> None:
    text = str(tail)
    with contextlib.suppress(UsageError):
        query = LogsQuery.parse(False, text, None, None, False)
        assert query.tail == "all" or int(query.tail) >= 0
        if isinstance(tail, int):
            assert query.tail == str(tail)


@pytest.mark.parametrize("tail", ["\u00b2", "1\u00b2"])
def test_logs_tail_with_non_ascii_digits_is_a_usage_error(tail: str) -> None:
    """Found by hypothesis: ``--tail \u00b2`` passed isdigit() and int() raised."""
    with pytest.raises(UsageError):
        LogsQuery.parse(False, tail, None, None, False)
