"""People edit Google Sheets while okrsync syncs them. Each edit a person makes — columns and rows
inserted, deleted or moved, a sort, a renamed or moved tab — is made by the emulator just before
okrsync's write call, between its read and its write. Afterwards every cell outside okrsync's
owned cells holds what the person put there, and one more run leaves every owned cell right."""

from __future__ import annotations

import json

import pytest

from tests.conftest import basic_rows, okrsync
from tests.google_fixtures import google, google_config  # noqa: F401  (fixture)

TODAY = ("--today", "2026-11-16")
OWNED_HEADERS = {"Score", "Status", "Objective score", "Check"}


def rows_with_notes() -> dict[str, list[list]]:
    """The basic OKR sheet with a column of the team's own notes right of Current."""
    rows = basic_rows()
    notes = ["Notes", "survey in week 3", "ask Bo", "launched 1 Nov"]
    rows["OKRs"] = [row + [note] for row, note in zip(rows["OKRs"], notes)]  # copies: the header is shared
    return rows


def dimension(sheet_id: int, kind: str, start: int, end: int) -> dict:
    return {"sheetId": sheet_id, "dimension": kind, "startIndex": start, "endIndex": end}


def padded(values: list[list[str]], width: int = 20) -> list[list[str]]:
    return [row + [""] * (width - len(row)) for row in values]


# Each edit: the batchUpdate requests a person's browser sends, what it does to a grid of values
# (so the test knows what the person expects to see), and whether okrsync may still write.
EDITS = {
    "insert a column left of the owned columns": (
        lambda sid: [{"insertDimension": {"range": dimension(sid, "COLUMNS", 2, 3)}}],
        lambda grid: [row[:2] + [""] + row[2:] for row in grid], False),
    "delete a column left of the owned columns": (
        lambda sid: [{"deleteDimension": {"range": dimension(sid, "COLUMNS", 10, 11)}}],
        lambda grid: [row[:10] + row[11:] for row in grid], False),
    "insert a column among the owned columns": (
        lambda sid: [{"insertDimension": {"range": dimension(sid, "COLUMNS", 12, 13)}}],
        lambda grid: [row[:12] + [""] + row[12:] for row in grid], False),
    "delete a column among the owned columns": (
        lambda sid: [{"deleteDimension": {"range": dimension(sid, "COLUMNS", 12, 13)}}],
        lambda grid: [row[:12] + row[13:] for row in grid], False),
    "move a column from left of the owned columns to their right": (
        lambda sid: [{"moveDimension": {"source": dimension(sid, "COLUMNS", 10, 11), "destinationIndex": 16}}],
        lambda grid: [row[:10] + row[11:16] + [row[10]] + row[16:] for row in grid], False),
    "insert a row inside the table": (
        lambda sid: [{"insertDimension": {"range": dimension(sid, "ROWS", 2, 3)}}],
        lambda grid: grid[:2] + [[""] * len(grid[0])] + grid[2:], False),
    "delete a row inside the table": (
        lambda sid: [{"deleteDimension": {"range": dimension(sid, "ROWS", 2, 3)}}],
        lambda grid: grid[:2] + grid[3:], False),
    "sort the table by key result": (
        lambda sid: [{"sortRange": {"range": {"sheetId": sid, "startRowIndex": 1, "endRowIndex": 4,
                                              "startColumnIndex": 0, "endColumnIndex": 15},
                                    "sortSpecs": [{"dimensionIndex": 3, "sortOrder": "ASCENDING"}]}}],
        lambda grid: grid[:1] + sorted(grid[1:4], key=lambda row: row[3].lower()) + grid[4:], True),
    "rename the tab": (
        lambda sid: [{"updateSheetProperties": {"properties": {"sheetId": sid, "title": "OKRs Q4"}, "fields": "title"}}],
        lambda grid: grid, True),
    "move the tab": (
        lambda sid: [{"updateSheetProperties": {"properties": {"sheetId": sid, "index": 1}, "fields": "index"}}],
        lambda grid: grid, True),
}


def owned_columns(header: list[str]) -> set[int]:
    return {i for i, text in enumerate(header) if text in OWNED_HEADERS}


