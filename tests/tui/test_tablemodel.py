"""The table's model (tui/tablemodel.py): sort, gaps last, the cursor on its container."""

from __future__ import annotations

from tuifakes import fleet_of, host, row, stopped

from watchdog_agent.tui.rowfilter import parse_filter
from watchdog_agent.tui.tablemodel import TableModel


def names(m: TableModel) -> list[str | None]:
    return [r.name for r in m.visible]


def test_numbers_sort_biggest_first_gaps_last_either_way() -> None:
    m = TableModel(show_all=True)
    m.update(fleet_of(host([row("a", "a", cpu_percent=5.0), stopped("b", "b", 0),
                            row("c", "c", cpu_percent=50.0)])))  # fmt: skip
    assert m.sort_column.key == "cpu"
    assert names(m) == ["c", "a", "b"]
    m.toggle_reverse()
    assert names(m) == ["a", "c", "b"]


def test_same_column_again_reverses_and_text_sorts_a_to_z() -> None:
    m = TableModel()
    m.update(fleet_of(host([row("a", "bravo"), row("b", "Alpha"), row("c", "charlie")])))
    m.set_sort("name")
    assert names(m) == ["Alpha", "bravo", "charlie"]
    m.set_sort("name")
    assert names(m) == ["charlie", "bravo", "Alpha"]
    m.shift_sort(1)
    assert m.sort_column.key == "id" and not m.reverse


def test_cursor_stays_on_its_container_across_updates() -> None:
    m = TableModel()
    m.update(fleet_of(host([row("a", "a", cpu_percent=1.0), row("b", "b", cpu_percent=2.0)])))
    m.move_cursor(1)
    assert m.selected is not None and m.selected.name == "a"
    m.update(fleet_of(host([row("a", "a", cpu_percent=9.0), row("b", "b", cpu_percent=2.0)])))
    assert m.cursor == 0 and m.selected is not None and m.selected.name == "a"
    # its container gone: the cursor keeps its place, on the row now there
    m.update(fleet_of(host([row("b", "b"), row("c", "c")])))
    assert m.cursor == 0 and m.selected is not None and m.selected.name in ("b", "c")


def test_stopped_rows_and_filter() -> None:
    m = TableModel()
    m.update(fleet_of(host([row("a", "web"), stopped("b", "job", 1)])))
    assert names(m) == ["web"] and m.total == 2
    m.toggle_all()
    assert sorted(n or "" for n in names(m)) == ["job", "web"]
    m.set_filter(parse_filter("job"))
    assert names(m) == ["job"]


def test_host_column_only_for_a_fleet() -> None:
    m = TableModel()
    m.update(fleet_of(host([row("a", "a")])))
    assert not m.multi_host
    m.update(fleet_of(host([row("a", "a")]), host([row("b", "b")], key="http://h2:9338")))
    assert m.multi_host and m.columns[0].key == "host"
    assert len(m.visible) == 2


def test_paused_rows_show_without_all_and_a_state_filter_shows_stopped_ones() -> None:
    m = TableModel()
    m.update(fleet_of(host([row("a", "web", state="paused"), stopped("b", "job", 1),
                            row("c", "new", state="created")])))  # fmt: skip
    assert names(m) == ["web"]
    m.set_filter(parse_filter("status=exited"))
    assert names(m) == ["job"]
    m.set_filter(parse_filter("exited=1"))
    assert names(m) == ["job"]
