"""Generates sheet_templates/okrsync.xlsx (the starter template) and demo.xlsx (the demo).

Headers and drop-down choices come from okrsync's own definitions, so the templates cannot
drift from the code; tests/test_templates.py regenerates them and compares.
Run: python sheet_templates/generate.py [OUTPUT_DIR]
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import xlsxwriter

from okrsync.layout import CHOICES, TEMPLATE_COLUMNS, header_text

HERE = Path(__file__).resolve().parent
FIXED_TIME = dt.datetime(2026, 1, 1)  # deterministic package metadata

OKR_COLUMNS, KPI_COLUMNS = TEMPLATE_COLUMNS["okr"], TEMPLATE_COLUMNS["kpi"]


def _sheet(workbook, title: str, kind: str, columns: list[str], rows: list[list], first_row: int = 0):
    sheet = workbook.add_worksheet(title)
    bold = workbook.add_format({"bold": True, "bg_color": "#D9E2F3", "border": 1, "text_wrap": True})
    sheet.freeze_panes(first_row + 1, 0)
    for col, name in enumerate(columns):
        sheet.write(first_row, col, header_text(kind, name), bold)
        sheet.set_column(col, col, 42 if name in ("objective", "key_result", "kpi") else 14)
        choices = CHOICES.get((kind, name))
        if choices:
            sheet.data_validation(first_row + 1, col, first_row + 500, col,
                                  {"validate": "list", "source": choices, "ignore_blank": True})
    return sheet


def _write_rows(workbook, sheet, columns, rows, first_row):
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    pct = workbook.add_format({"num_format": "0%"})
    for r, values in enumerate(rows, start=first_row + 1):
        for c, value in enumerate(values):
            if value is None:
                continue
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), date_format)
            elif isinstance(value, tuple) and value[0] == "formula":
                sheet.write_formula(r, c, value[1], None, value[2])
            elif isinstance(value, tuple) and value[0] == "pct":
                sheet.write_number(r, c, value[1], pct)
            else:
                sheet.write(r, c, value)


def _committed(rows: list[list], commitment: dict[int, str]) -> list[list]:
    """Rows with the commitment cell after the objective owner (row index → committed | aspirational)."""
    return [row[:4] + [commitment.get(i)] + row[4:] for i, row in enumerate(rows)]


def _banded(rows: list[list]) -> list[list]:
    """KPI rows with empty min and max cells after the target (only range KPIs fill them)."""
    return [row[:7] + [None, None] + row[7:] for row in rows]


def template(path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"title": "OKRs and KPIs", "created": FIXED_TIME, "author": "okrsync"})
    okrs = [
        ["2026-Q4", "Support", "Increase customer satisfaction by 20 % in Q4", "Dana Ruiz",
         "Reduce customer response time to under 2 hours", "Lee Chen", "number", "decrease", 6, 2, 4, 7, None],
        [None, None, None, None, "Raise CSAT from 72 % to 86 %", "Dana Ruiz", "percent", "increase",
         ("pct", 0.72), ("pct", 0.86), ("pct", 0.78), 8, None],
        [None, None, None, None, "Launch the in-app feedback widget", "Ari Novak", "milestone", None,
         None, None, "not done", None, dt.date(2026, 12, 15)],
    ]
    kpis = [
        ["Average first response time (hours)", "Support", "Lee Chen", "customer", "hours", "lower", 2, 3, 2.6,
         dt.date(2026, 11, 13), "weekly", "Increase customer satisfaction by 20 % in Q4"],
        ["Customer retention rate", "Support", "Dana Ruiz", "customer", "%", "higher", ("pct", 0.92), ("pct", 0.88),
         ("pct", 0.94), dt.date(2026, 10, 31), "monthly", None],
    ]
    okrs, kpis = _committed(okrs, {0: "aspirational"}), _banded(kpis)
    sheet = _sheet(workbook, "OKRs", "okr", OKR_COLUMNS, okrs)
    _write_rows(workbook, sheet, OKR_COLUMNS, okrs, 0)
    sheet = _sheet(workbook, "KPIs", "kpi", KPI_COLUMNS, kpis)
    _write_rows(workbook, sheet, KPI_COLUMNS, kpis, 0)
    workbook.close()


def demo(path: Path) -> None:
    """Realistic OKRs for two teams, with a few deliberate mistakes so the demo shows findings."""
    workbook = xlsxwriter.Workbook(str(path))
    workbook.set_properties({"title": "Acme OKRs (demo)", "created": FIXED_TIME, "author": "okrsync"})
    title = workbook.add_format({"bold": True, "font_size": 14})
    okrs = [
        ["2026-Q4", "Support", "Increase customer satisfaction by 20 % in Q4", "Dana Ruiz",
         "Raise CSAT from 72 % to 86 %", "Dana Ruiz", "percent", "increase", ("pct", 0.72), ("pct", 0.86), "80%", 8, None],
        [None, None, None, None, "Reduce customer response time to under 2 hours", "Lee Chen", "number", "decrease",
         6, 2, "3.5 h", 6, None],
        [None, None, None, None, "Publish 40 help-centre articles", "Ari Novak", "number", None, 0, 40,
         ("formula", "=12+19", 31), None, None],
        [None, None, None, None, "Launch the in-app feedback widget", "Ari Novak", "milestone", None, None, None,
         "done", None, dt.date(2026, 11, 30)],
        ["2026-Q4", "Support", "Make self-service the easy path", "Lee Chen",
         "Deflect 30 % of tickets to the help centre", "Lee Chen", "percent", "increase", ("pct", 0.12), ("pct", 0.30),
         ("formula", "=1/0", "#DIV/0!"), None, None],
        [None, None, None, None, "Cut repeat contacts per ticket", "Lee Chen", "number", "increase", 1.8, 1.2, 1.5, 3, None],
        [None, None, None, None, "Ship chatbot answers for the top 20 questions", "Ari Novak", "milestone", None,
         None, None, "in progress", 5, dt.date(2027, 1, 15)],
        ["2026", "Sales", "Increase revenue by 15 % this year", "Sam Patel",
         "Reach monthly revenue of $150,000", "Sam Patel", "currency", "increase", "$120,000", "$150,000", "$141,500", 7, None],
        [None, None, None, None, "Open 2 new storefronts", "Mia Wong", "number", "increase", 0, 2, 1, 6, None],
        [None, None, None, None, "Grow repeat-customer share from 30 % to 40 %", "Mia Wong", "percent", "increase",
         "30%", "40%", 0.33, 4, None],
        ["2026-Q4", "Sales", "Win enterprise customers", None,
         "Sign enterprise contracts", "Sam Patel", "number", "increase", 0, "ten", 1, None, None],
        [None, None, None, None, "Run 12 executive demos", None, "number", "increase", 0, 12, 5, None, None],
    ]
    kpis = [
        ["Average first response time (hours)", "Support", "Lee Chen", "customer", "hours", "lower", 2, 3, 2.6,
         dt.date(2026, 11, 13), "weekly", "Increase customer satisfaction by 20 % in Q4"],
        ["Customer retention rate", "Support", "Dana Ruiz", "customer", "%", "higher", ("pct", 0.92), ("pct", 0.88),
         ("pct", 0.94), dt.date(2026, 10, 31), "monthly", None],
        ["Tickets resolved within 24 hours", "Support", "Lee Chen", "internal", "%", "higher", ("pct", 0.85), None,
         ("pct", 0.71), dt.date(2026, 11, 13), "weekly", None],
        ["Net promoter score", "Support", "Dana Ruiz", "customer", "points", "higher", 45, 50, 41,
         dt.date(2026, 10, 31), "monthly", None],
        ["Monthly recurring revenue", "Sales", "Sam Patel", "financial", "$", "higher", 150000, 135000, 141500,
         dt.date(2026, 10, 31), "monthly", "Increase revenue by 15 % this year"],
        ["Pipeline coverage", "Sales", "Mia Wong", "financial", "x", "higher", 3, 2.5, "n/a",
         dt.date(2026, 11, 13), "weekly", None],
    ]
    okrs = _committed(okrs, {0: "committed", 4: "aspirational"})  # Support commits to its first objective
    kpis = _banded(kpis) + [  # a KPI that must stay inside a band
        ["Average handle time (minutes)", "Support", "Lee Chen", "internal", "minutes", "range", None, 6, 9, None, 9.5,
         dt.date(2026, 11, 13), "weekly", None]]
    sheet = _sheet(workbook, "OKRs", "okr", OKR_COLUMNS, okrs, first_row=2)
    sheet.merge_range(0, 0, 0, 4, "Acme — OKRs, Q4 2026 (okrsync demo)", title)
    _write_rows(workbook, sheet, OKR_COLUMNS, okrs, 2)
    sheet = _sheet(workbook, "KPIs", "kpi", KPI_COLUMNS, kpis)
    _write_rows(workbook, sheet, KPI_COLUMNS, kpis, 0)
    workbook.close()


def generate(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    template(folder / "okrsync.xlsx")
    demo(folder / "demo.xlsx")
    return [folder / "okrsync.xlsx", folder / "demo.xlsx"]


if __name__ == "__main__":
    for written in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE):
        print(f"wrote {written}")
