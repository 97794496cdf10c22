"""Hostile, broken and huge workbooks, built here by code: each gets one clear sentence naming
the file (and tab and cell where there is one), a sensible exit code, no traceback, no control
character on the terminal and no partial file left behind."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest

from okrsync.store import Store
from tests.conftest import OKR_HEADER, basic_rows, build_xlsx, okrsync, unzip, write_config

TODAY = ("--today", "2026-11-16")
SHEET = "xl/worksheets/sheet1.xml"


def rezip(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


def with_sheet(path: Path, change) -> Path:
    """The basic workbook with the OKRs worksheet's XML changed by ``change``."""
    parts = unzip(build_xlsx(path, basic_rows()))
    parts[SHEET] = change(parts[SHEET].decode()).encode()
    return rezip(path, parts)


def damaged_deflate(path: Path) -> Path:
    """A worksheet whose compressed bytes are garbage (the zip's directory is intact)."""
    build_xlsx(path, basic_rows())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(SHEET)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start:start + 40] = b"\xff" * 40
    path.write_bytes(bytes(data))
    return path


def shared_string_index(path: Path) -> Path:
    def change(xml: str) -> str:  # the first shared-string cell of row 2 names string "abc"
        return re.sub(r'(<c r="C2"[^>]*t="s"[^>]*><v>)\d+(</v>)', r"\1abc\2", xml, count=1)
    return with_sheet(path, change)


def cycle_in_sheet(label: str):
    def make(path: Path) -> Path:
        rows = basic_rows()
        rows["OKRs"][1][0] = label
        return build_xlsx(path, rows)
    return make


def doctype_after_comment(path: Path) -> Path:
    return with_sheet(path, lambda xml: xml.replace("?>", "?><!--" + "x" * 5000 + "--><!DOCTYPE w [<!ENTITY a 'b'>]>", 1))


CASES = {
    "year 0 in a cycle cell (0000-Q1)": (cycle_in_sheet("0000-Q1"), 'OKRs!A2', '"0000-Q1" is not a cycle okrsync can use'),
    "year 0 in a cycle cell (FY0000)": (cycle_in_sheet("FY0000"), 'OKRs!A2', '"FY0000" is not a cycle okrsync can use'),
    "year 0 in a cycle cell (Q1 0000)": (cycle_in_sheet("Q1 0000"), 'OKRs!A2', '"Q1 0000" is not a cycle okrsync can use'),
    "damaged deflate data": (damaged_deflate, "", f"is damaged: part {SHEET} cannot be decompressed"),
    "a worksheet cut short": (lambda p: with_sheet(p, lambda xml: xml[: xml.index("</sheetData>") - 40]), "",
                              "worksheet OKRs is cut short (its cell data never ends): the file is damaged"),
    "a shared-string index that is not a number": (shared_string_index, "",
                                                    "worksheet OKRs, cell C2: the shared-string number 'abc' is not a number"),
    "a DTD after a 5 KB comment": (doctype_after_comment, "", "worksheet OKRs carries a DTD"),
}


@pytest.mark.parametrize("case", CASES, ids=lambda c: re.sub(r"\W+", "-", c))
def test_broken_input_is_one_sentence(tmp_path, case):
    make, cell, sentence = CASES[case]
    book = make(tmp_path / "okrs.xlsx")
    before = book.read_bytes()
    result = okrsync("validate", "-c", write_config(tmp_path, "okrs.xlsx"), *TODAY)
    output = result.stdout + result.stderr
    assert result.exit_code == 1, output
    assert sentence in output and cell in output
    if not cell:  # the whole file is refused: the sentence names it
        assert str(book) in output
    assert "Traceback" not in output and not re.search("[\x00-\x08\x0b-\x1f\x7f]", output)
    run = okrsync("run", "-c", write_config(tmp_path, "okrs.xlsx"), *TODAY)
    assert "Traceback" not in run.stdout + run.stderr
    if cell:  # a finding: the key result needs data, the source syncs
        assert run.exit_code == 0 and "Needs data" in openpyxl.load_workbook(book)["OKRs"]["L2"].value
    else:
        assert run.exit_code == 1 and book.read_bytes() == before  # a refused file is never written
    assert not list(tmp_path.glob(".~okrsync-*"))


