"""The summary and check-ins tabs okrsync owns in every spreadsheet (issue 16): content, native
charts drawn by LibreOffice, appending check-ins week by week, nothing written when nothing
changed, a tab of the same name that a person made left alone — in Excel and in Google Sheets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile

import openpyxl
import pytest

from okrsync.summary import CHECKINS_HEADER, OBJECTIVES_HEADER
from tests.conftest import basic_rows, build_xlsx, okrsync, unzip, write_config
from tests.google_fixtures import google, google_config  # noqa: F401  (the emulator fixture)


def edited(current: float) -> dict:
    rows = basic_rows()
    rows["OKRs"] = [list(r) for r in rows["OKRs"]]
    rows["OKRs"][1][9] = current  # Raise CSAT: start 70, target 90
    return rows


def type_number(book, ref: str, value: float) -> None:
    """A person's edit of one number on the OKRs tab, the rest of the workbook as it is."""
    parts = unzip(book)
    sheet = "xl/worksheets/sheet1.xml"
    text, found = re.subn(rf'(<c r="{ref}"[^>]*><v>)[^<]*(</v>)', rf"\g<1>{value}\g<2>", parts[sheet].decode())
    assert found == 1
    parts[sheet] = text.encode()
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in parts.items():
            out.writestr(name, data)


def tab(path, name) -> list[tuple]:
    return list(openpyxl.load_workbook(path)[name].iter_rows(values_only=True))


def test_excel_summary_and_check_ins_week_by_week(tmp_path):
    book = build_xlsx(tmp_path / "okrs.xlsx", edited(80))
    config = write_config(tmp_path, "okrs.xlsx", owned_tabs=True)
    assert okrsync("run", "-c", config, "--today", "2026-11-09").exit_code == 0
    type_number(book, "J2", 86)  # a week later the owner updates CSAT
    week2 = okrsync("run", "-c", config, "--today", "2026-11-16", "--json")
    assert week2.exit_code == 0, week2.stderr

    summary = tab(book, "Summary")
    assert summary[0][0].startswith("Summary · written by okrsync")
    assert summary[1][:4] == ("Cycle", "2026-Q4", "Date", "2026-11-16")
    assert list(summary[3][:len(OBJECTIVES_HEADER)]) == OBJECTIVES_HEADER
    okrs = tab(book, "OKRs")
    objective_score = okrs[1][okrs[0].index("Objective score")]
    team, objective, score, expected, status, change, *counts = summary[4][:len(OBJECTIVES_HEADER)]
    assert (team, objective) == ("Support", "Delight customers") and score == pytest.approx(objective_score, abs=5e-3)
    assert status == okrs[1][okrs[0].index("Status")] or status in ("On track", "At risk", "Off track")
    assert change == pytest.approx((86 - 80) / 20 / 3, abs=2e-3)  # one of three key results moved 0.3
    assert sum(counts) == 3
    fill = openpyxl.load_workbook(book)["Summary"].cell(5, 5).fill.fgColor.rgb
    assert fill.endswith(("B7E1CD", "FCE8B2", "F4C7C3", "E0E0E0"))
    weeks = [row for row in summary if row[0] == "Week ending"]
    assert weeks and weeks[0][1] == "Support"
    week_rows = summary[summary.index(weeks[0]) + 1:]
    assert [r[0] for r in week_rows if r[0]] == ["2026-11-15", "2026-11-22"]

    # two native charts, drawn from the summary's own cells
    parts = unzip(book)
    charts = sorted(name for name in parts if re.fullmatch(r"xl/charts/chart\d+\.xml", name))
    assert len(charts) == 2
    refs = [re.findall(r"<c:f>([^<]+)</c:f>", parts[c].decode()) for c in charts]
    assert "'Summary'!$C$5:$C$5" in refs[0] and "'Summary'!$D$5:$D$5" in refs[0]
    assert any(ref.startswith("'Summary'!$B$") for ref in refs[1])
    assert len(openpyxl.load_workbook(book)["Summary"]._charts) == 2

    checkins = tab(book, "Check-ins")
    assert checkins[0][0].startswith("Check-ins · written by okrsync") and list(checkins[1]) == CHECKINS_HEADER
    first = [r for r in checkins[2:] if r[0] == "2026-W46"]
    second = [r for r in checkins[2:] if r[0] == "2026-W47"]
    assert len(first) == 5  # every key result and KPI the first week
    assert [r[4] for r in second] == ["Raise CSAT to 90"] and second[0][6] == 86  # then only what changed

    # the same day again: nothing to write, the file is left as it is
    before = book.read_bytes()
    again = okrsync("run", "-c", config, "--today", "2026-11-16", "--json")
    assert json.loads(again.stdout)["sources"][0]["cells_written"] == 0 and book.read_bytes() == before

    # the same week, another change: this week's row is updated, not added; the rows of earlier
    # weeks stay as they were (they are kept from the tab itself, not rebuilt from the store)
    type_number(book, "J2", 88)
    assert okrsync("run", "-c", config, "--today", "2026-11-17").exit_code == 0
    later = tab(book, "Check-ins")
    assert [r for r in later[2:] if r[0] == "2026-W46"] == first
    assert [(r[4], r[6]) for r in later[2:] if r[0] == "2026-W47" and r[4] == "Raise CSAT to 90"] == [
        ("Raise CSAT to 90", 88)]
    assert len(openpyxl.load_workbook(book)["Summary"]._charts) == 2  # charts updated in place
    assert sorted(n for n in unzip(book) if n.startswith("xl/charts/")) == charts


