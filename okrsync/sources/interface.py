"""What every source offers, Excel or Google: a tab read as a Grid, owned cells written as
CellChanges, and the small Source interface the rest of okrsync talks to."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, NamedTuple, Protocol


@dataclass
class Grid:
    """One tab as the sheet shows it: its rows of values by column, 1-based (only cells that
    hold a value), and merged ranges."""

    tab: str
    rows: dict[int, dict[int, object]]
    merges: list[tuple[int, int, int, int]] = field(default_factory=list)  # min_col, min_row, max_col, max_row
    fill: Callable[[int, int], str | None] = lambda row, col: None  # RRGGBB of a cell's fill
    formula: Callable[[int, int], bool] = lambda row, col: False

    def value(self, row: int, col: int) -> object:
        cells = self.rows.get(row)
        return cells.get(col) if cells else None

    @cached_property  # the values do not change once read
    def max_row(self) -> int:
        return max(self.rows, default=0)


class CellChange(NamedTuple):  # a tuple: one is made for every owned cell
    """An owned cell to write: its value (None = empty), fill (RRGGBB, or None for none of
    okrsync's), whether it is a two-decimal number, and which cell's look a new header takes."""

    tab: str
    row: int
    col: int
    value: object
    fill: str | None = None
    two_decimals: bool = False
    like: tuple[int, int] | None = None


class Source(Protocol):
    name: str
    location: str

    def read(self, tabs: list[str]) -> dict[str, Grid]:
        """The grids of those ``tabs`` that exist."""

    def tab_names(self) -> list[str]:
        """Every tab of the spreadsheet, in order."""

    def write(self, changes: list[CellChange]) -> int:
        """Write ``changes`` (already reduced to what differs); returns cells written."""

    def fingerprint(self) -> str:
        """What changes whenever the spreadsheet's content changes: before a read, the source
        as it is; after okrsync's write, the source as okrsync left it."""
