"""`okrsync init --excel` on workbooks people already have (the real-world workbooks): the OKRs
and KPIs tabs are added surgically — every part that was there keeps its bytes, except the
three that list the tabs, which change only by the entries added."""

from __future__ import annotations

import re

import openpyxl
import pytest

from okrsync.layout import template_headers
from tests.conftest import LISTING, WORKBOOKS, okrsync, real_workbook, unzip, without_added
from tests.test_real_workbooks import libreoffice_csv, soffice  # noqa: F401  (LibreOffice fixture)

@pytest.mark.parametrize("name", sorted(p.name for p in WORKBOOKS.glob("*.xls*")))
def test_init_excel_adds_the_tabs_and_keeps_every_other_byte(tmp_path, soffice, name):  # noqa: F811
    book = real_workbook(name, tmp_path)
    before = unzip(book)
    had = openpyxl.load_workbook(book).sheetnames
    result = okrsync("init", tmp_path / "okrsync", "--excel", book)
    assert result.exit_code == 0, result.stderr
    after = unzip(book)

    assert list(after)[: len(before)] == list(before)  # the parts that were there, in their order
    changed = {part for part in before if before[part] != after[part]}
    assert changed <= LISTING
    for part in changed:  # only entries added: take them out and the old bytes are back
        assert without_added(before[part].decode(), after[part].decode()) == before[part].decode(), part
    added = [part for part in after if part not in before]
    assert added and all(re.fullmatch(r"xl/worksheets/sheet\d+x*\.xml", part) for part in added)

    loaded = openpyxl.load_workbook(book)
    new_tabs = [tab for tab in ("OKRs", "KPIs") if tab not in had]
    assert loaded.sheetnames == had + new_tabs
    for tab in new_tabs:
        sheet = loaded[tab]
        kind = "okr" if tab == "OKRs" else "kpi"
        assert [c.value for c in sheet[1]] == template_headers(kind)
        assert sheet.freeze_panes == "A2" and sheet.data_validations.dataValidation
        assert libreoffice_csv(book, tab, tmp_path / f"lo-{tab}")[0] == template_headers(kind)

    config = tmp_path / "okrsync" / "okrsync.toml"
    assert f'excel = "../{name}"' in config.read_text()
    checked = okrsync("validate", "-c", config, "--json")
    assert checked.exit_code in (0, 1) and "Traceback" not in checked.stderr

    again = okrsync("init", tmp_path / "okrsync", "--excel", book, "--force")
    assert again.exit_code == 0 and "its tabs are already there" in again.stdout
    assert unzip(book) == after


def test_init_excel_refuses_a_file_that_is_not_a_workbook(tmp_path):
    fake = tmp_path / "notes.xlsx"
    fake.write_text("not a workbook")
    result = okrsync("init", tmp_path / "cfg", "--excel", fake)
    assert result.exit_code != 0 and "Traceback" not in result.stderr and "notes.xlsx" in result.stderr
    assert fake.read_text() == "not a workbook"