def test_libreoffice_draws_the_summary_charts(tmp_path):
    if shutil.which("soffice") is None or shutil.which("pdftotext") is None:
        pytest.fail("LibreOffice and pdftotext are needed: `make test` installs libreoffice-calc and poppler-utils")
    build_xlsx(tmp_path / "okrs.xlsx", edited(80))
    config = write_config(tmp_path, "okrs.xlsx", owned_tabs=True)
    assert okrsync("run", "-c", config, "--today", "2026-11-16").exit_code == 0
    out = tmp_path / "pdf"
    done = subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
                           "--convert-to", "pdf", "--outdir", str(out), str(tmp_path / "okrs.xlsx")],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    text = subprocess.run(["pdftotext", str(out / "okrs.pdf"), "-"], capture_output=True, text=True).stdout
    # the chart titles are drawn only when LibreOffice renders the charts
    assert "Objectives: score against the score" in text and "Average score per team" in text
    assert "Summary · written by okrsync" in text


def test_a_summary_tab_a_person_made_is_left_alone(tmp_path):
    rows = basic_rows()
    rows["Summary"] = [["Our own summary"], ["Q4 looks good"]]
    book = build_xlsx(tmp_path / "okrs.xlsx", rows)
    sheet_part = "xl/worksheets/sheet3.xml"
    before = unzip(book)[sheet_part]
    result = okrsync("run", "-c", write_config(tmp_path, "okrs.xlsx", owned_tabs=True), "--today", "2026-11-16", "--json")
    assert result.exit_code == 0, result.stderr
    findings = json.loads(result.stdout)["sources"][0]["findings"]
    assert any(f["rule"] == "owned-tab" and "Summary" in f["message"] and "left alone" in f["message"] for f in findings)
    assert unzip(book)[sheet_part] == before
    assert "Check-ins" in openpyxl.load_workbook(book).sheetnames  # the other tab is still added


def test_owned_tab_names_are_checked(tmp_path):
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    for setting, problem in (('summary_tab = "OKRs"', "must name tabs of their own"),
                             ('checkins_tab = "Week/1"', "must be a tab name")):
        config = write_config(tmp_path, "okrs.xlsx", source_extra=setting, owned_tabs=True)
        result = okrsync("validate", "-c", config)
        assert result.exit_code == 2 and problem in result.stderr


