"""The surgical .xlsx writer (SPEC §7.1): nothing but owned cells changes, atomically."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import openpyxl
import pytest

from okrsync.config import SourceConfig
from okrsync.errors import WriteSkipped
from okrsync.refs import column_number
from okrsync.sources.interface import CellChange
from okrsync.sources.excel import ExcelSource
from okrsync.xlsx.sheet import MAX_TEXT, clean_text
from tests.conftest import OKR_HEADER, Formula, basic_rows, build_xlsx, okrsync, unzip, write_config


def tiny_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def rich_workbook(path: Path) -> Path:
    """An OKR workbook carrying what users add: charts, an image, sparklines, drop-downs,
    conditional formats (2010 data bars), comments, defined names, a table, merged cells,
    formulas with cached values, and several sheets."""
    rows = basic_rows()
    rows["OKRs"][1][9] = Formula("=75+5", 80)  # a formula-driven Current column
    rows["Data"] = [["Month", "Revenue"], ["Oct", 120], ["Nov", 135], ["Dec", Formula("=B3*1.1", 148.5)]]

    def extra(workbook, sheets):
        okrs, data = sheets["OKRs"], sheets["Data"]
        chart = workbook.add_chart({"type": "line"})
        chart.add_series({"categories": "=Data!$A$2:$A$4", "values": "=Data!$B$2:$B$4"})
        okrs.insert_chart("L8", chart)
        okrs.insert_image("L25", "pixel.png", {"image_data": io.BytesIO(tiny_png())})
        okrs.data_validation("F2:F50", {"validate": "list", "source": ["number", "percent", "currency", "milestone"]})
        okrs.conditional_format("J2:J50", {"type": "data_bar", "data_bar_2010": True})
        okrs.conditional_format("H2:H50", {"type": "cell", "criteria": ">", "value": 50,
                                           "format": workbook.add_format({"bold": True, "bg_color": "#FFC7CE"})})  # a dxf with a fill
        okrs.write_comment("D2", "Measured by the quarterly survey")
        okrs.add_sparkline("K2", {"range": "Data!B2:B4"})
        workbook.define_name("Targets", "=OKRs!$I$2:$I$4")
        data.add_table("D1:E3", {"data": [["a", 1], ["b", 2]], "columns": [{"header": "Key"}, {"header": "N"}]})
        data.merge_range("G1:H2", "merged note")
        data.write_formula("B6", "=SUM(B2:B4)", None, 403.5)
    return build_xlsx(path, rows, extra=extra)


def sheet_xml_outside_data(xml: bytes, new_columns: set[int] = frozenset()) -> str:
    """The worksheet around its cells; ``new_columns``: owned columns okrsync added, whose widths
    (a <col> each, sized to their content) are taken out."""
    text = xml.decode()
    text = re.sub(r"<sheetData>.*</sheetData>", "<sheetData/>", text, flags=re.S)
    for col in new_columns:
        text, found = re.subn(rf'<col min="{col}" max="{col}" width="[\d.]+" customWidth="1"/>', "", text)
        assert found == 1, f"no width for new column {col}"
    text = text.replace("<cols></cols>", "")
    return re.sub(r'<dimension ref="[^"]*"/>', "<dimension/>", text)


def added_widths(before: bytes, after: bytes) -> set[int]:
    """The columns given a width by okrsync's write (<col> entries the sheet did not have)."""
    pattern = r'<col min="(\d+)" max="\1" width="[\d.]+" customWidth="1"/>'
    return {int(c) for c in re.findall(pattern, after.decode())} - {int(c) for c in re.findall(pattern, before.decode())}


def cells(path: Path, data_only: bool) -> dict:
    wb = openpyxl.load_workbook(path, data_only=data_only)
    return {(ws.title, c.coordinate): c.value for ws in wb for row in ws.iter_rows() for c in row if c.value is not None}


