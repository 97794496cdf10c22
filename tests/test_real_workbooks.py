"""okrsync at work on workbooks made by people outside this project (tests/data/workbooks).

Each workbook gets a configuration a user would write for it — a table it has, mapped through
``kpi_tab``/``okr_tab`` and ``[sources.columns]`` — and is synced twice. Then, for each:
every package part but styles.xml and the mapped tab's worksheet keeps its bytes; inside those
two, only okrsync's cells and appended styles differ (parsed XML, cell by cell); cached formula
values survive; LibreOffice opens the result; the second run writes nothing; and what okrsync
read is what LibreOffice shows (its own CSV export of the tab).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import posixpath
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from okrsync.config import load_config
from okrsync.refs import column_letter, split_cell
from okrsync.sources.excel import ExcelSource
from tests.conftest import LISTING, okrsync, real_workbook, unzip, without_added, write_config

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
TODAY = ("--today", "2026-11-16")


@dataclass
class Case:
    workbook: str
    tab: str
    source: str  # the [[sources]] lines a user would write for it
    owned: set[str]  # the columns okrsync's cells land in
    formulas: bool = False  # the tab holds formulas with cached values
    # cells LibreOffice shows otherwise than the file says, and why (never okrsync's doing)
    shown_otherwise: dict[str, str] = field(default_factory=dict)
    parts_kept: tuple[str, ...] = ()  # parts the workbook is known for, checked by name


CASES = [
    Case("okr-template.xlsx", "OKRs",
         '[sources.columns]\nowner = "Eng Owner"\n'
         '[sources.owned_columns]\nscore = "okrsync score"\nstatus = "okrsync status"\n'
         'objective_score = "okrsync objective score"\ncheck = "okrsync check"\n',
         owned={"K", "L", "M", "N"},
         parts_kept=("xl/threadedComments/threadedComment1.xml", "xl/comments1.xml", "xl/persons/person.xml")),
    Case("kpi-dashboard-charts.xlsx", "PowerBI_Data",
         'kpi_tab = "PowerBI_Data"\n[sources.columns]\nkpi = "Task Name"\nteam = "Department"\n'
         'owner = "Emp Name"\ncurrent = "Progress %"\nas_of = "Plan Due Date"\n',
         owned={"L", "M", "N"}, formulas=True,
         shown_otherwise={"A2": "LibreOffice 7.4 has no LET(): it recalculates this volatile dynamic-array "
                                "formula to #NAME?, where Excel and the file show TSK-2026-001"},
         parts_kept=("xl/charts/chart1.xml", "xl/charts/chart2.xml", "xl/drawings/drawing1.xml",
                     "xl/comments1.xml", "xl/calcChain.xml", "xl/metadata.xml")),
    Case("pivot-tables-pivot-chart.xlsx", "Sheet1",
         'kpi_tab = "Sheet1"\n[sources.columns]\nkpi = "Category"\nteam = "Year"\ntarget = "Cost"\n'
         'current = "Revenue"\n',
         owned={"E", "F", "G"},
         parts_kept=("xl/pivotTables/pivotTable1.xml", "xl/pivotCache/pivotCacheRecords1.xml",
                     "xl/pivotCache/pivotCacheDefinition1.xml", "xl/charts/chart1.xml", "xl/chartsheets/sheet1.xml")),
    Case("sample-form-image-validations.xlsx", "lists",
         'kpi_tab = "lists"\n[sources.columns]\nkpi = "Material"\nteam = "Sample Type"\n',
         owned={"F", "G", "H"}, formulas=True,
         parts_kept=("xl/media/image1.png", "xl/drawings/drawing1.xml", "xl/comments1.xml",
                     "xl/drawings/vmlDrawing1.vml", "xl/worksheets/sheet1.xml")),
    Case("form-controls-macros.xlsm", "MV Cont. Table - Rx Only",
         'kpi_tab = "MV Cont. Table - Rx Only"\n[sources.columns]\nkpi = "Up To"\n'
         'target = "Avg. Cost per Enrollee (Bucket)"\ncurrent = "Avg. Cost per Enrollee (Max\'d)"\n',
         owned={"Q", "R", "S"},
         parts_kept=("xl/vbaProject.bin", "xl/ctrlProps/ctrlProp1.xml", "xl/ctrlProps/ctrlProp163.xml",
                     "xl/drawings/vmlDrawing1.vml")),
]


def worksheet_part(parts: dict[str, bytes], tab: str) -> str:
    """The package part of a tab, through workbook.xml and its relationships."""
    workbook = ET.fromstring(parts["xl/workbook.xml"])
    rid = next(s.get(f"{REL}id") for s in workbook.iter(f"{MAIN}sheet") if s.get("name") == tab)
    rels = ET.fromstring(parts["xl/_rels/workbook.xml.rels"])
    target = next(r.get("Target") for r in rels if r.get("Id") == rid)
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))


def sheet_cells(xml: bytes) -> dict[str, str]:
    """Every cell element of a worksheet, by reference, as canonical XML (attributes sorted)."""
    root = ET.fromstring(xml)
    return {c.get("r"): ET.canonicalize(ET.tostring(c)) for c in root.iter(f"{MAIN}c")}


def outside_cells(xml: bytes, new_columns: set[str] = frozenset()) -> str:
    """The worksheet without its cells and its used-range note: what no cell write may change;
    ``new_columns``: owned columns okrsync appended, whose widths (a <col> each) are left out."""
    root = ET.fromstring(xml)
    for data in root.iter(f"{MAIN}sheetData"):
        data.clear()
    for cols in root.iter(f"{MAIN}cols"):
        for col in list(cols):
            if col.get("min") == col.get("max") and column_letter(int(col.get("min"))) in new_columns \
                    and col.get("customWidth") == "1":
                cols.remove(col)
    for parent in root.iter():
        for cols in [c for c in parent if c.tag == f"{MAIN}cols" and not len(c)]:
            parent.remove(cols)
    for dimension in root.iter(f"{MAIN}dimension"):
        dimension.attrib.clear()
    return ET.canonicalize(ET.tostring(root))


def cached_formulas(xml: bytes) -> list[str]:
    """The cells that hold a formula and the value it last computed."""
    root = ET.fromstring(xml)
    return [c.get("r") for c in root.iter(f"{MAIN}c") if c.find(f"{MAIN}f") is not None and c.find(f"{MAIN}v") is not None]


def column_of(ref: str) -> str:
    return re.match(r"[A-Z]+", ref).group()


def styles_only_appended(before: bytes, after: bytes) -> list[str]:
    """Where styles.xml changed other than by appending to one of its lists (counts aside)."""
    problems = []
    old, new = ET.fromstring(before), ET.fromstring(after)
    if [c.tag for c in old] != [c.tag for c in new]:
        return ["the style sheet's sections differ"]
    for o, n in zip(old, new):
        items_o = [ET.canonicalize(ET.tostring(x)) for x in o]
        items_n = [ET.canonicalize(ET.tostring(x)) for x in n]
        if items_n[: len(items_o)] != items_o:
            problems.append(f"{o.tag}: an existing entry changed")
        if {k: v for k, v in o.attrib.items() if k != "count"} != {k: v for k, v in n.attrib.items() if k != "count"}:
            problems.append(f"{o.tag}: attributes changed")
    return problems


def libreoffice_csv(book: Path, tab: str, out: Path) -> list[list[str]]:
    """LibreOffice's own CSV export of one tab (UTF-8, en-US), as rows of displayed texts."""
    from okrsync.xlsx.workbook import Workbook

    index = Workbook(book).tabs.index(tab) + 1
    profile = out / "profile"
    run = subprocess.run(
        ["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
         f"csv:Text - txt - csv (StarCalc):44,34,76,1,,1033,false,true,false,false,false,{index}",
         "--outdir", str(out), str(book)],
        capture_output=True, text=True, timeout=240)
    produced = list(out.glob("*.csv"))
    assert run.returncode == 0 and len(produced) == 1, f"LibreOffice could not open {book.name}: {run.stderr}"
    with open(produced[0], newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def shown_equal(read: object, shown: str) -> bool:
    """Whether a value okrsync read is what LibreOffice displays, allowing for number formats."""
    if isinstance(read, bool):
        return shown.upper() == str(read).upper()
    if isinstance(read, (dt.date, dt.datetime)):
        for pattern in ("%m/%d/%Y", "%m/%d/%y", "%m/%d/%Y %H:%M:%S", "%m/%d/%y %I:%M %p"):
            try:
                return dt.datetime.strptime(shown, pattern).date() == (read.date() if isinstance(read, dt.datetime) else read)
            except ValueError:
                continue
        return False
    if isinstance(read, (int, float)):
        text = shown.replace(",", "").replace("$", "").strip()
        percent = text.endswith("%")
        text = text.rstrip("%").strip()
        if text.startswith("(") and text.endswith(")"):
            text = "-" + text[1:-1]
        try:
            number = float(text)
        except ValueError:
            return False
        value = read * 100 if percent else read
        decimals = len(text.partition(".")[2]) if "E" not in text.upper() else 15
        return math.isclose(number, value, rel_tol=1e-9, abs_tol=0.5 * 10 ** -decimals + 1e-12)
    return str(read) == shown


@pytest.fixture(scope="module")
def soffice():
    if shutil.which("soffice") is None:
        pytest.fail("LibreOffice (soffice) is needed: `make test` installs libreoffice-calc")
    return "soffice"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.workbook)