def test_google_summary_and_check_ins_with_native_charts(tmp_path, google):  # noqa: F811
    book = google.spreadsheet(edited(80))
    config = google_config(tmp_path, google, book.id, owned_tabs=True)
    google.admin("reset")
    assert okrsync("run", "-c", config, "--today", "2026-11-09").exit_code == 0
    counts = google.counts()
    # one read (of every tab, the first time: whether the two tabs exist is not known yet) and one write
    assert counts["spreadsheets.get"] == 1 and counts["spreadsheets.batchUpdate"] == 1
    meta = google.user.http_client.fetch_sheet_metadata(book.id, params={"fields": "sheets(properties.title,charts)"})
    sheets = {s["properties"]["title"]: s for s in meta["sheets"]}
    assert {"Summary", "Check-ins"} <= set(sheets)
    charts = sheets["Summary"]["charts"]
    assert [c["spec"]["basicChart"]["chartType"] for c in charts] == ["BAR", "LINE"]
    summary = book.worksheet("Summary").get_all_values()
    assert summary[0][0].startswith("Summary · written by okrsync") and summary[4][1] == "Delight customers"
    assert book.worksheet("Check-ins").get_all_values()[1] == CHECKINS_HEADER

    book.worksheet("OKRs").update([[86]], "J2")
    google.admin("reset")
    assert okrsync("run", "-c", config, "--today", "2026-11-16").exit_code == 0
    assert google.counts()["spreadsheets.get"] == 1 and google.counts()["spreadsheets.batchUpdate"] == 1
    meta = google.user.http_client.fetch_sheet_metadata(book.id, params={"fields": "sheets(properties.title,charts)"})
    again = {s["properties"]["title"]: s for s in meta["sheets"]}["Summary"]["charts"]
    assert [c["chartId"] for c in again] == [c["chartId"] for c in charts]  # updated in place, not added
    rows = book.worksheet("Check-ins").get_all_values()
    assert [r[4] for r in rows[2:] if r[0] == "2026-W47"] == ["Raise CSAT to 90"]
    widths = google.user.http_client.fetch_sheet_metadata(book.id, params={
        "includeGridData": "true", "ranges": "'OKRs'!K1:N1", "fields": "sheets.data.columnMetadata.pixelSize"})
    sizes = [m["pixelSize"] for m in widths["sheets"][0]["data"][0]["columnMetadata"]]
    assert all(size != 100 for size in sizes)  # the owned columns okrsync added are sized to their content


def test_a_new_check_ins_tab_starts_with_the_cycles_earlier_weeks_from_the_history_store(tmp_path):
    book = build_xlsx(tmp_path / "okrs.xlsx", edited(80))
    config = write_config(tmp_path, "okrs.xlsx", source_extra='checkins_tab = ""', owned_tabs=True)
    assert okrsync("run", "-c", config, "--today", "2026-11-09").exit_code == 0
    type_number(book, "J2", 86)
    assert okrsync("run", "-c", config, "--today", "2026-11-16").exit_code == 0
    assert "Check-ins" not in openpyxl.load_workbook(book).sheetnames
    config = write_config(tmp_path, "okrs.xlsx", owned_tabs=True)  # the check-ins turned on in week 48
    assert okrsync("run", "-c", config, "--today", "2026-11-23").exit_code == 0
    rows = tab(book, "Check-ins")[2:]
    assert {r[0] for r in rows} == {"2026-W46", "2026-W47"}  # week 48 changed nothing: no row
    assert len([r for r in rows if r[0] == "2026-W46"]) == 5  # every item the first week, from the store
    csat = [(r[0], r[3], r[6]) for r in rows if r[4] == "Raise CSAT to 90"]
    assert csat == [("2026-W46", "Delight customers", 80), ("2026-W47", "Delight customers", 86)]


def test_a_person_s_tab_differing_only_in_case_is_left_alone_too(tmp_path):
    rows = basic_rows()
    rows["SUMMARY"] = [["Ours, in capitals"]]
    book = build_xlsx(tmp_path / "okrs.xlsx", rows)
    result = okrsync("run", "-c", write_config(tmp_path, "okrs.xlsx", owned_tabs=True), "--today", "2026-11-16", "--json")
    assert result.exit_code == 0, result.stderr  # Excel's tab names ignore case: no second "Summary"
    assert any(f["rule"] == "owned-tab" for f in json.loads(result.stdout)["sources"][0]["findings"])
    assert [t for t in openpyxl.load_workbook(book).sheetnames if t.lower() == "summary"] == ["SUMMARY"]


def test_google_a_summary_tab_a_person_made_is_left_alone_in_one_read(tmp_path, google):  # noqa: F811
    rows = edited(80)
    rows["Summary"] = [["Our own summary"], ["Q4 looks good"]]
    book = google.spreadsheet(rows)
    google.admin("reset")
    result = okrsync("run", "-c", google_config(tmp_path, google, book.id, owned_tabs=True), "--today", "2026-11-16",
                     "--json")
    assert result.exit_code == 0, result.stderr
    counts = google.counts()  # okrsync's calls (the checks below make the user's own)
    assert counts["spreadsheets.get"] == 1 and counts["spreadsheets.batchUpdate"] == 1
    assert any(f["rule"] == "owned-tab" for f in json.loads(result.stdout)["sources"][0]["findings"])
    assert book.worksheet("Summary").get_all_values() == [["Our own summary"], ["Q4 looks good"]]
    assert book.worksheet("Check-ins").get_all_values()[1] == CHECKINS_HEADER
