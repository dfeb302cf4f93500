"""``ps --filter`` parsing under hypothesis (the agent's ``?filter=``, the commands'
``--filter``, and dstats' filter line, which builds on it): any text is a filter or a
UsageError, and a parsed filter keeps exactly the containers the documented semantics
(AND across keys, OR across values, every label) keep, on random containers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from helpers.fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.errors import UsageError
from watchdog_agent.events.filters import familiar_name
from watchdog_agent.inventory.psfilter import PS_KEYS, STATUSES, parse_ps_filters
from watchdog_agent.inventory.sources import parse_filters
from watchdog_agent.model import ContainerRef
from watchdog_agent.tui.rowfilter import parse_filter
from watchdog_agent.tui.screens.events import split_filters

IDS = ["abc1", "abc2", "f00d"]
NAMES = ["web", "web-1", "db", None]
IMAGES = ["busybox", "busybox:latest", "docker.io/library/busybox:1", "redis", None]
IMAGE_IDS = ["sha256:abc", "sha256:f00", None]
LABELS = ["team", "tier"]
odd = st.text(st.sampled_from("019 -=a\u00b2\u0663\t"), max_size=8)


@st.composite
def refs(draw: st.DrawFn) -> ContainerRef:
    state = draw(st.sampled_from(sorted(STATUSES)))
    return ContainerRef(
        id=draw(st.sampled_from(IDS)),
        name=draw(st.sampled_from(NAMES)),
        image=draw(st.sampled_from(IMAGES)),
        image_id=draw(st.sampled_from(IMAGE_IDS)),
        labels=draw(st.dictionaries(st.sampled_from(LABELS), st.sampled_from(["a", "b", ""]))),
        state=state,
        exit_code=draw(st.sampled_from([0, 1, 137])) if state == "exited" else None,
    )


def _values(key: str) -> st.SearchStrategy[str]:
    return {
        "id": st.sampled_from(["abc", "abc1", "f", ""]),
        "name": st.sampled_from(["web", "eb", "db", "x"]),
        "label": st.sampled_from(["team", "tier", "team=a", "tier=b", "team="]),
        "status": st.sampled_from(sorted(STATUSES)),
        "ancestor": st.sampled_from(["busybox", "busybox:latest", "redis", "sha256:ab", "abc"]),
        "image": st.sampled_from(["busybox", "redis:latest"]),
        "exited": st.sampled_from(["0", "1", "137", "-1"]),
    }[key]


items = st.sampled_from(sorted(PS_KEYS)).flatmap(lambda k: _values(k).map(lambda v: (k, v)))


def reference(pairs: list[tuple[str, str]], ref: ContainerRef) -> bool:
    """psfilter's docstring, transcribed: AND across keys, OR across one key's values,
    every ``label`` value must hold."""
    by_key: dict[str, list[str]] = {}
    for key, value in pairs:
        by_key.setdefault("ancestor" if key == "image" else key, []).append(value)
    for key, values in by_key.items():
        if key == "label":
            for v in values:
                k, sep, want = v.partition("=")
                if k not in ref.labels or (sep and ref.labels[k] != want):
                    return False
            continue
        checks: dict[str, Callable[[str], bool]] = {
            "id": lambda v: ref.id.startswith(v),
            "name": lambda v: ref.name is not None and v in ref.name,
            "status": lambda v: ref.state == v,
            "exited": lambda v: ref.state == "exited" and ref.exit_code == int(v),
            "ancestor": lambda v: (
                (
                    ref.image is not None
                    and (ref.image == v or familiar_name(ref.image) == familiar_name(v))
                )
                or (
                    ref.image_id is not None
                    and v != ""
                    and (ref.image_id.startswith(v) or ref.image_id[7:].startswith(v))
                )
            ),
        }
        if not any(checks[key](v) for v in values):
            return False
    return True


@settings(max_examples=examples(40))
@given(st.lists(items, max_size=4), st.lists(refs(), min_size=1, max_size=6))
def test_ps_filters_keep_what_the_documented_semantics_keep(
    pairs: list[tuple[str, str]], containers: list[ContainerRef]
) -> None:
    flt = parse_ps_filters([f"{k}={v}" for k, v in pairs])
    for ref in containers:
        assert flt.matches(ref) is reference(pairs, ref), (pairs, ref)


def usage_error_only(parse: Any, arg: Any) -> Any:
    with contextlib.suppress(UsageError):  # any other exception fails the test
        return parse(arg)
    return None


texts = odd | st.text(max_size=12) | items.map(lambda kv: f" {kv[0].upper()} = {kv[1]} ")


@settings(max_examples=examples(40))
@given(st.lists(texts, max_size=4), refs())
def test_any_ps_filter_text_parses_or_raises_usage_error(
    texts_: list[str], ref: ContainerRef
) -> None:
    flt = usage_error_only(parse_ps_filters, texts_)
    if flt is not None:
        assert set(flt.include) <= PS_KEYS - {"image"}
        flt.matches(ref)  # and matching never raises either


@pytest.mark.parametrize("value", ["\u00b2", "-\u00b2", "1\u00b2", "--1"])
def test_exited_with_non_ascii_digits_is_a_usage_error(value: str) -> None:
    """Found by hypothesis: ``exited=\u00b2`` passed the isdigit() check, and building the
    filter's check raised ValueError from int(); so did ``exited=--1``."""
    with pytest.raises(UsageError):
        parse_ps_filters([f"exited={value}"])


@settings(max_examples=examples(30))
@given(st.lists(texts, max_size=4))
def test_docker_filter_items_parse_or_raise_usage_error(texts_: list[str]) -> None:
    got = usage_error_only(parse_filters, texts_)
    if got is not None:  # each item is kept, as given, under its key
        assert sum(len(v) for v in got.values()) == len(texts_)


@settings(max_examples=examples(30))
@given(st.lists(texts | st.sampled_from(['"', "'", "\\"]), max_size=4).map(" ".join), refs())
def test_dstats_filter_line_parses_or_raises_usage_error(text: str, ref: ContainerRef) -> None:
    row_filter = usage_error_only(parse_filter, text)
    if row_filter is not None:
        assert row_filter.text == text.strip()
        assert all("=" in term for term in row_filter.ps_terms)
    words = usage_error_only(split_filters, text)
    assert words is None or all(words)
