"""The write plan: what every owned cell should show, reduced to the cells that differ from
what the sheet shows now, after checking that no owned column holds someone else's data."""

from __future__ import annotations

from okrsync.domain import GREEN, OWN_COLOURS, RED, Evaluation, Finding
from okrsync.errors import SourceError
from okrsync.refs import LAST_SHEET_COLUMN, column_letter
from okrsync.sources.interface import CellChange, Grid
from okrsync.table import Table
from okrsync.values import is_blank, without_bidi

def _check_text(findings: list[Finding] | None) -> str | None:
    if not findings:
        return None
    ordered = sorted(findings, key=lambda f: f.severity.rank)
    return without_bidi("; ".join(f.as_check() for f in ordered))  # sheet values may reorder the cell


def desired_cells(table: Table, evaluation: Evaluation, findings: list[Finding]) -> list[CellChange]:
    """Every owned cell of the table as okrsync would write it."""
    by_row: dict[int, list[Finding]] = {}
    for f in findings:
        if f.row is not None:
            by_row.setdefault(f.row, []).append(f)
    cells: list[CellChange] = []
    tab, owned = table.tab, table.owned
    last_header = max(table.columns.values())
    for key in sorted(table.new_owned, key=lambda k: owned[k]):
        cells.append(CellChange(tab, table.header_row, owned[key], table.owned_headers[key],
                                like=(table.header_row, last_header)))
    if table.kind == "okr":
        first_rows = {o.first_row: o for o in evaluation.objectives}
        rows_seen = set()
        for kr in evaluation.key_results:
            rows_seen.add(kr.row)
            score = None if kr.score is None else round(kr.score, 2)
            cells.append(CellChange(tab, kr.row, owned["score"], score, two_decimals=True))
            cells.append(CellChange(tab, kr.row, owned["status"], kr.status.text, kr.status.colour))
            objective = first_rows.get(kr.row)
            if objective is not None:
                score = None if objective.score is None else round(objective.score, 2)
                cells.append(CellChange(tab, kr.row, owned["objective_score"], score, objective.status.colour, True))
            else:
                cells.append(CellChange(tab, kr.row, owned["objective_score"], None))
            cells.append(CellChange(tab, kr.row, owned["check"], _check_text(by_row.get(kr.row))))
        # Rows of objectives without key results still get their score and messages.
        for row, objective in first_rows.items():
            if row not in rows_seen:
                cells.append(CellChange(tab, row, owned["objective_score"], None, objective.status.colour))
                cells.append(CellChange(tab, row, owned["check"], _check_text(by_row.get(row))))
    else:
        for kpi in evaluation.kpis:
            cells.append(CellChange(tab, kpi.row, owned["status"], kpi.status.text, kpi.status.colour))
            colour = None if kpi.improving is None else GREEN if kpi.improving else RED
            cells.append(CellChange(tab, kpi.row, owned["trend"], kpi.trend, colour))
            cells.append(CellChange(tab, kpi.row, owned["check"], _check_text(by_row.get(kpi.row))))
    return cells


def _shows(grid: Grid, change: CellChange) -> bool:
    shown = grid.value(change.row, change.col)
    wanted = change.value
    if wanted is None:
        if not is_blank(shown):
            return False
    elif type(wanted) is float:
        if type(shown) not in (float, int) or abs(shown - wanted) >= 1e-9:
            return False
    elif wanted != shown or not isinstance(shown, str):
        return False
    fill = grid.fill(change.row, change.col)
    return fill == change.fill if change.fill else fill not in OWN_COLOURS


def diff(desired: list[CellChange], grid: Grid) -> list[CellChange]:
    """Only the cells whose value or colour differs from what the sheet shows."""
    return [change for change in desired if not _shows(grid, change)]


def preflight(table: Table, grid: Grid, adopted: set[str], location: str) -> None:
    """Refuse to write into an existing owned column that holds data okrsync did not write.

    ``adopted``: owned keys whose columns okrsync created or took over on an earlier run.
    """
    beyond = [col for col in table.owned.values() if col > LAST_SHEET_COLUMN]
    if beyond:
        raise SourceError(
            f"{location}: tab {table.tab} has no room for okrsync's columns: they would start at column "
            f"{column_letter(min(beyond))}, past XFD, a sheet's last column — give them empty columns inside the "
            "sheet with [sources.owned_columns] headers.")
    for key, col in table.owned.items():
        if key in table.new_owned or key in adopted:
            continue
        for row in range(table.header_row + 1, grid.max_row + 1):
            if not is_blank(grid.value(row, col)) or grid.formula(row, col):
                header = table.owned_headers[key]
                letter = column_letter(col)
                suggestion = f"{header} 2" if header.lower().startswith("okrsync") else f"okrsync {header.lower()}"
                raise SourceError(
                    f'{location}: column "{header}" ({table.tab}!{letter}{table.header_row}) already holds data '
                    f"okrsync did not write (first at {table.tab}!{letter}{row}); okrsync will not overwrite it — "
                    f"rename that column, or give okrsync's {key.replace('_', ' ')} column another header with "
                    f'[sources.owned_columns] {key} = "{suggestion}".'
                )


def refuse_unwritable(changes: list[CellChange], grid: Grid, location: str) -> None:
    """A formula in an owned cell is someone's work (and the calc chain points at it); a cell
    hidden inside a merged range is the range's, not okrsync's."""
    for change in changes:
        if grid.formula(change.row, change.col):
            raise SourceError(
                f"{location}: {change.tab}!{column_letter(change.col)}{change.row} in okrsync's column "
                "holds a formula; okrsync will not overwrite formulas — clear that cell."
            )
    columns = {change.col for change in changes}
    hidden: dict[tuple[int, int], tuple[int, int, int, int]] = {}  # cell → the merge hiding it
    for merge in grid.merges:
        min_col, min_row, max_col, max_row = merge
        for col in columns.intersection(range(min_col, max_col + 1)):
            for row in range(min_row, min(max_row, grid.max_row + 1) + 1):
                if (row, col) != (min_row, min_col):
                    hidden[(row, col)] = merge
    for change in changes:
        merge = hidden.get((change.row, change.col))
        if merge:
            min_col, min_row, max_col, max_row = merge
            merged = f"{column_letter(min_col)}{min_row}:{column_letter(max_col)}{max_row}"
            raise SourceError(
                f"{location}: okrsync's column runs through the merged range {change.tab}!{merged}; it will not "
                "write into a merged range's hidden cells — unmerge it, or give okrsync's columns other headers.")