def test_only_owned_cells_and_styles_change(tmp_path):
    book = rich_workbook(tmp_path / "okrs.xlsx")
    before_parts = unzip(book)
    before_formulas, before_values = cells(book, False), cells(book, True)
    config = write_config(tmp_path, "okrs.xlsx")

    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 0, result.stderr

    after_parts = unzip(book)
    assert list(after_parts) == list(before_parts)  # same parts, same order
    changed = {name for name in before_parts if before_parts[name] != after_parts[name]}
    assert changed == {"xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml", "xl/styles.xml"}
    # everything around the cells, but for the widths of the owned columns okrsync added
    for part, added in (("xl/worksheets/sheet1.xml", {11, 12, 13, 14}), ("xl/worksheets/sheet2.xml", {8, 9, 10})):
        assert sheet_xml_outside_data(after_parts[part], added) == sheet_xml_outside_data(before_parts[part])

    after_formulas, after_values = cells(book, False), cells(book, True)
    owned = {"OKRs": {"K", "L", "M", "N"}, "KPIs": {"H", "I", "J"}}
    new_cells = {k for k in after_formulas if k not in before_formulas}
    assert all(re.match(r"[A-Z]+", coord).group() in owned[tab] for tab, coord in new_cells)
    for key, value in before_formulas.items():  # nothing of the user's changed, formulas included
        assert after_formulas[key] == value, key
    for key, value in before_values.items():  # cached values survive
        assert after_values[key] == value, key
    assert after_values[("OKRs", "J2")] == 80 and after_formulas[("OKRs", "J2")] == "=75+5"
    assert after_values[("OKRs", "K1")] == "Score" and after_values[("OKRs", "L2")] == "On track"
    assert after_values[("KPIs", "H2")] == "On track"

    wb = openpyxl.load_workbook(book)
    ws = wb["OKRs"]
    assert ws["L2"].fill.fgColor.rgb == "FFB7E1CD" and ws["K2"].number_format == "0.00"
    assert ws["L3"].fill.fgColor.rgb == "FFB7E1CD"
    # every other part once unzipped is byte-identical: charts, drawing, image, comments, table...
    for name in ("xl/charts/chart1.xml", "xl/media/image1.png", "xl/comments1.xml", "xl/tables/table1.xml",
                 "xl/drawings/drawing1.xml", "xl/workbook.xml", "[Content_Types].xml"):
        assert after_parts[name] == before_parts[name]


def test_existing_styles_keep_their_index_and_meaning(tmp_path):
    book = rich_workbook(tmp_path / "okrs.xlsx")
    before = unzip(book)["xl/styles.xml"].decode()
    okrsync("run", "-c", write_config(tmp_path, "okrs.xlsx"), "--today", "2026-11-16")
    after = unzip(book)["xl/styles.xml"].decode()
    xfs = lambda text: re.findall(r"<xf [^>]*?(?:/>|>.*?</xf>)", re.search(r"<cellXfs.*?</cellXfs>", text, re.S).group())
    fills = lambda text: re.findall(r"<fill>.*?</fill>", re.search(r"<fills.*?</fills>", text, re.S).group(), re.S)
    assert xfs(after)[: len(xfs(before))] == xfs(before)
    assert fills(after)[: len(fills(before))] == fills(before)
    added = fills(after)[len(fills(before)):]
    # one fill per status colour in use: green (on track, done) and yellow (the at-risk KPI)
    assert sorted(re.search(r'rgb="FF(\w+)"', f).group(1) for f in added) == ["B7E1CD", "FCE8B2"]
    assert 'count="%d"' % len(xfs(after)) in after


def test_opens_in_libreoffice(tmp_path):
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is needed for this check (.ci/run installs libreoffice-calc)"
    book = rich_workbook(tmp_path / "okrs.xlsx")
    okrsync("run", "-c", write_config(tmp_path, "okrs.xlsx"), "--today", "2026-11-16")
    out = tmp_path / "converted"
    subprocess.run([soffice, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo-profile",
                    "--convert-to", "csv", "--outdir", str(out), str(book)],
                   check=True, capture_output=True, timeout=180)
    csv = (out / "okrs.csv").read_text()
    assert "Score,Status,Objective score,Check" in csv.splitlines()[0]
    assert "On track" in csv


