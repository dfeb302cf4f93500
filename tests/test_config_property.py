"""Settings from flags, WATCHDOG_* environment and TOML under hypothesis: any value is a
setting or a UsageError naming where it came from (never another exception), values
written out as environment text read back to themselves, and ``--listen`` round trips."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
from helpers.fuzzing import examples
from hypothesis import given, settings
from hypothesis import strategies as st

from watchdog_agent.config import Settings, load_settings, parse_listen, read_config_file
from watchdog_agent.errors import UsageError

NAMES = [
    "interval", "disk_interval", "no_docker", "listen", "journal", "history", "max_streams",
    "max_connections", "header_timeout", "idle_timeout", "auth_exempt_health", "metric_labels",
    "docker_host", "proc_root",
]  # fmt: skip
odd = st.text(st.sampled_from("019 .-+e_:[]a,\u00b2\u0663\t"), max_size=10)
texts = odd | st.text(max_size=10) | st.sampled_from(["1", "0.5", "true", "off", "none", "inf"])
toml_values = (
    st.integers()
    | st.integers(10**300, 10**400)  # past float's range
    | st.floats()
    | st.booleans()
    | texts
    | st.lists(texts, max_size=3)
)


@contextlib.contextmanager
def toml_file(text: str) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="wdcfg-") as tmp:
        path = os.path.join(tmp, "agent.toml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        yield path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(value), repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def settings_or_usage_error(**kw: Any) -> Settings | None:
    with contextlib.suppress(UsageError):  # any other exception fails the test
        return load_settings(**kw)
    return None


@settings(max_examples=examples(20))
@given(st.dictionaries(st.sampled_from(NAMES), texts, max_size=4))
def test_environment_values_are_settings_or_usage_errors(values: dict[str, str]) -> None:
    env = {f"WATCHDOG_{k.upper()}": v for k, v in values.items()}
    got = settings_or_usage_error(env=env | {"XDG_STATE_HOME": "/tmp/wd-x"})
    if got is not None:
        assert got.interval > 0 and got.history >= 1 and got.max_streams >= 1


@settings(max_examples=examples(20))
@given(st.dictionaries(st.sampled_from(NAMES), toml_values, max_size=3))
def test_toml_values_are_settings_or_usage_errors(values: dict[str, Any]) -> None:
    text = "".join(f"{k} = {_toml(v)}\n" for k, v in values.items())
    with toml_file(text) as path:
        got = settings_or_usage_error(config_file=path, env={"XDG_STATE_HOME": "/tmp/wd-x"})
    if got is not None:
        assert got.interval > 0 and got.idle_timeout > 0


@settings(max_examples=examples(15))
@given(st.dictionaries(st.sampled_from(NAMES), toml_values | texts, max_size=3))
def test_flag_values_are_settings_or_usage_errors(values: dict[str, Any]) -> None:
    settings_or_usage_error(flags=values, env={"XDG_STATE_HOME": "/tmp/wd-x"})


@pytest.mark.parametrize("name", ["interval", "header_timeout"])
def test_a_number_too_large_for_a_float_is_a_usage_error(name: str) -> None:
    """Found by hypothesis: ``interval = 1e400`` written as a TOML integer made float()
    raise OverflowError."""
    with toml_file(f"{name} = 1{'0' * 400}\n") as path, pytest.raises(UsageError, match=name):
        load_settings(config_file=path, env={})
    with pytest.raises(UsageError):
        load_settings(flags={name: 10**400}, env={})


@settings(max_examples=examples(15))
@given(st.binary(max_size=80).map(lambda b: b.decode("utf-8", "replace")) | st.text(max_size=60))
def test_any_config_file_reads_or_raises_usage_error(text: str) -> None:
    with toml_file(text) as path, contextlib.suppress(UsageError):
        read_config_file(path)


@settings(max_examples=examples(15))
@given(
    st.floats(1e-3, 1e6),
    st.integers(1, 10**9),
    st.booleans(),
    st.lists(st.text(st.characters(min_codepoint=33, max_codepoint=126, exclude_characters=","),
                     min_size=1, max_size=6), max_size=3, unique=True),
)  # fmt: skip
def test_settings_written_as_environment_text_read_back(
    interval: float, history: int, flag: bool, labels: list[str]
) -> None:
    env = {
        "WATCHDOG_INTERVAL": repr(interval),
        "WATCHDOG_HISTORY": str(history),
        "WATCHDOG_NO_DOCKER": "true" if flag else "false",
        "WATCHDOG_METRIC_LABELS": ",".join(labels),
    }
    got = load_settings(env=env)
    assert (got.interval, got.history, got.no_docker) == (interval, history, flag)
    assert got.metric_labels == tuple(labels)


hosts = st.sampled_from(["127.0.0.1", "localhost", "0.0.0.0", "[::1]", "[fe80::1]", "host-a"])


@settings(max_examples=examples(15))
@given(hosts, st.integers(0, 65535))
def test_listen_addresses_round_trip(host: str, port: int) -> None:
    assert parse_listen(f"{host}:{port}") == (host.strip("[]"), port)


@settings(max_examples=examples(20))
@given(odd | st.text(max_size=20) | st.tuples(hosts, odd).map(":".join))
def test_any_listen_text_parses_or_raises_usage_error(text: str) -> None:
    with contextlib.suppress(UsageError):
        host, port = parse_listen(text)
        assert 0 <= port <= 65535 and host


@pytest.mark.parametrize("text", ["127.0.0.1:\u00b2", "h:\u0663"])
def test_listen_port_with_non_ascii_digits_is_a_usage_error(text: str) -> None:
    """Found by hypothesis: ``"\u00b2".isdigit()`` holds and ``int("\u00b2")`` raised
    ValueError."""
    with pytest.raises(UsageError):
        parse_listen(text)
