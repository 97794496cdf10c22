"""The emulator against the recorded real Google traffic, and its own controls."""

import subprocess
import sys

import pytest
import requests

from okrsync.testing.sheets_emulator import Server, parse_fields
from tests.recordings import RECORDINGS, TOKEN, files, replay

# Recordings the emulator cannot reproduce, and why. Everything else must agree exactly.
NOT_REPRODUCED = {
    # they list every spreadsheet of the account that recorded them
    "ClientTest.test_list_spreadsheet_files.json": "the recording account's other files",
    "ClientTest.test_open_all_has_metadata.json": "the recording account's other files",
    "ClientTest.test_openall.json": "the recording account's other files",
    # features okrsync does not use and the emulator does not model
    "WorksheetTest.test_get_notes.json": "cell notes",
    "WorksheetTest.test_get_notes_2nd_sheet.json": "cell notes",
    "WorksheetTest.test_worksheet_notes.json": "cell notes",
    "WorksheetTest.test_hide_show_worksheet.json": "hidden sheets",
    "WorksheetTest.test_clear_tab_color.json": "tab colours",
    "WorksheetTest.test_get_all_records_value_render_options.json": "date/time render options",
    "WorksheetTest.test_get_all_values_date_time_render_options.json": "date/time render options",
    "WorksheetTest.test_update_cells_noncontiguous.json": "non-contiguous value ranges",
    "WorksheetTest.test_insert_cols.json": "inserting columns with inherited values",
    "WorksheetTest.test_append_row_with_empty_value.json": "appending rows with empty leading cells",
    "WorksheetTest.test_update_works_with_swapped_values_and_range.json": "gspread's swapped-argument form",
    "WorksheetTest.test_get_values_merge_cells_outside_of_range.json": "error details",
}


def test_the_recordings_are_there():
    assert len(list(RECORDINGS.glob("*.json"))) >= 100


@pytest.mark.parametrize("recording", [f for f in files() if f.name not in NOT_REPRODUCED], ids=lambda f: f.stem)
def test_answers_match_the_recorded_real_api(recording):
    with Server() as server:
        assert replay(recording, server.url) == []


def test_the_exceptions_are_still_replayable():
    """Each exception names a recording that exists and is still about a supported request."""
    names = {f.name for f in files()}
    assert set(NOT_REPRODUCED) <= names


def test_counts_quota_and_faults_over_the_admin_endpoint():
    with Server() as server:
        url, auth = server.url, {"Authorization": TOKEN}
        created = requests.post(f"{url}/drive/v3/files", json={"name": "x", "mimeType": "application/vnd.google-apps.spreadsheet"},
                                headers=auth, timeout=10).json()
        get = lambda: requests.get(f"{url}/v4/spreadsheets/{created['id']}", headers=auth, timeout=10)  # noqa: E731
        requests.post(f"{url}/__admin/faults", json={"status": 503, "times": 1}, timeout=10)
        assert get().status_code == 503 and get().status_code == 200
        requests.post(f"{url}/__admin/quota", json={"per_minute": 1}, timeout=10)
        assert get().status_code == 200
        limited = get()
        assert limited.status_code == 429 and limited.json()["error"]["status"] == "RESOURCE_EXHAUSTED"
        requests.post(f"{url}/__admin/faults", json={"drop": True, "times": 1}, timeout=10)
        with pytest.raises(requests.ConnectionError):
            get()
        counts = requests.get(f"{url}/__admin/counts", timeout=10).json()
        assert counts["counts"] == {"drive.files.create": 1, "spreadsheets.get": 5} and counts["rejected"] == 1
        requests.post(f"{url}/__admin/quota", json={"per_minute": 0}, timeout=10)
        unauthenticated = requests.get(f"{url}/v4/spreadsheets/{created['id']}", timeout=10)
        assert unauthenticated.status_code == 401


def test_field_masks():
    assert parse_fields("a,b(c,d/e),f.g") == {"a": {}, "b": {"c": {}, "d": {"e": {}}}, "f": {"g": {}}}


def test_runs_on_its_own():
    process = subprocess.Popen([sys.executable, "-m", "okrsync.testing.sheets_emulator", "--port", "0"],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("Sheets API emulator at http://127.0.0.1:")
        url = line.split()[4]
        assert requests.get(f"{url}/__admin/counts", timeout=10).json()["total"] == 0
    finally:
        process.terminate()
        process.wait(timeout=10)
