"""collectors/hostparse.py under hypothesis: /proc/loadavg, one-line files and os-release
of any content give a value or None (a gap), never an exception or an impossible number;
written-out values read back; the host CPU % stays within docker stats' scale."""

from __future__ import annotations

import math
import shlex

import pytest
from helpers.fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.collectors.hostparse import (
    CpuTimes,
    Load,
    cpu_percent,
    cpu_times,
    one_line,
    parse_loadavg,
    parse_os_release,
)

odd = st.text(st.sampled_from("0123456789. -+/naifeINF\n\t"), max_size=30)
loads = st.floats(0, 1e4, allow_nan=False).map(lambda v: round(v, 2))


@settings(max_examples=examples(50))
@given(odd | st.text(max_size=40))
def test_loadavg_is_three_finite_non_negative_averages_or_none(text: str) -> None:
    load = parse_loadavg(text)
    assert load is None or all(math.isfinite(v) and v >= 0 for v in load)


@pytest.mark.parametrize("text", ["nan nan nan 1/2 3", "inf 0.1 0.2 1/2 3", "1 2 -inf"])
def test_loadavg_that_is_not_a_finite_number_is_a_gap(text: str) -> None:
    """Found by hypothesis: float() reads "nan" and "inf", and they passed the v < 0 check
    (the kernel writes neither)."""
    assert parse_loadavg(text) is None


@settings(max_examples=examples(30))
@given(loads, loads, loads, st.integers(0, 99), st.integers(1, 10**6))
def test_loadavg_reads_back_what_the_kernel_writes(
    a: float, b: float, c: float, running: int, last: int
) -> None:
    text = f"{a:.2f} {b:.2f} {c:.2f} {running}/{running + 7} {last}\n"
    assert parse_loadavg(text) == Load(a, b, c)


@settings(max_examples=examples(30))
@given(st.text(max_size=30))
def test_one_line_is_a_stripped_first_line_or_none(text: str) -> None:
    got = one_line(text)
    assert got is None or (got == got.strip() and "\n" not in got and got in text)


visible = st.characters(min_codepoint=33, max_codepoint=0x2FF, exclude_categories=["Cc", "Zs"])
words = st.text(visible, min_size=1, max_size=8)
names = st.lists(words, min_size=1, max_size=3).map(" ".join)


@settings(max_examples=examples(30))
@given(st.none() | names, st.none() | names, st.none() | names, st.lists(odd, max_size=3))
def test_os_release_reads_back_its_fields(
    pretty: str | None, name: str | None, version: str | None, noise: list[str]
) -> None:
    lines = [f"{k}={shlex.quote(v)}" for k, v in (("PRETTY_NAME", pretty), ("NAME", name),
             ("VERSION_ID", version)) if v is not None]  # fmt: skip
    text = "\n".join(["# comment", *lines, *(n.replace("=", "") for n in noise)])
    expected = pretty or (f"{name} {version}" if name and version else name)
    assert parse_os_release(text) == expected


@pytest.mark.parametrize("value", ["'a\x85b'", "'a\u2028b'", "x\x1cy"])
def test_os_release_lines_end_at_newlines_only(value: str) -> None:
    """Found by hypothesis: ``NAME='a\x85b'`` read as None; str.splitlines() also breaks
    lines at U+0085, U+2028 and the other Unicode separators, os-release(5) only at
    newlines."""
    assert parse_os_release(f"NAME={value}\n") == shlex.split(value)[0]


@settings(max_examples=examples(30))
@given(st.text(max_size=60) | odd)
def test_any_os_release_gives_a_name_or_none(text: str) -> None:
    got = parse_os_release(text)
    assert got is None or (got and got == got.strip())


fields = st.dictionaries(
    st.sampled_from(["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]),
    st.floats(0, 1e9),
)


@settings(max_examples=examples(30))
@given(fields, fields, st.integers(-1, 64))
def test_host_cpu_percent_is_within_docker_stats_scale_or_none(
    before: dict[str, float], grow: dict[str, float], cpus: int
) -> None:
    after = {k: before.get(k, 0.0) + grow.get(k, 0.0) for k in before.keys() | grow.keys()}
    percent = cpu_percent(cpu_times(before), cpu_times(after), cpus)
    assert percent is None or 0.0 <= percent <= 100.0 * cpus
    assert cpu_percent(CpuTimes(1.0, 2.0), CpuTimes(1.0, 2.0), cpus) is None  # no time
