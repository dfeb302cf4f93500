"""The ``--filter`` grammar under hypothesis: any text parses or raises UsageError, a
filter rendered with ``to_args`` parses back to itself, and ``matches`` agrees with a
straight transcription of Docker's semantics (moby daemon/events/filter.go and
api/types/filters: ExactMatch, FuzzyMatch, MatchKVList) on random events."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path

from helpers.fuzzing import examples
from hypothesis import example, given, settings
from hypothesis import strategies as st

from watchdog_agent.errors import UsageError
from watchdog_agent.events.filters import (
    FILTER_KEYS,
    NAME_KEYS,
    EventFilter,
    familiar_name,
    parse_filters,
)
from watchdog_agent.events.journal import Journal
from watchdog_agent.model import Event

# small alphabets, so that random filters and random events often meet
ACTIONS = ["start", "die", "create", "health_status: healthy", "health_status",
           "exec_create: sh -c x", "exec_start: sh", "exec_die", "exec_create"]  # fmt: skip
TYPES = ["container", "image", "network", "volume", "daemon"]
IDS = ["", "ab", "abc123", "abc999", "f" * 64]
NAMES = ["", "web", "web-1", "db", "we"]
IMAGES = ["busybox", "busybox:latest", "docker.io/library/busybox:latest",
          "localhost:5000/x:1", "localhost:5000/x", "sha256:" + "3f" * 32, "Busy"]  # fmt: skip
LABEL_KEYS = ["team", "tier", "com.x"]
LABEL_VALUES = ["", "a", "b", "a=b"]

texts = st.text(st.sampled_from("abtyp=!, \t:\x00é\n"), max_size=20)


@st.composite
def events(draw: st.DrawFn) -> Event:
    attrs: dict[str, str] = {}
    for key in draw(st.lists(st.sampled_from(LABEL_KEYS), unique=True)):
        attrs[key] = draw(st.sampled_from(LABEL_VALUES))
    if draw(st.booleans()):
        attrs["name"] = draw(st.sampled_from(NAMES + IMAGES))
    if draw(st.booleans()):
        attrs["image"] = draw(st.sampled_from(IMAGES))
    return Event(
        type=draw(st.sampled_from(TYPES)),
        action=draw(st.sampled_from(ACTIONS)),
        actor_id=draw(st.sampled_from(IDS + IMAGES)),
        attributes=attrs,
        scope=draw(st.sampled_from(["local", "swarm"])),
        time=1,
        time_nano=10**9,
    )


def _values(key: str) -> st.SearchStrategy[str]:
    if key == "type":
        return st.sampled_from(TYPES)
    if key == "scope":
        return st.sampled_from(["local", "swarm"])
    if key == "event":
        return st.sampled_from([*ACTIONS, "health_", "exec_", "st"])
    if key == "image":
        return st.sampled_from(IMAGES)
    if key == "label":
        return st.builds(
            lambda k, v: k if v is None else f"{k}={v}",
            st.sampled_from(LABEL_KEYS),
            st.none() | st.sampled_from(LABEL_VALUES),
        )
    return st.sampled_from(NAMES + IDS[1:] + ["a", "abc"])


key_values = st.sampled_from(sorted(FILTER_KEYS)).flatmap(
    lambda k: st.tuples(st.just(k), st.frozensets(_values(k), min_size=1, max_size=3))
)
value_maps = st.lists(key_values, max_size=4).map(dict)
filters = st.builds(EventFilter, value_maps, st.lists(key_values, max_size=2).map(dict))


# -- Docker's semantics, transcribed --------------------------------------------------------


def exact(values: frozenset[str] | None, source: str) -> bool:
    """filters.Args.ExactMatch: no values for the key pass everything."""
    return not values or source in values


def fuzzy(values: frozenset[str] | None, source: str) -> bool:
    """filters.Args.FuzzyMatch: exact, or some value is a prefix of the source."""
    return not values or any(source.startswith(v) for v in values)


def kv_list(values: frozenset[str] | None, attrs: Mapping[str, str]) -> bool:
    """filters.Args.MatchKVList."""
    if not values:
        return True
    if not attrs:
        return False
    for value in values:
        key, sep, want = value.partition("=")
        if key not in attrs or (sep and attrs[key] != want):
            return False
    return True


def docker_includes(args: Mapping[str, frozenset[str]], ev: Event) -> bool:
    """events.Filter.Include."""
    event_values = args.get("event")
    if event_values and event_values & {"health_status", "exec_create", "exec_start"}:
        event_ok = fuzzy(event_values, ev.action)
    else:
        event_ok = exact(event_values, ev.action)
    name = ev.attributes.get("name", "")
    names_ok = all(fuzzy(args.get(k), ev.actor_id) or fuzzy(args.get(k), name) for k in NAME_KEYS)
    image = ev.attributes.get("name" if ev.type == "image" else "image", "")
    image_values = args.get("image")
    image_ok = (
        exact(image_values, ev.actor_id)
        or exact(image_values, image)
        or exact(image_values, familiar_name(ev.actor_id))
        or exact(image_values, familiar_name(image))
    )
    return (
        event_ok
        and exact(args.get("type"), ev.type)
        and exact(args.get("scope"), ev.scope)
        and names_ok
        and image_ok
        and kv_list(args.get("label"), ev.attributes)
    )


def excluded(exclude: Mapping[str, frozenset[str]], ev: Event) -> bool:
    """Our ``key!=value``: the key's own matcher over the excluded values alone; for
    ``label``, carrying any one of them."""
    for key, values in exclude.items():
        if key == "label":
            if any(kv_list(frozenset({v}), ev.attributes) for v in values):
                return True
        elif docker_includes({key: values}, ev):
            return True
    return False


@settings(max_examples=examples(30))
@given(filters, st.lists(events(), min_size=1, max_size=8))
def test_matches_agrees_with_dockers_semantics(flt: EventFilter, evs: list[Event]) -> None:
    for ev in evs:
        expected = docker_includes(flt.include, ev) and not excluded(flt.exclude, ev)
        assert flt.matches(ev) is expected, (flt.to_args(), ev)


@settings(max_examples=examples(25))
@given(filters)
def test_a_rendered_filter_parses_back_to_itself(flt: EventFilter) -> None:
    again = parse_filters(flt.to_args())
    assert again == flt
    assert again.to_args() == flt.to_args()
    query, residual = flt.to_docker_query()
    assert residual == flt
    pushed = flt.filters_json()
    assert (json.loads(pushed) if pushed else {}) == query
    assert query == {k: sorted(v) for k, v in flt.include.items()}


@settings(max_examples=examples(15))
@given(filters, st.sampled_from(sorted(FILTER_KEYS)), st.sampled_from(["", " ", "\t"]))
def test_keys_are_trimmed_and_lower_cased_values_trimmed(
    flt: EventFilter, key: str, pad: str
) -> None:
    """As the docker CLI does: `` Type = x `` is ``type=x``."""
    items = [f"{pad}{k.upper()}{pad}{op}{pad}{v}{pad}" for k, op, v in _split(flt.to_args())]
    assert parse_filters(items) == flt


def _split(items: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for item in items:
        key, _, value = item.partition("=")
        op = "!=" if key.endswith("!") else "="
        out.append((key.removesuffix("!"), op, value))
    return out


@settings(max_examples=examples(30))
@given(st.lists(st.one_of(texts, st.text(max_size=30)), max_size=5))
def test_any_text_parses_or_raises_usage_error(items: list[str]) -> None:
    with contextlib.suppress(UsageError):  # any other exception fails the test
        flt = parse_filters(items)
        assert set(flt.include) | set(flt.exclude) <= FILTER_KEYS
        for item in items:  # every key given is in the result, or its item was blank
            key = item.partition("=")[0].strip().removesuffix("!").strip().lower()
            if item.strip():
                assert key in flt.include or key in flt.exclude


@settings(max_examples=examples(30))
@given(st.one_of(st.sampled_from(IMAGES), st.text(max_size=80)))
def test_familiar_name_is_idempotent_and_total(image: str) -> None:
    """stripTag of a familiar name is itself, a part of the reference; nothing raises."""
    name = familiar_name(image)
    assert familiar_name(name) == name
    assert name in image


# label keys and values JSON escapes (quotes, backslashes, non-ASCII, U+2028)
ODD = ['"', "\\", "é", 'a"b', "\u2028", "\U0001f600"]
odd_labels = st.dictionaries(
    st.sampled_from(LABEL_KEYS + ODD), st.sampled_from(LABEL_VALUES + ODD), max_size=3
)
label_filters = st.lists(
    st.tuples(st.sampled_from(LABEL_KEYS + ODD), st.none() | st.sampled_from(LABEL_VALUES + ODD)),
    min_size=1,
    max_size=2,
).map(lambda kvs: EventFilter({"label": frozenset(k if v is None else f"{k}={v}" for k, v in kvs)}))


@settings(max_examples=examples(30), deadline=None)
@given(filters | label_filters, st.lists(st.tuples(events(), odd_labels), max_size=12))
@example(parse_filters(["label=tier", "label=tier=a"]), [])  # one key, with and without
def test_the_journals_narrowing_loses_no_event_the_filter_keeps(
    flt: EventFilter, drawn: list[tuple[Event, dict[str, str]]]
) -> None:
    stored = [
        dataclasses.replace(e, attributes={**e.attributes, **extra}, time_nano=10**9 + n)
        for n, (e, extra) in enumerate(drawn)
    ]
    with tempfile.TemporaryDirectory() as tmp, Journal(str(Path(tmp) / "j.db")) as journal:
        journal.append(stored)
        got = journal.query(None, None, narrow=flt.narrowing(), predicate=flt.matches)
    assert got == [e for e in stored if flt.matches(e)], flt.to_args()
