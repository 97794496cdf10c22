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


def _book(url: str) -> tuple[str, dict, callable]:
    auth = {"Authorization": TOKEN}
    created = requests.post(f"{url}/drive/v3/files", json={"name": "x", "mimeType": "application/vnd.google-apps.spreadsheet"},
                            headers=auth, timeout=10).json()
    book = created["id"]

    def batch(*requests_, status=200):
        answer = requests.post(f"{url}/v4/spreadsheets/{book}:batchUpdate", json={"requests": list(requests_)},
                               headers=auth, timeout=10)
        assert answer.status_code == status, answer.text
        return answer.json()
    return book, auth, batch


def _column(start: int, end: int) -> dict:
    return {"dimensionRange": {"dimension": "COLUMNS", "startIndex": start, "endIndex": end}}


def test_developer_metadata_moves_with_its_columns_and_is_found_by_search_and_lookup():
    with Server() as server:
        book, auth, batch = _book(server.url)
        created = batch({"createDeveloperMetadata": {"developerMetadata": {
            "metadataKey": "owned", "location": _column(4, 6), "visibility": "DOCUMENT"}}})
        meta = created["replies"][0]["createDeveloperMetadata"]["developerMetadata"]
        assert meta["location"] == {"locationType": "COLUMN", "dimensionRange": {"dimension": "COLUMNS", "startIndex": 4,
                                                                                 "endIndex": 6}}
        # a second one with the same id is refused, and the whole batch with it
        batch({"insertDimension": {"range": {"dimension": "COLUMNS", "startIndex": 0, "endIndex": 1}}},
              {"createDeveloperMetadata": {"developerMetadata": {"metadataId": meta["metadataId"], "metadataKey": "x",
                                                                 "location": _column(0, 1)}}}, status=400)
        batch({"insertDimension": {"range": {"dimension": "COLUMNS", "startIndex": 0, "endIndex": 1}}},  # left: moves it
              {"insertDimension": {"range": {"dimension": "COLUMNS", "startIndex": 6, "endIndex": 7}}})  # inside: widens it
        found = requests.post(f"{server.url}/v4/spreadsheets/{book}/developerMetadata:search", headers=auth, timeout=10,
                              json={"dataFilters": [{"developerMetadataLookup": {"metadataKey": "owned"}}]}).json()
        where = found["matchedDeveloperMetadata"][0]["developerMetadata"]["location"]["dimensionRange"]
        assert (where["startIndex"], where["endIndex"]) == (5, 8)
        looked_up = requests.get(f"{server.url}/v4/spreadsheets/{book}/developerMetadata/{meta['metadataId']}",
                                 headers=auth, timeout=10).json()
        assert looked_up["location"]["dimensionRange"]["startIndex"] == 5
        # an exact-location delete matches only where it is now
        stale = {"dataFilter": {"developerMetadataLookup": {"metadataId": meta["metadataId"], "metadataLocation": _column(4, 6),
                                                           "locationMatchingStrategy": "EXACT_LOCATION"}}}
        assert batch({"deleteDeveloperMetadata": stale})["replies"][0]["deleteDeveloperMetadata"] == {"deletedDeveloperMetadata": []}
        batch({"deleteDimension": {"range": {"dimension": "COLUMNS", "startIndex": 5, "endIndex": 8}}})  # its columns go, so does it
        gone = requests.get(f"{server.url}/v4/spreadsheets/{book}/developerMetadata/{meta['metadataId']}", headers=auth, timeout=10)
        assert gone.status_code == 404


def test_dimensions_carry_cells_merges_and_formats_and_every_change_is_a_new_drive_version():
    with Server() as server:
        book, auth, batch = _book(server.url)
        version = lambda: requests.get(f"{server.url}/drive/v3/files/{book}", params={"fields": "version,modifiedTime"},  # noqa: E731
                                       headers=auth, timeout=10).json()["version"]
        first = version()
        green = {"backgroundColor": {"green": 1}}
        batch({"updateCells": {"start": {"rowIndex": 1, "columnIndex": 1},
                               "rows": [{"values": [{"userEnteredValue": {"stringValue": "b"}, "userEnteredFormat": green},
                                                    {"userEnteredValue": {"stringValue": "c"}}]}],
                               "fields": "userEnteredValue,userEnteredFormat.backgroundColor"}},
              {"mergeCells": {"range": {"startRowIndex": 3, "endRowIndex": 5, "startColumnIndex": 2, "endColumnIndex": 4}}})
        assert int(version()) == int(first) + 1
        batch({"insertDimension": {"range": {"dimension": "ROWS", "startIndex": 0, "endIndex": 1}}},
              {"moveDimension": {"source": {"dimension": "COLUMNS", "startIndex": 1, "endIndex": 2}, "destinationIndex": 5}})
        assert int(version()) == int(first) + 2
        sheet = requests.get(f"{server.url}/v4/spreadsheets/{book}", params={"includeGridData": "true", "ranges": "A1:E6"},
                             headers=auth, timeout=10).json()["sheets"][0]
        rows = sheet["data"][0]["rowData"]
        assert rows[2]["values"][1]["formattedValue"] == "c" and rows[2]["values"][4]["formattedValue"] == "b"
        assert rows[2]["values"][4]["userEnteredFormat"]["backgroundColor"] == {"green": 1}  # the format went along
        assert sheet["merges"] == [{"startRowIndex": 4, "endRowIndex": 6, "startColumnIndex": 1, "endColumnIndex": 3}]


def test_sort_range_moves_whole_rows_within_the_range():
    with Server() as server:
        book, auth, batch = _book(server.url)
        requests.put(f"{server.url}/v4/spreadsheets/{book}/values/A1:B4", params={"valueInputOption": "RAW"}, headers=auth,
                     json={"values": [["k", "v"], ["b", 2], ["", 9], ["a", 1]]}, timeout=10)
        batch({"sortRange": {"range": {"startRowIndex": 1, "endRowIndex": 4, "startColumnIndex": 0, "endColumnIndex": 2},
                             "sortSpecs": [{"dimensionIndex": 0, "sortOrder": "ASCENDING"}]}})
        values = requests.get(f"{server.url}/v4/spreadsheets/{book}/values/A1:B4", headers=auth, timeout=10).json()["values"]
        assert values == [["k", "v"], ["a", "1"], ["b", "2"], ["", "9"]]