def test_second_run_writes_nothing(tmp_path):
    book = rich_workbook(tmp_path / "okrs.xlsx")
    config = write_config(tmp_path, "okrs.xlsx")
    assert okrsync("run", "-c", config, "--today", "2026-11-16").exit_code == 0
    stat, data = book.stat(), book.read_bytes()
    second = okrsync("run", "-c", config, "--today", "2026-11-16", "--json")
    assert second.exit_code == 0
    assert '"cells_written": 0' in second.stdout and '"cells_to_write": 0' in second.stdout
    assert book.read_bytes() == data and book.stat().st_mtime_ns == stat.st_mtime_ns


def test_a_changed_value_rewrites_only_that_cell(tmp_path, workspace):
    folder, book, config = workspace
    okrsync("run", "-c", config, "--today", "2026-11-16")
    source = ExcelSource(SourceConfig(name="team", excel=book))
    source.read(["OKRs"])
    source.write([CellChange("OKRs", 2, 10, 90.0)])  # Current 80 → 90: the user's column, written by the test
    result = okrsync("run", "-c", config, "--today", "2026-11-16", "--json")
    assert '"cells_to_write": 3' in result.stdout  # score, status and objective score of that row
    ws = openpyxl.load_workbook(book)["OKRs"]
    assert ws["K2"].value == 1.0 and ws["L2"].value == "Done"


STEPS = ["writestr", "fsync", "link", "replace"]


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_at_any_step_leaves_a_valid_workbook(tmp_path, workspace, monkeypatch, step):
    folder, book, config = workspace
    old = book.read_bytes()

    class Crash(BaseException):
        pass

    def crash(*args, **kwargs):
        raise Crash(step)

    target = {"writestr": (zipfile.ZipFile, "writestr"), "fsync": (os, "fsync"),
              "link": (os, "link"), "replace": (os, "replace")}[step]
    monkeypatch.setattr(*target, crash)
    with pytest.raises(Crash):
        okrsync("run", "-c", config, "--today", "2026-11-16")
    monkeypatch.undo()
    assert book.read_bytes() == old  # the old workbook, whole
    openpyxl.load_workbook(book)
    result = okrsync("run", "-c", config, "--today", "2026-11-16")  # the next run repairs and cleans up
    assert result.exit_code == 0
    assert openpyxl.load_workbook(book)["OKRs"]["L2"].value == "On track"
    assert not list(folder.glob(".~okrsync-*"))


def test_open_in_excel_writes_nothing_and_names_the_user(tmp_path, workspace):
    folder, book, config = workspace
    name = b"Ada Lovelace"
    (folder / "~$okrs.xlsx").write_bytes(bytes([len(name)]) + name + b"\x00" * (54 - len(name)))
    old = book.read_bytes()
    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 1
    assert "is open in Excel by Ada Lovelace" in result.stderr and "Traceback" not in result.stderr
    assert book.read_bytes() == old


def test_a_file_changed_since_it_was_read_is_not_written(tmp_path, workspace):
    _, book, _ = workspace
    source = ExcelSource(SourceConfig(name="team", excel=book))
    source.read(["OKRs"])
    changed = book.read_bytes() + b""
    build_xlsx(book, basic_rows())  # someone saved the workbook meanwhile
    after_edit = book.read_bytes()
    with pytest.raises(WriteSkipped, match="changed while okrsync was reading it"):
        source.write([CellChange("OKRs", 2, 11, "On track")])
    assert book.read_bytes() == after_edit and changed


def test_a_workbook_saved_by_someone_mid_run_is_left_as_they_saved_it(workspace, monkeypatch):
    """Someone saves the workbook while okrsync is writing its new copy: okrsync's copy is
    dropped, the person's file stays, and the next run reads and writes their version."""
    folder, book, config = workspace
    rows = basic_rows()
    rows["OKRs"][1][9] = 88  # the person's edit
    theirs = build_xlsx(folder / "theirs.xlsx", rows).read_bytes()
    real_fsync = os.fsync

    def save_then_fsync(fd):
        if not book.read_bytes() == theirs:
            book.write_bytes(theirs)  # Excel saves, just as okrsync finishes its temporary copy
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", save_then_fsync)
    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    monkeypatch.undo()
    assert result.exit_code == 1 and "changed while okrsync was writing; nothing was written" in result.stderr
    assert book.read_bytes() == theirs and not list(folder.glob(".~okrsync-*"))
    again = okrsync("run", "-c", config, "--today", "2026-11-16", "--json")
    assert again.exit_code == 0 and '"unchanged": false' in again.stdout
    assert openpyxl.load_workbook(book, data_only=True)["OKRs"]["K2"].value == 0.9  # their 88, scored


