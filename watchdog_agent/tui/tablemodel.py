"""The main table's model: the rows the app was given, filtered, sorted, and the cursor
(pure; the widget only renders ``visible``).

Rows are keyed by (host key, container id). After every change the cursor stays on the
same container; if that container is gone (removed, or filtered out), it stays at the
same position, on the row that took its place. Stopped containers are hidden unless
``show_all`` (``a``) or the filter asks for a state (``status=``, ``exited=``), as
``docker ps`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .columns import DEFAULT_SORT, Column, Context, columns_for, find_column
from .rowfilter import RowFilter
from .rows import LIVE  # what ``docker ps`` lists without -a
from .view import FleetView, Row

Key = tuple[str, str]  # (host key, container id)


@dataclass(frozen=True, slots=True)
class HostInfo:
    name: str
    cpus: int | None


def row_key(row: Row) -> Key:
    return (row.host, row.id)


class TableModel:
    def __init__(
        self,
        *,
        sort: str | None = None,
        reverse: bool = False,
        show_all: bool = False,
        row_filter: RowFilter | None = None,
    ) -> None:
        column = find_column(sort) or find_column(DEFAULT_SORT)
        assert column is not None
        self.sort_column: Column = column
        self.reverse = reverse
        self.show_all = show_all
        self.row_filter = row_filter or RowFilter()
        self.hosts: dict[str, HostInfo] = {}
        self.rows: list[Row] = []
        self.visible: list[Row] = []
        self.total = 0  # rows before the filter and the stopped-rows toggle
        self.cursor = 0
        self.cursor_key: Key | None = None

    # --- inputs --------------------------------------------------------------------

    def update(self, view: FleetView) -> None:
        self.hosts = {
            h.key: HostInfo(h.name, _cpus(h.host)) for h in view.hosts
        }  # fmt: skip
        self.rows = view.rows()
        self._rebuild()

    def set_sort(self, key: str) -> None:
        """Sort by the column ``key``; the same column again reverses."""
        column = find_column(key)
        if column is None:
            return
        if column.key == self.sort_column.key:
            self.reverse = not self.reverse
        else:
            self.sort_column, self.reverse = column, False
        self._rebuild()

    def choose_sort(self, key: str) -> None:
        """Sort by the column ``key``, in its own first direction."""
        column = find_column(key)
        if column is not None:
            self.sort_column, self.reverse = column, False
            self._rebuild()

    def shift_sort(self, step: int) -> None:
        """The column ``step`` places to the right (left if negative) sorts, wrapping."""
        keys = [c.key for c in self.columns]
        i = keys.index(self.sort_column.key) if self.sort_column.key in keys else 0
        column = find_column(keys[(i + step) % len(keys)])
        assert column is not None
        self.sort_column, self.reverse = column, False
        self._rebuild()

    def toggle_reverse(self) -> None:
        self.reverse = not self.reverse
        self._rebuild()

    def toggle_all(self) -> None:
        self.show_all = not self.show_all
        self._rebuild()

    def set_filter(self, row_filter: RowFilter) -> None:
        self.row_filter = row_filter
        self._rebuild()

    def move_cursor(self, to: int) -> None:
        if not self.visible:
            self.cursor, self.cursor_key = 0, None
            return
        self.cursor = min(max(to, 0), len(self.visible) - 1)
        self.cursor_key = row_key(self.visible[self.cursor])

    # --- outputs -------------------------------------------------------------------

    @property
    def multi_host(self) -> bool:
        return len(self.hosts) > 1

    @property
    def columns(self) -> tuple[Column, ...]:
        return columns_for(self.multi_host)

    @property
    def descending(self) -> bool:
        return self.sort_column.descending != self.reverse

    @property
    def selected(self) -> Row | None:
        return self.visible[self.cursor] if self.visible else None

    def context(self, now: float) -> Context:
        return Context(
            now=now,
            host_cpus={k: h.cpus for k, h in self.hosts.items()},
            host_names={k: h.name for k, h in self.hosts.items()},
        )

    # --- the work ------------------------------------------------------------------

    def _rebuild(self) -> None:
        self.total = len(self.rows)
        everything = self.show_all or self.row_filter.asks_state
        shown = self.rows if everything else [r for r in self.rows if r.state in LIVE]
        if self.row_filter.active:
            names = {k: h.name for k, h in self.hosts.items()}
            shown = [r for r in shown if self.row_filter.matches(r, names.get(r.host, ""))]
        self.visible = self._sorted(shown)
        self._place_cursor()

    def _sorted(self, rows: list[Row]) -> list[Row]:
        rows = sorted(rows, key=lambda r: ((r.name or "").casefold(), r.host, r.id))
        key = self.sort_column.sort_key
        keyed = [(k, r) for r in rows if (k := key(r)) is not None]
        missing = [r for r in rows if key(r) is None]
        keyed.sort(key=lambda kr: kr[0], reverse=self.descending)
        return [r for _, r in keyed] + missing

    def _place_cursor(self) -> None:
        if self.cursor_key is not None:
            for i, row in enumerate(self.visible):
                if row_key(row) == self.cursor_key:
                    self.cursor = i
                    return
        self.move_cursor(self.cursor)


def _cpus(host: Mapping[str, Any] | None) -> int | None:
    value = None if host is None else host.get("cpus")
    return value if isinstance(value, int) and value > 0 else None