def test_a_real_workbook_stays_whole(tmp_path, soffice, case):
    book = real_workbook(case.workbook, tmp_path)
    config = write_config(tmp_path, book.name, source_extra=case.source, owned_tabs=True)
    before = unzip(book)
    sheet = worksheet_part(before, case.tab)

    first = okrsync("run", "-c", config, *TODAY, "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["sources"][0]["cells_written"] > 0
    after = unzip(book)

    # the package: the parts that were there in the same order, then the summary and check-ins
    # tabs with the summary's drawing and charts; bytes kept but for the sheet and styles, and
    # the three parts that list tabs and parts, which only gain entries
    assert list(after)[: len(before)] == list(before)
    added = set(after) - set(before)
    kinds = {re.sub(r"\d+x*", "N", name) for name in added}
    assert "xl/worksheets/sheetN.xml" in kinds and kinds <= {  # charts where the tab has objectives
        "xl/worksheets/sheetN.xml", "xl/worksheets/_rels/sheetN.xml.rels", "xl/drawings/drawingN.xml",
        "xl/drawings/_rels/drawingN.xml.rels", "xl/charts/chartN.xml"}
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {sheet, "xl/styles.xml", *LISTING}
    for name in LISTING:
        assert without_added(before[name].decode(), after[name].decode()) == before[name].decode(), name
    for name in case.parts_kept:
        assert after[name] == before[name], name
    if case.workbook.endswith(".xlsm"):
        assert b"application/vnd.ms-excel.sheet.macroEnabled.main+xml" in after["[Content_Types].xml"]

    # inside the sheet: only owned cells differ; the rest of the worksheet is as it was
    assert outside_cells(after[sheet], case.owned) == outside_cells(before[sheet], case.owned)
    cells_before, cells_after = sheet_cells(before[sheet]), sheet_cells(after[sheet])
    differ = {ref for ref in cells_before.keys() | cells_after.keys() if cells_before.get(ref) != cells_after.get(ref)}
    assert differ and {column_of(ref) for ref in differ} <= case.owned
    assert styles_only_appended(before["xl/styles.xml"], after["xl/styles.xml"]) == []

    # cached formula values survive (they are cells outside the owned columns, compared above)
    cached = cached_formulas(before[sheet])
    assert bool(cached) == case.formulas
    assert all(cells_after[ref] == cells_before[ref] for ref in cached)

    # the second run finds everything right and writes nothing
    again = okrsync("run", "-c", config, *TODAY, "--json")
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["sources"][0]["cells_written"] == 0
    assert unzip(book) == after

    # LibreOffice opens the result, and shows what okrsync read
    shown = libreoffice_csv(book, case.tab, tmp_path / "lo")
    source = ExcelSource(load_config(config).sources[0])
    grid = source.read([case.tab])[case.tab]
    mismatches = []
    for row, cells in grid.rows.items():
        for col, value in cells.items():
            ref = f"{column_letter(col)}{row}"
            text = shown[row - 1][col - 1] if row <= len(shown) and col <= len(shown[row - 1]) else ""
            if ref not in case.shown_otherwise and not shown_equal(value, text):
                mismatches.append(f"{ref}: okrsync read {value!r}, LibreOffice shows {text!r}")
    assert mismatches == []
    for ref in case.shown_otherwise:  # the exceptions are real: LibreOffice does show otherwise
        row, col = split_cell(ref)
        assert not shown_equal(grid.value(row, col), shown[row - 1][col - 1])
    summary = libreoffice_csv(book, "Summary", tmp_path / "lo-summary")
    assert summary[0][0].startswith("Summary · written by okrsync") and summary[3][:3] == ["Team", "Objective", "Score"]
