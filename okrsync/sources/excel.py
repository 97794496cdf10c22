"""The Excel (.xlsx) source: reads through okrsync.xlsx and writes surgically."""

from __future__ import annotations

from okrsync.config import SourceConfig
from okrsync.domain import OWN_COLOURS
from okrsync.errors import WorkbookError
from okrsync.sources.interface import CellChange, Grid, OwnedTab, fitting
from okrsync.xlsx.package import fingerprint
from okrsync.xlsx.sheet import Write
from okrsync.xlsx.styles import NO_FILL, SCORE_FORMAT_ID
from okrsync.xlsx.workbook import Workbook

class ExcelSource:
    def __init__(self, config: SourceConfig):
        self.config = config
        self.name = config.name
        self.location = str(config.excel)
        self._workbook: Workbook | None = None
        self._cells: dict[str, dict] = {}
        self.last_backup = None
        self._written: str | None = None  # the hash of the file okrsync wrote, once it has

    @property
    def workbook(self) -> Workbook:
        if self._workbook is None:
            self._workbook = Workbook(self.config.excel, self.config.max_rows)
        return self._workbook

    def fingerprint(self) -> str:
        """The file's content hash (the one okrsync wrote, right after a write)."""
        if self._written:
            return f"sha256:{self._written}"
        try:
            return f"sha256:{fingerprint(self.config.excel).sha256}"
        except OSError as exc:
            raise WorkbookError(f"{self.location} cannot be read: {exc.strerror}.") from None

    def tab_names(self) -> list[str]:
        return self.workbook.tabs

    def _named(self, tab: str) -> str | None:
        """The workbook's tab of that name (Excel's tab names ignore case)."""
        if tab in self.workbook.tabs:
            return tab
        return next((t for t in self.workbook.tabs if t.lower() == tab.lower()), None)

    def read(self, tabs: list[str], optional: list[str] = (), discover: bool = False) -> dict[str, Grid]:
        grids = {}
        styles_of = self.workbook.styles
        for name in [*tabs, *optional]:
            # an owned tab is found whatever its case, and known by okrsync's name for it
            tab = name if name in self.workbook.tabs else self._named(name) if name in optional else None
            if tab is None:
                continue
            cells, merges = self.workbook.read(tab)
            self._cells[tab] = cells
            grids[name] = Grid(
                tab=name,
                rows=cells.rows,
                merges=merges,
                fill=lambda r, c, styles=cells.styles: styles_of.fill_of(styles[(r, c)]) if (r, c) in styles else None,
                formula=lambda r, c, formulas=cells.formulas: (r, c) in formulas,
            )
        return grids

    def _style(self, base: int, fill: str | None, two_decimals: bool) -> int:
        """The cell format for an owned cell: its own look, with okrsync's fill and number format."""
        styles = self.workbook.styles
        if fill is None and styles.fill_of(base) in OWN_COLOURS:
            fill = NO_FILL  # a status colour okrsync set earlier, no longer wanted
        number = SCORE_FORMAT_ID if two_decimals else None
        return styles.derive(base, fill, number) if (fill is not None or number is not None) else base

    def write(self, changes: list[CellChange], tabs: list[OwnedTab] = ()) -> int:
        by_tab: dict[str, list[Write]] = {}
        derived: dict[tuple[int, str | None, bool], int] = {}
        for change in changes:
            cells = self._cells.get(change.tab)
            if cells is None:
                raise WorkbookError(f"{self.location}: tab {change.tab} was not read before writing")
            base = cells.styles.get(change.like or (change.row, change.col), 0)
            key = (base, change.fill, change.two_decimals)
            if key not in derived:
                derived[key] = self._style(base, change.fill, change.two_decimals)
            by_tab.setdefault(change.tab, []).append(Write(change.row, change.col, change.value, derived[key]))
        added, replaced = [], []
        for tab in tabs:
            present = self._named(tab.title)
            sheet = self._owned_sheet(tab)
            if present:
                sheet.title = present
            (replaced if present else added).append(sheet)
        # owned columns okrsync adds (their header is new) get a width that fits their content
        widths: dict[str, dict[int, float]] = {}
        for change in changes:
            if change.like:
                widths.setdefault(change.tab, {})[change.col] = fitting(
                    [c for c in changes if c.tab == change.tab], change.col)
        result = self.workbook.write(by_tab, backups=self.config.backups, added=added, replaced=replaced,
                                     widths=widths)
        self.last_backup = result.backup
        self._written = result.sha256
        return result.cells + sum(1 for tab in tabs for row in tab.rows for v in row if v not in (None, ""))

    def _owned_sheet(self, tab: OwnedTab):
        """A tab okrsync owns whole, as worksheet XML with its charts."""
        from okrsync.xlsx.adding import NewSheet
        from okrsync.xlsx.charts import chart_xml
        from okrsync.xlsx.worksheet import worksheet_xml

        styles = {cell: self._style(0, colour, False) for cell, colour in tab.fills.items()}
        charts = [(chart, chart_xml(chart, tab.title, tab.rows)) for chart in tab.charts]
        return NewSheet(tab.title, worksheet_xml(tab.rows, styles, tab.widths, one_page=bool(tab.charts)), charts)


def lay_out(path, okr_tab: str = "OKRs", kpi_tab: str = "KPIs") -> list[str]:
    """``okrsync init --excel``: add the OKRs and KPIs tabs that are missing (headers, drop-down
    lists, a frozen header row, column widths) to a workbook people already have, surgically —
    every part already there keeps its bytes but the three that list the tabs. Tabs that exist
    are left alone."""
    from okrsync.layout import choices_by_column, template_headers
    from okrsync.xlsx.adding import NewSheet
    from okrsync.xlsx.worksheet import worksheet_xml

    workbook = Workbook(path)
    present = {tab.lower() for tab in workbook.tabs}
    added = []
    for tab, kind in ((okr_tab, "okr"), (kpi_tab, "kpi")):
        if tab.lower() in present:
            continue
        headers = template_headers(kind)
        widths = {c: max(10.0, len(h) + 4.0) for c, h in enumerate(headers, start=1)}
        lists = {c + 1: choices for c, choices in choices_by_column(kind, headers)}
        added.append(NewSheet(tab, worksheet_xml([headers], widths=widths, frozen_rows=1, lists=lists)))
    if added:
        workbook.write({}, backups=0, added=added)
    return [sheet.title for sheet in added]
