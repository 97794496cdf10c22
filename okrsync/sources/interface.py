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


def fitting(changes: list[CellChange], col: int) -> float:
    """A width in characters that fits what okrsync writes into a column (8 to 60)."""
    return float(min(60, max(8, *(len(str(c.value)) + 2 for c in changes if c.col == col and c.value is not None))))


class Source(Protocol):
    name: str
    location: str

    def read(self, tabs: list[str], optional: list[str] = (), discover: bool = False) -> dict[str, Grid]:
        """The grids of those ``tabs`` that exist, and of the ``optional`` ones (tabs okrsync
        adds) when they are there; ``discover``: it is not known whether they are."""

    def tab_names(self) -> list[str]:
        """Every tab of the spreadsheet, in order."""

    def write(self, changes: list[CellChange], tabs: list[OwnedTab] = ()) -> int:
        """Write ``changes`` (already reduced to what differs) and the owned ``tabs`` (each
        added, or replaced whole when its marker says it is okrsync's); returns cells written."""

    def fingerprint(self) -> str:
        """What changes whenever the spreadsheet's content changes: before a read, the source
        as it is; after okrsync's write, the source as okrsync left it."""


class Series(NamedTuple):
    """One series of a chart: its name's cell and its values' cells, in one column of the tab."""

    name_row: int
    col: int
    first_row: int
    last_row: int


@dataclass
class Chart:
    """A native chart the spreadsheet program draws from cells of the same tab."""

    kind: str  # "bar" (horizontal bars) | "line"
    title: str
    categories: tuple[int, int, int]  # column, first row, last row (1-based)
    series: list[Series]
    anchor: tuple[int, int]  # the top-left cell it is drawn at: column, row (1-based)
    size: tuple[int, int] = (8, 16)  # columns and rows it covers
    percent: bool = False  # values are shares of 1 (axis 0 to 1)


@dataclass
class OwnedTab:
    """A tab okrsync owns whole (the summary, the check-ins): what it should show. Its first
    cell carries ``marker``, which tells okrsync the tab is its own."""

    title: str
    marker: str
    rows: list[list]  # values by row, from row 1
    fills: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, column) → RRGGBB
    charts: list[Chart] = field(default_factory=list)
    widths: dict[int, float] = field(default_factory=dict)  # column → width in characters

    def shows(self, grid: "Grid | None") -> bool:
        """Whether ``grid`` already shows these values (then nothing needs writing)."""
        if grid is None:
            return False
        want = {(r, c): v for r, row in enumerate(self.rows, start=1) for c, v in enumerate(row, start=1)
                if v is not None and v != ""}
        have = {(r, c): v for r, cells in grid.rows.items() for c, v in cells.items() if v is not None and v != ""}
        return want == have

    @staticmethod
    def owned(grid: "Grid | None", marker: str) -> bool:
        """Whether a tab that exists is okrsync's own (its first cell carries the marker)."""
        first = grid.value(1, 1) if grid is not None else None
        return isinstance(first, str) and first.startswith(marker)
