"""selection.py: filters and sort keys over rows (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from watchdog_agent.errors import UsageError
from watchdog_agent.tui.selection import parse_filters, select, sort_key, sort_rows
from watchdog_agent.tui.view import Row


def row(name: str, **values: Any) -> Row:
    fields: dict[str, Any] = dict.fromkeys(Row.__slots__, None)
    fields.update(host="h", id=name * 4, name=name, image="busybox", state="running", labels={})
    fields.update(values)
    return Row(**fields)


ROWS = [
    row("web", cpu_percent=10.0, image="nginx:1", labels={"tier": "front"}),
    row("db", cpu_percent=80.0, image="postgres:16"),
    row("job", cpu_percent=None),
    row("old", state="exited", finished_exit_code=3),
]


def names(rows: list[Row]) -> list[str | None]:
    return [r.name for r in rows]


def test_numbers_sort_largest_first_and_gaps_last_either_way() -> None:
    assert names(sort_rows(ROWS, "cpu")) == ["db", "web", "job", "old"]
    assert names(sort_rows(ROWS, "cpu", reverse=True)) == ["web", "db", "job", "old"]
    assert names(sort_rows(ROWS, "name")) == ["db", "job", "old", "web"]


@pytest.mark.parametrize("text", ["cpu", "CPU %", "Cpu%"])
def test_sort_key_accepts_keys_and_headers(text: str) -> None:
    assert sort_key(text) == "cpu"


def test_unknown_sort_key() -> None:
    with pytest.raises(UsageError, match="valid: host, name"):
        sort_key("colour")


def test_running_only_unless_all_or_a_status_filter() -> None:
    assert names(select(ROWS, False, parse_filters(()))) == ["web", "db", "job"]
    assert "old" in names(select(ROWS, True, parse_filters(())))
    assert names(select(ROWS, False, parse_filters(["exited=3"]))) == ["old"]


def test_substring_and_docker_filters_all_hold() -> None:
    assert names(select(ROWS, True, parse_filters(["NGINX"]))) == ["web"]
    assert names(select(ROWS, True, parse_filters(["label=tier=front", "we"]))) == ["web"]
    assert names(select(ROWS, True, parse_filters(["label=tier=back"]))) == []
    assert names(select(ROWS, True, parse_filters(["name=db"]))) == ["db"]


def test_bad_docker_filter_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        parse_filters(["status=sleeping"])
