"""KPIs that must stay inside a band (direction `range`, columns Target min / Target max), read
from Excel and from Google Sheets alike."""

from __future__ import annotations

import json

import openpyxl

from tests.conftest import basic_rows, build_xlsx, okrsync, write_config
from tests.google_fixtures import google, google_config  # noqa: F401  (fixture)

TODAY = ("--today", "2026-11-16")
HEADER = ["KPI", "Team", "Owner", "Direction", "Target min", "Target max", "Threshold", "Current"]


def rows_with_bands() -> dict[str, list[list]]:
    rows = basic_rows()
    rows["KPIs"] = [
        HEADER,
        ["Bed occupancy %", "Ops", "Ada", "within", 80, 90, None, 85],       # inside
        ["Stock days", "Ops", "Bo", "range", 20, 30, None, 31],              # 1 above; margin 10 % of 10 = 1
        ["Queue length", "Ops", "Cy", "band", 5, 10, 2, 13],                 # 3 above a threshold of 2
        ["Temperature", "Ops", "Di", "range", 20, None, None, 21],           # no upper bound
        ["Humidity", "Ops", "Ed", "range", 60, 40, None, 50],                # bounds the wrong way round
        ["Noise", "Ops", "Fi", "range", 30, 50, -5, 40],                     # a negative threshold
    ]
    return rows


def results(stdout: str) -> tuple[list, list]:
    source = json.loads(stdout)["sources"][0]
    kpis = [(k["kpi"], k["status"]) for k in source["kpis"]]
    findings = sorted((f["cell"], f["rule"], f["message"]) for f in source["findings"] if f["tab"] == "KPIs"
                      and f["rule"] in ("kpi-measurable", "kpi-threshold"))
    return kpis, findings


EXPECTED_KPIS = [("Bed occupancy %", "On track"), ("Stock days", "At risk"), ("Queue length", "Off track"),
                 ("Temperature", "Needs data"), ("Humidity", "Needs data"), ("Noise", "Needs data")]
EXPECTED_FINDINGS = [
    ("F5", "kpi-measurable", "Target max is blank"),
    ("F6", "kpi-measurable", "Target min 60 is not below Target max 40"),
    ("G7", "kpi-threshold", "Threshold -5 is negative; for a range KPI it is how far outside the band counts as at risk"),
]


def test_range_kpis_in_excel(tmp_path):
    book = build_xlsx(tmp_path / "okrs.xlsx", rows_with_bands())
    config = write_config(tmp_path, "okrs.xlsx")
    run = okrsync("run", "-c", config, "--json", *TODAY)
    assert run.exit_code == 0, run.stderr
    assert results(run.stdout) == (EXPECTED_KPIS, EXPECTED_FINDINGS)
    ws = openpyxl.load_workbook(book)["KPIs"]
    assert [ws.cell(r, 9).value for r in range(2, 8)] == [s for _, s in EXPECTED_KPIS]  # Status, right of Current

    rows = rows_with_bands()
    rows["KPIs"][2][7] = 26  # Stock days moves toward the band's middle (25): its trend is good
    rows["KPIs"][1][7] = 89  # Bed occupancy drifts toward an edge, still inside: its trend is bad
    build_xlsx(book, rows)
    assert okrsync("run", "-c", config, "--today", "2026-11-17").exit_code == 0
    ws = openpyxl.load_workbook(book)["KPIs"]
    assert ws["J3"].value == "↓" and ws["J3"].fill.fgColor.rgb == "FFB7E1CD"  # down, yet better: green
    assert ws["J2"].value == "↑" and ws["J2"].fill.fgColor.rgb == "FFF4C7C3"  # up, yet worse: red
    assert ws["I3"].value == "On track"


def test_range_kpis_read_the_same_from_google_sheets(tmp_path, google):  # noqa: F811
    book = google.spreadsheet(rows_with_bands())
    run = okrsync("run", "-c", google_config(tmp_path, google, book.id), "--json", *TODAY)
    assert run.exit_code == 0, run.stderr
    assert results(run.stdout) == (EXPECTED_KPIS, EXPECTED_FINDINGS)
    values = book.worksheet("KPIs").get_all_values()
    assert [row[8] for row in values[1:7]] == [s for _, s in EXPECTED_KPIS]
