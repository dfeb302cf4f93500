"""--disk-interval: a setting like the others (flag > WATCHDOG_DISK_INTERVAL > TOML >
default 300 s), checked once, and accepted by `serve` only."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchdog_agent.cli import build_parser
from watchdog_agent.config import Settings, load_settings
from watchdog_agent.errors import UsageError


def test_default_flag_environment_and_file(tmp_path: Path) -> None:
    assert Settings().disk_interval == 300.0
    assert load_settings({}, env={}).disk_interval == 300.0
    assert load_settings({}, env={"WATCHDOG_DISK_INTERVAL": "60"}).disk_interval == 60.0
    toml = tmp_path / "agent.toml"
    toml.write_text("disk_interval = 120\n")
    assert load_settings({}, str(toml), env={}).disk_interval == 120.0
    both = load_settings({"disk_interval": 30.0}, str(toml),
                         env={"WATCHDOG_DISK_INTERVAL": "60"})  # fmt: skip
    assert both.disk_interval == 30.0


@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf", "soon"])
def test_bad_values_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError, match="WATCHDOG_DISK_INTERVAL must be a positive number"):
        load_settings({}, env={"WATCHDOG_DISK_INTERVAL": value})
    with pytest.raises(UsageError, match="--disk-interval must be a positive number"):
        load_settings({"disk_interval": value}, env={})


def test_serve_takes_the_flag() -> None:
    args = build_parser().parse_args(["serve", "--disk-interval", "42"])
    assert args.disk_interval == 42.0
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stats", "--disk-interval", "42"])