def test_backups_are_kept_and_pruned(tmp_path, workspace):
    folder, book, config = workspace
    for current in (10, 20, 30, 40, 50):
        source = ExcelSource(SourceConfig(name="team", excel=book, backups=3))
        source.read(["OKRs"])
        source.write([CellChange("OKRs", 2, 11, f"v{current}")])
    backups = sorted((folder / ".okrsync-backups").glob("okrs.*.xlsx"))
    assert len(backups) == 3
    assert openpyxl.load_workbook(backups[-1])["OKRs"]["K2"].value == "v40"
    none = build_xlsx(tmp_path / "nobackup.xlsx", basic_rows())
    source = ExcelSource(SourceConfig(name="x", excel=none, backups=0))
    source.read(["OKRs"])
    source.write([CellChange("OKRs", 2, 11, "x")])
    assert not list((folder / ".okrsync-backups").glob("nobackup.*"))


def test_owned_column_with_user_data_is_refused_until_renamed(tmp_path):
    rows = basic_rows()
    rows["OKRs"][0] = OKR_HEADER + ["Status"]
    rows["OKRs"][1] = rows["OKRs"][1] + ["Completed"]
    book = build_xlsx(tmp_path / "okrs.xlsx", rows)
    old = book.read_bytes()
    config = write_config(tmp_path, "okrs.xlsx")
    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 1
    assert 'column "Status" (OKRs!K1) already holds data okrsync did not write (first at OKRs!K2)' in result.stderr
    assert book.read_bytes() == old
    config = write_config(tmp_path, "okrs.xlsx", source_extra='[sources.owned_columns]\nstatus = "okrsync status"\n')
    assert okrsync("run", "-c", config, "--today", "2026-11-16").exit_code == 0
    ws = openpyxl.load_workbook(book)["OKRs"]
    assert ws["K2"].value == "Completed" and ws["M1"].value == "okrsync status" and ws["M2"].value == "On track"


def test_an_empty_existing_owned_column_is_adopted(tmp_path):
    rows = basic_rows()
    rows["OKRs"][0] = OKR_HEADER + ["Check", "Score"]
    book = build_xlsx(tmp_path / "okrs.xlsx", rows)
    assert okrsync("run", "-c", write_config(tmp_path, "okrs.xlsx"), "--today", "2026-11-16").exit_code == 0
    ws = openpyxl.load_workbook(book)["OKRs"]
    assert ws["L2"].value == 0.5 and ws["M1"].value == "Status" and ws["N1"].value == "Objective score"


def test_formula_in_an_owned_cell_is_never_overwritten(tmp_path):
    rows = basic_rows()
    rows["OKRs"][0] = OKR_HEADER + ["Score"]
    book = build_xlsx(tmp_path / "okrs.xlsx", rows)
    config = write_config(tmp_path, "okrs.xlsx")
    assert okrsync("run", "-c", config, "--today", "2026-11-16").exit_code == 0
    rows["OKRs"][1] = rows["OKRs"][1] + [Formula("=J2/I2", 0.9)]
    build_xlsx(book, rows)
    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 1 and "OKRs!K2 in okrsync's column holds a formula" in result.stderr


def test_text_is_written_so_it_can_never_become_a_formula(tmp_path):
    rows = basic_rows()
    rows["OKRs"][1][8] = '=HYPERLINK("http://evil.example","x")\x07'
    book = build_xlsx(tmp_path / "okrs.xlsx", rows)
    okrsync("run", "-c", write_config(tmp_path, "okrs.xlsx"), "--today", "2026-11-16")
    xml = unzip(book)["xl/worksheets/sheet1.xml"].decode()
    check = re.search(r'<c r="N2"[^>]*>.*?</c>', xml).group()
    assert 't="inlineStr"' in check and "<f>" not in check and "\x07" not in check
    assert "=HYPERLINK" in openpyxl.load_workbook(book)["OKRs"]["N2"].value


