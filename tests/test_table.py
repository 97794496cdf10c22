"""Reading messy sheets through the Excel source into tables."""

import datetime as dt
import math

import pytest

from okrsync.config import SourceConfig
from okrsync.errors import SourceError
from okrsync.sources.excel import ExcelSource
from okrsync.table import ReadContext, read_table
from okrsync.values import ErrorValue
from tests.conftest import Formula, build_xlsx

CTX = ReadContext(dt.date(2026, 11, 16), "2026-Q4", 1)


def read(path, kind="okr", tab="OKRs", **source):
    cfg = SourceConfig(name="src", excel=path, **source)
    grid = ExcelSource(cfg).read([tab])[tab]
    return read_table(grid, kind, cfg, CTX)


def test_title_rows_merged_objectives_aliases_text_numbers_formulas_errors_blank_rows(tmp_path):
    rows = [
        ["Q4 plan — do not edit row 1"],
        ["notes: owners update weekly"],
        [],
        ["O", "KR", "DRI", "Baseline", "Goal", "Actual", "Deadline", "Comments", "Quarter"],
        [None, "Grow ARR", "Ada", "$100,000", "$150,000", "$120,000", "2026-12-15", "free text", "Q4 2026"],
        [None, "Raise NPS", "Bo", 30, 50, Formula("=20+20", 40), dt.date(2026, 12, 1), None, None],
        [],
        [None, "Hire 3 engineers", "Cy", 0, 3, Formula("=1/0", "#DIV/0!"), None, None, None],
        ["Second objective", "Cut churn", "Di", "5 %", "3 %", "4%", None, None, None],
    ]
    path = build_xlsx(tmp_path / "messy.xlsx", {"OKRs": rows},
                      merges={"OKRs": [("A5:A8", "Grow the business")]})
    table = read(path)
    assert table.header_row == 4
    assert table.columns["key_result"] == 2 and table.columns["owner"] == 3 and table.columns["cycle"] == 9
    assert "comments" not in table.columns  # unknown columns are left alone
    items = table.items.set_index("row")
    assert list(items.index) == [5, 6, 8, 9]  # the blank row 7 is skipped
    # merged cells continue the objective; a blank objective cell continues it too
    assert set(items.loc[[5, 6, 8], "objective"]) == {"Grow the business"}
    assert items.loc[9, "objective"] == "Second objective"
    assert items.loc[5, "start_n"] == 100000 and items.loc[5, "target_n"] == 150000
    assert items.loc[6, "current_n"] == 40  # the formula's cached value
    assert isinstance(items.loc[8, "current"], ErrorValue) and math.isnan(items.loc[8, "current_n"])
    assert items.loc[9, "start_n"] == pytest.approx(0.05)  # "5 %" is 0.05
    assert items.loc[5, "due_d"] == dt.date(2026, 12, 15) and items.loc[6, "due_d"] == dt.date(2026, 12, 1)
    assert items.loc[5, "cycle_c"].label == "2026-Q4"
    assert items.loc[6, "cycle_c"].label == "2026-Q4"  # the cycle continues from the objective's first row
    assert table.cell("current", 8) == "F8"
    # owned columns are appended right of the last header
    assert table.owned == {"score": 10, "status": 11, "objective_score": 12, "check": 13}
    assert table.new_owned == {"score", "status", "objective_score", "check"}


def test_mapped_headers_and_duplicate_headers(tmp_path):
    rows = [["Goal area", "Result", "Eng Owner", "Owner", "Start", "Target", "Current", "Target"],
            ["Speed", "p95 under 200 ms", "Ada", "ignored", 400, 200, 300, 999]]
    path = build_xlsx(tmp_path / "mapped.xlsx", {"OKRs": rows})
    table = read(path, columns={"objective": "Goal area", "key_result": "Result", "owner": "Eng Owner"})
    assert table.columns["owner"] == 3 and table.headers["owner"] == "Eng Owner"
    assert table.columns["target"] == 6  # the first of two "Target" headers counts
    item = table.items.iloc[0]
    assert item["objective"] == "Speed" and item["owner"] == "Ada" and item["direction_n"] == "decrease"


def test_kpi_table_aliases(tmp_path):
    rows = [["Metric", "Polarity", "Goal", "Red at", "Latest", "Updated"],
            ["Churn", "lower is better", "2%", "3%", "2.5%", dt.date(2026, 11, 1)]]
    table = read(build_xlsx(tmp_path / "kpi.xlsx", {"KPIs": rows}), kind="kpi", tab="KPIs")
    item = table.items.iloc[0]
    assert item["direction_n"] == "lower"
    assert (item["target_n"], item["threshold_n"], item["current_n"]) == pytest.approx((0.02, 0.03, 0.025))
    assert item["as_of_d"] == dt.date(2026, 11, 1)


def test_missing_header_is_one_clear_sentence(tmp_path):
    path = build_xlsx(tmp_path / "none.xlsx", {"OKRs": [["Name", "Value"], ["a", 1]]})
    with pytest.raises(SourceError, match=r'tab OKRs has no header row with "Objective" and "Key result" in its first 20 rows'):
        read(path)


def test_percent_key_results_read_45_percent_and_0_45_alike(tmp_path):
    rows = [["Objective", "Key result", "Type", "Start", "Target", "Current"],
            ["O", "a", "percent", "30%", "40%", 0.33], [None, "b", "percent", 30, 40, 33], [None, "c", "%", 0.3, 0.4, "33 %"]]
    items = read(build_xlsx(tmp_path / "pct.xlsx", {"OKRs": rows})).items
    for _, item in items.iterrows():
        assert (item["start_n"], item["target_n"], item["current_n"]) == pytest.approx((0.3, 0.4, 0.33))


def test_a_merged_objective_cell_carries_the_objectives_other_cells_down(tmp_path):
    """Only the Objective column is merged; cycle, team and objective owner are on its first row."""
    rows = [
        ["Cycle", "Team", "Objective", "Objective owner", "Key result", "Start", "Target", "Current"],
        ["2026-Q3", "Support", None, "Ada", "Raise CSAT to 90", 70, 90, 80],
        [None, None, None, None, "Cut response time to 2 h", 6, 2, 4],
        [None, None, None, None, "Publish 20 help articles", 0, 20, 12],
    ]
    path = build_xlsx(tmp_path / "merged.xlsx", {"OKRs": rows}, merges={"OKRs": [("C2:C4", "Delight customers")]})
    table = read(path)
    assert len(table.objective_records) == 1
    objective = table.objective_records[0]
    assert (objective["team"], objective["cycle"], objective["objective_owner"]) == ("Support", "2026-Q3", "Ada")
    assert [(r["team"], r["cycle"], r["owner"], r["objective"]) for r in table.records] == \
        [("Support", "2026-Q3", "Ada", "Delight customers")] * 3


def test_a_huge_merged_range_costs_nothing(tmp_path):
    import zipfile

    rows = [["Objective", "Key result", "Start", "Target", "Current"], ["O", "a", 0, 1, 0], [None, "b", 0, 1, 1]]
    path = build_xlsx(tmp_path / "merge.xlsx", {"OKRs": rows}, merges={"OKRs": [("A2:A3", "O")]})
    parts = {}
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    sheet = parts["xl/worksheets/sheet1.xml"]
    assert b'<mergeCell ref="A2:A3"/>' in sheet
    parts["xl/worksheets/sheet1.xml"] = sheet.replace(b'ref="A2:A3"', b'ref="A2:XFD1048576"')  # hostile
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    table = read(path)
    assert list(table.items["row"]) == [2, 3] and set(table.items["objective"]) == {"O"}
