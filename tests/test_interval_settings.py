"""--disk-interval and --resync-interval: settings like the others (flag >
WATCHDOG_<NAME> > TOML > default), checked once, and accepted by `serve` only."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchdog_agent.cli import build_parser
from watchdog_agent.config import Settings, load_settings
from watchdog_agent.errors import UsageError

SETTINGS = [("disk_interval", 300.0), ("resync_interval", 60.0)]


@pytest.mark.parametrize(("name", "default"), SETTINGS)
def test_default_flag_environment_and_file(tmp_path: Path, name: str, default: float) -> None:
    env_name = "WATCHDOG_" + name.upper()
    assert getattr(Settings(), name) == default
    assert getattr(load_settings({}, env={}), name) == default
    assert getattr(load_settings({}, env={env_name: "60"}), name) == 60.0
    toml = tmp_path / "agent.toml"
    toml.write_text(f"{name} = 120\n")
    assert getattr(load_settings({}, str(toml), env={}), name) == 120.0
    both = load_settings({name: 30.0}, str(toml), env={env_name: "60"})
    assert getattr(both, name) == 30.0


@pytest.mark.parametrize(("name", "default"), SETTINGS)
@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "soon"])
def test_bad_values_are_usage_errors(name: str, default: float, value: str) -> None:
    env_name = "WATCHDOG_" + name.upper()
    flag = "--" + name.replace("_", "-")
    with pytest.raises(UsageError, match=f"{env_name} must be a positive number"):
        load_settings({}, env={env_name: value})
    with pytest.raises(UsageError, match=f"{flag} must be a positive number"):
        load_settings({name: value}, env={})


@pytest.mark.parametrize(("name", "default"), SETTINGS)
def test_serve_takes_the_flag(name: str, default: float) -> None:
    flag = "--" + name.replace("_", "-")
    args = build_parser().parse_args(["serve", flag, "42"])
    assert getattr(args, name) == 42.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stats", flag, "42"])


def test_serve_hands_the_resync_interval_to_the_inventory() -> None:
    from watchdog_agent.cli import _serve_settings

    args = build_parser().parse_args(["serve", "--resync-interval", "7.5"])
    assert _serve_settings(args).resync_interval == 7.5
