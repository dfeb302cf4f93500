"""The table's filter (tui/rowfilter.py): words, docker's grammar, host=."""

from __future__ import annotations

import pytest
from tuifakes import row, stopped

from watchdog_agent.errors import UsageError
from watchdog_agent.tui.rowfilter import event_filters, from_terms, parse_filter

ROWS = [
    row("a", "web-1", image="nginx:1.25", labels={"tier": "front"}),
    row("b", "db", image="postgres:16", labels={"tier": "back"}),
    stopped("c", "job", 3, image="busybox:latest"),
]


def names(text: str, host_name: str = "h1") -> list[str | None]:
    f = parse_filter(text)
    return [r.name for r in ROWS if f.matches(r, host_name)]


def test_words_match_name_or_image_any_case() -> None:
    assert names("WEB") == ["web-1"]
    assert names("postgres") == ["db"]
    assert names("web nginx") == ["web-1"]  # every word must hold
    assert names("") == ["web-1", "db", "job"]
    assert not parse_filter("  ").active


def test_docker_grammar() -> None:
    assert names("label=tier=back") == ["db"]
    assert names("status=exited") == ["job"]
    assert names("exited=3") == ["job"]
    assert names("id=bbbb") == ["db"]
    assert names("ancestor=busybox") == ["job"]
    assert names("name=web name=db") == ["web-1", "db"]  # OR within a key
    assert names("label=tier=front we") == ["web-1"]  # a word and a docker term: both hold
    assert names("label=tier=front db") == []


def test_host_term_matches_name_or_key() -> None:
    assert names("host=h1") == ["web-1", "db", "job"]
    assert names("host=9338", host_name="other") == ["web-1", "db", "job"]
    assert names("host=h2", host_name="h1") == []


def test_bad_filters_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="unknown filter key"):
        parse_filter("colour=red")
    with pytest.raises(UsageError, match="bad status"):
        parse_filter("status=sleepy")
    with pytest.raises(UsageError, match="bad filter"):
        parse_filter('name="unclosed')


def test_quotes_keep_spaces_and_terms_come_from_the_command_line() -> None:
    f = from_terms(("label=note=a b", "web"))
    assert f.text == "'label=note=a b' web"
    assert parse_filter(f.text).ps_terms == ("label=note=a b",)


def test_event_filters_keep_what_events_understand() -> None:
    f = parse_filter("web label=tier=front ancestor=nginx status=running host=h1")
    assert event_filters(f) == ("label=tier=front", "image=nginx")
