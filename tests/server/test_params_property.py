"""The server's request parsing under hypothesis: query parameters (flags, counts, the logs
query, ``ps`` filters via the routes' shared parser) answer a value or a UsageError (a
400), never another exception (a 500); the Accept negotiation of /metrics and of the
page is total and picks what the header ranks first."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from helpers.fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.errors import UsageError
from watchdog_agent.exporter.exposition import Format, negotiate
from watchdog_agent.server import params
from watchdog_agent.server.page import prefers_html
from watchdog_agent.server.routes_logs import MAX_TAIL, parse_query

NOW = 1_732_780_800.0
# digits of other scripts and superscripts are str.isdigit() but not all int()-able
odd = st.text(st.sampled_from("019 -+.aTZ:\u00b2\u0663\uff11\t"), max_size=8)
values = odd | st.text(max_size=12) | st.sampled_from(["1", "0", "yes", "off", "all", "10m"])


def usage_error_only(parse: Any, *args: Any) -> Any:
    with contextlib.suppress(UsageError):  # any other exception fails the test (a 500)
        return parse(*args)
    return None


@settings(max_examples=examples(50))
@given(values)
def test_flag_is_a_bool_or_a_usage_error(value: str) -> None:
    got = usage_error_only(params.flag, {"x": value}, "x")
    if got is not None:
        assert got is (value.strip().lower() in ("1", "true", "yes", "on"))
    assert params.flag({}, "x") is False  # absent: false


@settings(max_examples=examples(50))
@given(values, st.integers(1, 10**6))
def test_count_is_positive_and_capped_or_a_usage_error(value: str, maximum: int) -> None:
    got = usage_error_only(params.count, {"n": value}, "n", maximum)
    if got is not None:
        assert 1 <= got <= maximum
        assert got == min(int(value.strip()), maximum)


@pytest.mark.parametrize("value", ["\u00b2", "1\u00b2", "\u0663"])
def test_count_with_non_ascii_digits_is_a_usage_error(value: str) -> None:
    """Found by hypothesis: ``"\u00b2".isdigit()`` holds, ``int("\u00b2")`` raised
    ValueError: a 500 for ``?history=\u00b2``."""
    with pytest.raises(UsageError):
        params.count({"n": value}, "n", 10)


keys = st.sampled_from(["tail", "since", "until", "format", "stdout", "stderr", "follow",
                        "timestamps"])  # fmt: skip


@settings(max_examples=examples(75))
@given(st.dictionaries(keys, values, max_size=5))
def test_logs_query_parses_or_raises_usage_error(query: dict[str, str]) -> None:
    q = usage_error_only(parse_query, query, NOW)
    if q is not None:
        assert 0 <= q.tail <= MAX_TAIL
        assert q.stdout or q.stderr
        assert q.since is None or q.until is None or q.since <= q.until
        assert (q.since is None) is ("since" not in query)


@pytest.mark.parametrize("tail", ["\u00b2", "\u0663"])
def test_logs_tail_with_non_ascii_digits_is_a_usage_error(tail: str) -> None:
    """Found by hypothesis: ``?tail=\u00b2`` passed ``isdigit()`` and ``int()`` raised."""
    with pytest.raises(UsageError):
        parse_query({"tail": tail}, NOW)


media = st.sampled_from(["application/openmetrics-text", "text/plain", "text/*", "*/*",
                         "application/json", "text/html", "text/event-stream", "image/png",
                         "", " "])  # fmt: skip
qs = st.none() | st.sampled_from(["0", "0.5", "1", "1.0", "x", "", "nan", "inf", "-1", "0.001"])


@st.composite
def accepts(draw: st.DrawFn) -> tuple[str, list[tuple[str, str | None]]]:
    items = draw(st.lists(st.tuples(media, qs), max_size=5))
    text = ",".join(m if q is None else f"{m};version=1.0.0;q={q}" for m, q in items)
    return text, items


def _q(q: str | None) -> float:
    if q is None:
        return 1.0
    try:
        return float(q)
    except ValueError:
        return 0.0


@settings(max_examples=examples(50))
@given(accepts() | st.text(max_size=40).map(lambda t: (t, [])))
def test_metrics_negotiation_picks_the_first_best_ranked_format(
    accept: tuple[str, list[tuple[str, str | None]]],
) -> None:
    text, items = accept
    content_type, fmt = negotiate(text)
    assert content_type == fmt.content_type
    if not items:
        return
    ranked = [
        (_q(q), -i, Format.OPENMETRICS if m == "application/openmetrics-text" else Format.TEXT)
        for i, (m, q) in enumerate(items)
        if m in ("application/openmetrics-text", "text/plain", "text/*", "*/*") and _q(q) > 0
    ]
    assert fmt is (max(ranked)[2] if ranked else Format.TEXT)


@settings(max_examples=examples(50))
@given(accepts() | st.text(max_size=40).map(lambda t: (t, [])))
def test_page_negotiation_is_total(accept: tuple[str, list[tuple[str, str | None]]]) -> None:
    text, items = accept
    html = prefers_html(text)
    if items:
        if all(m != "text/html" for m, _ in items):
            assert html is False  # the page is never chosen unless asked for
        assert params.wants_sse(text) is any(m == "text/event-stream" for m, _ in items)
