"""The main table's cells and sort keys (tui/columns.py): gaps, units, the CPU bar."""

from __future__ import annotations

import pytest
from tuifakes import NOW, row, stopped

from watchdog_agent.errors import UsageError
from watchdog_agent.tui.columns import (
    COLUMNS,
    Context,
    Tone,
    bar,
    columns_for,
    cpu_cell,
    duration,
    find_column,
    rate,
    sort_column,
    state_text,
)

CTX = Context(now=NOW, host_cpus={"http://h1:9338": 4}, host_names={"http://h1:9338": "h1"})


def text(cell: tuple[tuple[str, Tone], ...]) -> str:
    return "".join(t for t, _ in cell)


def test_half_of_a_half_cpu_limit_fills_the_bar() -> None:
    cell = cpu_cell(row("a", "a", cpu_percent=50.0, cpu_limit=0.5), CTX)
    filled, tone = cell[0]
    assert filled == "█" * 8 and tone is Tone.CRIT
    assert text(cell).endswith(" 50.0%")


def test_unlimited_cpu_is_scaled_to_the_hosts_cpus() -> None:
    # 4 CPUs: 100 % (one core) is a quarter of the bar, green
    cell = cpu_cell(row("a", "a", cpu_percent=100.0), CTX)
    assert cell[0] == ("██", Tone.OK)
    assert cell[1] == ("·" * 6, Tone.DIM)
    # an unknown host's CPU count: one core is the whole bar
    lone = Context(now=NOW, host_cpus={}, host_names={})
    assert cpu_cell(row("a", "a", cpu_percent=100.0), lone)[0] == ("█" * 8, Tone.CRIT)


def test_bar_uses_eighths_and_clamps() -> None:
    assert bar(0.5 / 8, 8) == ("▌", "·" * 7)
    assert bar(2.0, 4) == ("████", "")
    assert bar(-1.0, 4) == ("", "····")


def test_gaps_are_dashes_never_zero() -> None:
    r = stopped("c", "gone", 137)
    cells = {c.key: text(c.format(r, CTX)) for c in COLUMNS}
    for key in ("mem", "mem%", "net", "block", "pids", "psi", "throttled"):
        assert cells[key] == "-", key
    assert cells["cpu"].endswith("-")
    assert cells["state"] == "exited (137)"


def test_state_shows_uptime_exit_code_and_oom() -> None:
    assert state_text(row("a", "a", started_at=NOW - 3725), NOW) == "running 1h02m"
    assert state_text(stopped("b", "b", 137, oom_killed=True), NOW) == "exited (137, OOM)"
    assert state_text(row("c", "c", state="paused"), NOW) == "paused"
    assert duration(59) == "59s" and duration(61) == "1m01s" and duration(90061) == "1d01h"


def test_rates_in_human_units_per_second() -> None:
    assert rate(None) == "-"
    assert rate(0.0) == "0B/s"
    assert rate(1234.0) == "1.23kB/s"
    assert rate(5.5e6) == "5.5MB/s"
    r = row("a", "a", net_rx_rate=2000.0, net_tx_rate=None)
    net = find_column("net")
    assert net is not None and text(net.format(r, CTX)) == "2kB/s / -"


def test_names_are_escaped_for_the_terminal() -> None:
    name = find_column("name")
    assert name is not None
    assert text(name.format(row("a", "\x1b]0;owned\x07x"), CTX)) == "\\x1b]0;owned\\x07x"


def test_columns_by_key_alias_and_title() -> None:
    for word, key in (("CPU %", "cpu"), ("mem%", "mem%"), ("uptime", "state"), ("HOST", "host")):
        col = find_column(word)
        assert col is not None and col.key == key
    assert find_column("bogus") is None
    assert columns_for(True)[0].key == "host"
    assert "host" not in [c.key for c in columns_for(False)]


@pytest.mark.parametrize("text", ["cpu", "CPU %", "Cpu%", " cpu "])
def test_sort_column_takes_keys_aliases_and_titles(text: str) -> None:
    assert sort_column(text).key == "cpu"


def test_unknown_sort_column_names_the_valid_ones() -> None:
    with pytest.raises(UsageError, match="valid: host, name, id"):
        sort_column("colour")