def test_a_year_0_cycle_in_the_configuration_is_a_configuration_error(tmp_path):
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    config = write_config(tmp_path, "okrs.xlsx")
    config.write_text(config.read_text().replace('cycle = "2026-Q4"', 'cycle = "0000-Q1"'))
    result = okrsync("validate", "-c", config)
    assert result.exit_code == 2
    assert "`cycle`" in result.stderr and "year 0 is out of range" in result.stderr and "Traceback" not in result.stderr


def test_a_table_over_max_rows_is_refused_before_it_is_read_whole(tmp_path):
    rows = basic_rows()
    rows["OKRs"] += [[None, None, None, f"Key result {i}", "Ada", "number", "increase", 0, 10, 5] for i in range(60)]
    build_xlsx(tmp_path / "okrs.xlsx", rows)
    config = write_config(tmp_path, "okrs.xlsx", extra="max_rows = 50")
    result = okrsync("validate", "-c", config, *TODAY)
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
    assert "worksheet OKRs has more than 50 rows with values; okrsync reads at most max_rows" in result.stdout
    assert okrsync("validate", "-c", write_config(tmp_path, "okrs.xlsx", extra="max_rows = 100"), *TODAY).exit_code == 0
    bad = okrsync("validate", "-c", write_config(tmp_path, "okrs.xlsx", extra="max_rows = 0"))
    assert bad.exit_code == 2 and "`max_rows`" in bad.stderr


def test_a_worksheet_over_its_byte_budget_is_not_decompressed(tmp_path):
    """17 MiB of worksheet XML that compresses only 2:1, so it passes the zip-bomb guards; with
    max_rows = 10 the budget is 16 MiB, and the part is refused from its declared size."""
    parts = unzip(build_xlsx(tmp_path / "okrs.xlsx", basic_rows()))
    filler = secrets.token_hex(17 * 2**19).encode()
    parts[SHEET] = parts[SHEET].replace(b"</worksheet>", b"<!--" + filler + b"--></worksheet>")
    rezip(tmp_path / "okrs.xlsx", parts)
    result = okrsync("validate", "-c", write_config(tmp_path, "okrs.xlsx", extra="max_rows = 10"), *TODAY)
    assert result.exit_code == 1 and "Traceback" not in result.stdout + result.stderr
    assert "worksheet OKRs is 17 MiB uncompressed, more than okrsync reads for max_rows = 10 (16 MiB)" in result.stdout


def header_reaching_xfd(path: Path) -> Path:
    rows = basic_rows()
    rows["OKRs"][0] = OKR_HEADER + [None] * (16_384 - len(OKR_HEADER) - 1) + ["Last note"]
    return build_xlsx(path, rows)


@pytest.mark.parametrize("make, sentence", [
    (header_reaching_xfd, "tab OKRs has no room for okrsync's columns: they would start at column XFE, past XFD"),
    (lambda p: build_xlsx(p, basic_rows(), merges={"OKRs": [("K2:N3", None)]}),
     "okrsync's column runs through the merged range OKRs!K2:N3"),
], ids=["past-XFD", "merged-owned-cells"])
def test_nothing_is_written_where_a_sheet_has_no_room(tmp_path, make, sentence):
    book = make(tmp_path / "okrs.xlsx")
    before = book.read_bytes()
    result = okrsync("run", "-c", write_config(tmp_path, "okrs.xlsx"), *TODAY)
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert sentence in result.stderr
    assert book.read_bytes() == before


def test_sheet_text_never_drives_the_terminal(tmp_path):
    rows = basic_rows()
    rows["OKRs"][1][3] = "Raise CSAT\x1b]0;pwned\x07\x1b[2J to \u202e09"  # retitle, clear the screen, reorder
    rows["OKRs"][1][8] = "ten\x1b[31m"  # a finding quotes this value
    build_xlsx(tmp_path / "okrs.xlsx", rows)
    config = write_config(tmp_path, "okrs.xlsx")
    for args in (("validate",), ("validate", "--json"), ("run", "--json", "-v"), ("run", "--log-format", "json", "-v")):
        result = okrsync(*args, "-c", config, *TODAY)
        output = result.stdout + result.stderr
        assert not re.search("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", output), args
        assert "Traceback" not in output
    shown = okrsync("validate", "-c", config, *TODAY).stdout
    assert 'Target "ten\\x1b[31m" is not a number' in shown
    data = json.loads(okrsync("run", "--json", "-c", config, *TODAY).stdout)
    assert data["sources"][0]["key_results"][0]["key_result"] == "Raise CSAT\x1b]0;pwned\x07\x1b[2J to \u202e09"
    check = openpyxl.load_workbook(tmp_path / "okrs.xlsx")["OKRs"]["N2"].value
    assert "kr-measurable" in check and "\u202e" not in check and "\x1b" not in check