def test_cell_text_is_cleaned_and_capped():
    assert clean_text("a\x00b\x1fc\td\ne") == "abc\td\ne"
    assert len(clean_text("x" * 100_000)) == MAX_TEXT


def bomb(path: Path) -> Path:
    build_xlsx(path, basic_rows())
    parts = unzip(path)
    parts["xl/worksheets/sheet3.xml"] = b"<x/>" + b" " * (40 << 20)  # 40 MiB that compresses ~1000:1
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600), "old-style .xls"),
    (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 600),
     "is password-protected"),
    (lambda p: p.write_bytes(build_xlsx(p, basic_rows()).read_bytes()[:3000]), "damaged or truncated"),
    (lambda p: p.write_text("Objective,Key result\n"), "is not an Excel workbook"),
    (lambda p: zipfile.ZipFile(p, "w").writestr("xl/workbook.bin", b"\x00"), "binary .xlsb"),
    (bomb, "looks like a zip bomb"),
])
def test_hostile_or_wrong_files_get_one_clear_sentence(tmp_path, make, message):
    make(tmp_path / "okrs.xlsx")
    result = okrsync("validate", "-c", write_config(tmp_path, "okrs.xlsx"))
    assert result.exit_code == 1
    assert message in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_xml_entities_are_refused(tmp_path):
    book = build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    parts = unzip(book)
    parts["xl/workbook.xml"] = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
                                + parts["xl/workbook.xml"].split(b"?>", 1)[1])
    with zipfile.ZipFile(book, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    result = okrsync("validate", "-c", write_config(tmp_path, "okrs.xlsx"))
    assert result.exit_code == 1 and "forbidden XML constructs" in result.stdout


def test_real_world_template_mapped_through_columns(tmp_path, real_template):
    before_parts = unzip(real_template)
    before = cells(real_template, False)
    config = write_config(tmp_path, real_template.name, source_extra=(
        '[sources.columns]\nowner = "Eng Owner"\n'
        '[sources.owned_columns]\nscore = "okrsync score"\nstatus = "okrsync status"\n'
        'objective_score = "okrsync objective score"\ncheck = "okrsync check"\n'))
    validate = okrsync("validate", "-c", config, "--today", "2026-11-16")
    assert validate.exit_code == 1
    assert "OKRs!F3" in validate.stdout and 'Key result "10% lift in engagement on new ML feed" has no owner' in validate.stdout
    assert "Start is blank" in validate.stdout and "Target is blank" in validate.stdout

    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 0, result.stderr
    after_parts = unzip(real_template)
    changed = {n for n in before_parts if before_parts[n] != after_parts[n]}
    assert changed == {"xl/worksheets/sheet1.xml", "xl/styles.xml"}
    assert after_parts["xl/threadedComments/threadedComment1.xml"] == before_parts["xl/threadedComments/threadedComment1.xml"]
    sheet_before, sheet_after = before_parts["xl/worksheets/sheet1.xml"], after_parts["xl/worksheets/sheet1.xml"]
    widened = added_widths(sheet_before, sheet_after)
    assert widened == {column_number(c) for c in "KLMN"}  # the owned columns okrsync appended
    assert sheet_xml_outside_data(sheet_after, widened) == sheet_xml_outside_data(sheet_before)
    after = cells(real_template, False)
    for key, value in before.items():
        assert after[key] == value, key  # its own Status and Score columns untouched
    assert after[("OKRs", "K2")] == "okrsync score" and after[("OKRs", "L3")] == "Needs data"
    assert "kr-measurable" in after[("OKRs", "N3")]
    wb = openpyxl.load_workbook(real_template)
    assert wb["OKRs"].merged_cells.ranges and len(wb["OKRs"].data_validations.dataValidation) == 3
    again = okrsync("run", "-c", config, "--today", "2026-11-16", "--json")
    assert '"cells_written": 0' in again.stdout