def assert_owned_cells_right(google, book, tab: str, run_stdout: str) -> None:  # noqa: F811
    """Each key result's Score and Status cells, found by their headers, show what the run computed."""
    values = padded(book.worksheet(tab).get_all_values())
    header = values[0]
    score, status = header.index("Score"), header.index("Status")
    for kr in json.loads(run_stdout)["sources"][0]["key_results"]:
        row = values[kr["row"] - 1]
        assert row[status] == kr["status"], (kr, row)
        assert (row[score] == "") if kr["score"] is None else float(row[score]) == pytest.approx(kr["score"]), (kr, row)


@pytest.mark.parametrize("edit", EDITS, ids=lambda e: e.replace(" ", "-"))
def test_a_persons_edit_between_read_and_write_never_meets_okrsyncs_cells(tmp_path, google, edit):  # noqa: F811
    requests_of, expected_of, still_writes = EDITS[edit]
    book = google.spreadsheet(rows_with_notes())
    config = google_config(tmp_path, google, book.id)
    assert okrsync("run", "-c", config, *TODAY).exit_code == 0  # okrsync's columns and anchors are in place
    sheet = book.worksheet("OKRs")
    sheet.update([[85]], "J2")  # the team updates a number: the next run has cells to write

    seen = padded(sheet.get_all_values())
    expected = expected_of([list(row) for row in seen])
    google.admin("edit", spreadsheet=book.id, before="spreadsheets.batchUpdate", requests=requests_of(sheet.id))
    result = okrsync("run", "-c", config, *TODAY)
    if still_writes:
        assert result.exit_code == 0, result.stderr
    else:
        assert result.exit_code == 1
        assert "were inserted, deleted or moved while okrsync was syncing, so nothing was written" in result.stderr
        assert "Traceback" not in result.stderr

    tab = "OKRs Q4" if edit == "rename the tab" else "OKRs"
    after = padded(book.worksheet(tab).get_all_values())
    owned = owned_columns(expected[0]) | owned_columns(after[0])
    for r, (want, got) in enumerate(zip(expected, after)):
        for c, (w, g) in enumerate(zip(want, got)):
            if c not in owned or r >= 4:  # the person's cells (and anything below the table)
                assert g == w, f"{edit}: row {r + 1}, column {c + 1} holds {g!r}, the person put {w!r}"
    if not still_writes:
        assert [row[:18] for row in after] == [row[:18] for row in expected]  # nothing at all was written

    if edit != "rename the tab":  # a renamed tab is another tab to the configuration
        again = okrsync("run", "-c", config, "--json", *TODAY)
        assert again.exit_code == 0, again.stderr
        assert_owned_cells_right(google, book, tab, again.stdout)
        settled = okrsync("run", "-c", config, "--json", *TODAY)
        assert json.loads(settled.stdout)["sources"][0]["cells_written"] == 0


def test_a_first_write_waits_for_a_quiet_sheet(tmp_path, google):  # noqa: F811
    """A tab okrsync never wrote has no anchors yet: Drive's version, read again just before the
    write, tells that someone edited the spreadsheet since the read."""
    book = google.spreadsheet(rows_with_notes())
    sheet = book.worksheet("OKRs")
    seen = padded(sheet.get_all_values())
    # Drive's version is read before the read and again before the write: the edit comes between
    google.admin("edit", spreadsheet=book.id, before="drive.files.get", skip=1,
                 requests=[{"insertDimension": {"range": dimension(sheet.id, "COLUMNS", 2, 3)}}])
    config = google_config(tmp_path, google, book.id)
    first = okrsync("run", "-c", config, *TODAY)
    assert first.exit_code == 1 and "was edited while okrsync was syncing it; nothing was written" in first.stderr
    assert [row[:18] for row in padded(sheet.get_all_values())] == [(row[:2] + [""] + row[2:])[:18] for row in seen]
    again = okrsync("run", "-c", config, "--json", *TODAY)
    assert again.exit_code == 0, again.stderr
    assert_owned_cells_right(google, book, "OKRs", again.stdout)
    header = padded(sheet.get_all_values())[0]
    assert header[11:13] == ["Notes", "Score"], header