def test_excel_escapes_are_read_and_written_as_excel_does(tmp_path):
    rows = basic_rows()
    rows["OKRs"][1][3] = "Ship _x0041_PI v2"  # a literal _xHHHH_: XlsxWriter escapes it as Excel does
    rows["OKRs"][1][8] = "t_x0042_n"  # quoted by a finding, so okrsync writes it into Check
    book = build_xlsx(tmp_path / "okrs.xlsx", rows)
    assert b"_x005F_x0041_" in unzip(book)["xl/sharedStrings.xml"]
    config = write_config(tmp_path, "okrs.xlsx")
    result = okrsync("run", "--json", "-c", config, *TODAY)
    assert json.loads(result.stdout)["sources"][0]["key_results"][0]["key_result"] == "Ship _x0041_PI v2"
    assert 'Target "t_x005F_x0042_n" is not a number' in unzip(book)[SHEET].decode()  # written escaped
    again = okrsync("run", "--dry-run", "--json", "-c", config, *TODAY)  # read again: the Check cell reads back
    assert json.loads(again.stdout)["sources"][0]["cells_to_write"] == 0
    read = okrsync("validate", "-c", config, *TODAY).stdout
    assert 'Target "t_x0042_n" is not a number' in read


def test_the_temporary_copy_has_the_workbooks_permissions_from_its_first_byte(workspace, monkeypatch):
    folder, book, config = workspace
    os.chmod(book, 0o600)
    seen = []
    real_fsync = os.fsync

    def look(fd):
        seen.extend(stat.S_IMODE(p.stat().st_mode) for p in folder.glob(".~okrsync-*"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", look)
    assert okrsync("run", "-c", config, *TODAY).exit_code == 0
    assert seen and set(seen) == {0o600}
    assert stat.S_IMODE(book.stat().st_mode) == 0o600


def test_stale_copies_are_removed_when_the_next_run_starts(workspace):
    folder, book, config = workspace
    stale = folder / f".~okrsync-{2**22 + 17}-okrs.xlsx"  # a pid that is not running
    stale.write_bytes(b"half a workbook")
    assert okrsync("validate", "-c", config, *TODAY).exit_code == 0  # reads, never writes
    assert not stale.exists()


def test_a_run_killed_during_its_write(tmp_path):
    """SIGKILL while the new copy is being written: the workbook is the old one, whole; the
    copy left behind has the workbook's permissions; the next run cleans up, marks the killed run
    and writes."""
    rows = basic_rows()
    rows["OKRs"] += [[None, None, None, f"Key result {i}", "Ada", "number", "increase", 0, 10, i % 11]
                     for i in range(40_000)]
    book = build_xlsx(tmp_path / "okrs.xlsx", rows)
    os.chmod(book, 0o640)
    before = book.read_bytes()
    config = write_config(tmp_path, "okrs.xlsx", source_extra="backups = 0")
    process = subprocess.Popen([sys.executable, "-m", "okrsync", "-q", "run", "-c", str(config), *TODAY],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list(tmp_path.glob(".~okrsync-*")) and process.poll() is None:
        time.sleep(0.005)
    copies = list(tmp_path.glob(".~okrsync-*"))
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert copies, "the run finished before its write could be caught"
    assert book.read_bytes() == before and openpyxl.load_workbook(book, read_only=True)
    left = [p for p in tmp_path.glob(".~okrsync-*")]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o640 for p in left)
    store = Store.read_only(tmp_path / "okrsync.db")
    assert [r["outcome"] for r in store.recent_runs()] == [None]  # unfinished as long as nobody looks
    store.close()

    again = okrsync("run", "-c", config, *TODAY)
    assert again.exit_code == 0, again.stderr
    assert not list(tmp_path.glob(".~okrsync-*"))
    store = Store.read_only(tmp_path / "okrsync.db")
    assert [r["outcome"] for r in store.recent_runs()] == ["ok", "killed"]
    store.close()
    assert openpyxl.load_workbook(book, read_only=True)["OKRs"]["L2"].value == "On track"
    status = okrsync("status", "-c", config)
    assert "killed" in status.stdout and "unfinished" not in status.stdout
