"""The Google Sheets source end to end, against the emulator over real HTTP on loopback."""

import json

from tests.conftest import basic_rows, build_xlsx, okrsync, write_config
from tests.google_fixtures import BOT, google, google_config  # noqa: F401  (fixture)

TODAY = ("--today", "2026-11-16")


def results(stdout: str) -> dict:
    source = json.loads(stdout)["sources"][0]
    return {k: source[k] for k in ("key_results", "objectives", "kpis")} | {
        "findings": [(f["tab"], f["cell"], f["rule"], f["message"]) for f in source["findings"]]}


def test_the_same_sheet_gives_the_same_results_as_excel(tmp_path, google):  # noqa: F811
    rows = basic_rows()
    rows["OKRs"][1][8] = "ten"  # a mistake, so there is a Check message
    book = google.spreadsheet(rows)
    config = google_config(tmp_path, google, book.id)
    run = okrsync("run", "-c", config, "--json", *TODAY)
    assert run.exit_code == 0, run.stderr

    (tmp_path / "excel").mkdir()
    build_xlsx(tmp_path / "excel" / "okrs.xlsx", rows)
    excel = okrsync("run", "-c", write_config(tmp_path / "excel", "okrs.xlsx"), "--json", *TODAY)
    assert results(run.stdout) == results(excel.stdout)

    okrs = book.worksheet("OKRs")
    values = okrs.get_all_values()
    assert values[0][10:14] == ["Score", "Status", "Objective score", "Check"]
    assert values[1][11] == "Needs data" and values[2][11] == "On track" and values[3][11] == "Done"
    assert values[1][13] == 'error: Target "ten" is not a number [kr-measurable]'
    grid = google.user.http_client.fetch_sheet_metadata(book.id, params={
        "includeGridData": "true", "ranges": "'OKRs'!L2:L3", "fields": "sheets.data.rowData.values.effectiveFormat.backgroundColor"})
    fills = [row["values"][0]["effectiveFormat"]["backgroundColor"] for row in grid["sheets"][0]["data"][0]["rowData"]]
    assert fills[0] == {"red": 224 / 255, "green": 224 / 255, "blue": 224 / 255}  # grey: needs data
    assert fills[1] == {"red": 183 / 255, "green": 225 / 255, "blue": 205 / 255}  # green: on track
    assert book.worksheet("KPIs").get_all_values()[2][7] == "At risk"  # Status, right of Current


def test_one_read_and_one_write_then_nothing(tmp_path, google):  # noqa: F811
    book = google.spreadsheet(basic_rows())
    config = google_config(tmp_path, google, book.id)
    google.admin("reset")
    assert okrsync("run", "-c", config, *TODAY).exit_code == 0
    # Drive's version before the read, before the first (not yet anchored) write, and after it
    assert google.counts() == {"drive.files.get": 3, "spreadsheets.get": 1, "spreadsheets.batchUpdate": 1}
    google.admin("reset")
    second = okrsync("run", "-c", config, "--json", *TODAY)
    assert json.loads(second.stdout)["sources"][0]["cells_written"] == 0
    assert json.loads(second.stdout)["sources"][0]["unchanged"] is True
    assert google.counts() == {"drive.files.get": 1}  # unchanged: no Sheets API call at all
    google.admin("reset")
    tomorrow = okrsync("run", "-c", config, "--json", "--today", "2026-11-17")
    assert json.loads(tomorrow.stdout)["sources"][0]["unchanged"] is True  # scored again, not read
    assert google.counts() == {"drive.files.get": 1}
    book.worksheet("OKRs").update([[85]], "J2")  # someone edits: the next run reads and writes
    google.admin("reset")
    edited = okrsync("run", "-c", config, "--json", "--today", "2026-11-17")
    assert json.loads(edited.stdout)["sources"][0]["unchanged"] is False
    assert google.counts() == {"drive.files.get": 2, "spreadsheets.get": 1, "spreadsheets.batchUpdate": 1}


def test_text_is_never_a_formula(tmp_path, google):  # noqa: F811
    rows = basic_rows()
    rows["OKRs"][1][8] = "'=IMPORTXML(\"http://evil.example\", \"//a\")"  # typed as text
    book = google.spreadsheet(rows)
    okrsync("run", "-c", google_config(tmp_path, google, book.id), *TODAY)
    meta = google.user.http_client.fetch_sheet_metadata(book.id, params={
        "includeGridData": "true", "ranges": "'OKRs'!N2", "fields": "sheets.data.rowData.values.userEnteredValue"})
    entered = meta["sheets"][0]["data"][0]["rowData"][0]["values"][0]["userEnteredValue"]
    assert list(entered) == ["stringValue"]
    assert entered["stringValue"] == 'error: Target "=IMPORTXML("http://evil.example", "//a")" is not a number [kr-measurable]'


def test_clear_errors(tmp_path, google):  # noqa: F811
    unshared = google.spreadsheet(basic_rows(), share=False)
    result = okrsync("run", "-c", google_config(tmp_path, google, unshared.id), *TODAY)
    assert result.exit_code == 1 and f"is not shared with {BOT}: share the spreadsheet" in result.stderr
    missing = okrsync("run", "-c", google_config(tmp_path, google, "no-such-spreadsheet"), *TODAY)
    assert missing.exit_code == 1 and "does not exist" in missing.stderr
    config = google_config(tmp_path, google, unshared.id)
    google.bot_key.write_text("{}")
    bad_key = okrsync("run", "-c", config, *TODAY)
    assert bad_key.exit_code == 1 and "is not a Google service-account key file" in bad_key.stderr
    assert "Traceback" not in result.stderr + missing.stderr + bad_key.stderr


def test_faults_are_retried_to_a_complete_sync(tmp_path, google):  # noqa: F811
    book = google.spreadsheet(basic_rows())
    config = google_config(tmp_path, google, book.id)
    google.admin("faults", status=429, times=2, method="spreadsheets.get")
    google.admin("faults", status=503, times=1, method="spreadsheets.batchUpdate")
    google.admin("faults", drop=True, times=1, method="spreadsheets.batchUpdate")
    result = okrsync("run", "-c", config, *TODAY)
    assert result.exit_code == 0, result.stderr
    assert "HTTP 429" in result.stderr and "retry" in result.stderr
    assert book.worksheet("OKRs").acell("L2").value == "On track"


def test_a_write_that_keeps_failing_leaves_the_sheet_whole_and_the_next_run_repairs(tmp_path, google):  # noqa: F811
    book = google.spreadsheet(basic_rows())
    config = google_config(tmp_path, google, book.id)
    before = book.worksheet("OKRs").get_all_values()
    google.admin("faults", status=500, times=10, method="spreadsheets.batchUpdate")
    failed = okrsync("run", "-c", config, *TODAY)
    assert failed.exit_code == 1 and "Google Sheets refused to write to it (HTTP 500" in failed.stderr
    assert book.worksheet("OKRs").get_all_values() == before  # nothing half-written
    google.admin("reset")
    assert okrsync("run", "-c", config, *TODAY).exit_code == 0
    assert book.worksheet("OKRs").acell("L2").value == "On track"


def test_quota_storm_under_the_shared_limiter(tmp_path, google):  # noqa: F811
    book = google.spreadsheet(basic_rows())
    config = google_config(tmp_path, google, book.id)
    google.admin("quota", per_minute=1)  # the first call passes, the next ones hit the quota
    result = okrsync("run", "-c", config, *TODAY)
    assert result.exit_code == 1 and "quota stayed exhausted" in result.stderr and "Nothing was written" in result.stderr
    google.admin("quota", per_minute=0)
    assert okrsync("run", "-c", config, *TODAY).exit_code == 0


def test_init_lays_out_an_existing_spreadsheet(tmp_path, google):  # noqa: F811
    book = google.user.create("Empty plan")
    book.share(BOT, perm_type="user", role="writer", notify=False)
    result = okrsync("init", tmp_path / "team", "--google", book.url, "--credentials", google.bot_key)
    assert result.exit_code == 0, result.stderr
    assert "added the tabs OKRs, KPIs" in result.stdout
    assert book.worksheet("OKRs").row_values(1)[:5] == ["Cycle", "Team", "Objective", "Objective owner", "Commitment"]
    assert book.worksheet("KPIs").row_values(1)[0] == "KPI"
    config = (tmp_path / "team" / "okrsync.toml").read_text()
    assert f'google = "{book.url}"' in config and str(google.bot_key) in config
    again = okrsync("init", tmp_path / "team2", "--google", book.id, "--credentials", google.bot_key)
    assert "its tabs are already there" in again.stdout
    # the laid-out sheet is one okrsync reads: every header recognised, nothing to complain about
    book.worksheet("OKRs").update([["2026-Q4", "Support", "Delight", "Ada", "aspirational", "CSAT to 90", "Ada",
                                    "number", "increase", 70, 90, 80]], "A2", value_input_option="USER_ENTERED")
    check = okrsync("validate", "-c", tmp_path / "team" / "okrsync.toml", "--json", *TODAY)
    source = json.loads(check.stdout)["sources"][0]
    assert source["ok"] and source["key_results"][0]["status"] == "On track"


def test_doctor_checks_google_sources(tmp_path, google):  # noqa: F811
    book = google.spreadsheet(basic_rows())
    config = google_config(tmp_path, google, book.id)
    good = okrsync("doctor", "-c", config, *TODAY)
    assert good.exit_code == 0, good.stdout
    assert f"ok    source team        read OKRs 3 rows, KPIs 2 rows; writable (as {BOT})" in good.stdout
    unshared = google.spreadsheet(basic_rows(), share=False)
    result = okrsync("doctor", "-c", google_config(tmp_path, google, unshared.id), *TODAY)
    assert result.exit_code == 1 and f"is not shared with {BOT}" in result.stdout
    assert "→ share the spreadsheet with that address as an Editor" in result.stdout
    google.bot_key.unlink()
    missing = okrsync("doctor", "-c", config, *TODAY)
    assert missing.exit_code == 1 and "okrsync-key.json does not exist" in missing.stdout
    assert "→ download a JSON key for the service account" in missing.stdout


def test_a_spreadsheet_with_only_an_okrs_tab(tmp_path, google):  # noqa: F811
    book = google.spreadsheet({"OKRs": basic_rows()["OKRs"]})
    google.admin("reset")
    result = okrsync("run", "-c", google_config(tmp_path, google, book.id), "--json", *TODAY)
    assert result.exit_code == 0, result.stderr
    # the two-tab read fails, the tabs are listed once, the OKRs tab is read, then one write
    # (Drive's version before the read, before the first write and after it)
    assert google.counts() == {"drive.files.get": 3, "spreadsheets.get": 3, "spreadsheets.batchUpdate": 1}
    source = json.loads(result.stdout)["sources"][0]
    assert len(source["key_results"]) == 3 and source["kpis"] == []
    assert book.worksheet("OKRs").acell("L2").value == "On track"
    nothing = google.spreadsheet({"Notes": [["hello"]]})
    failed = okrsync("run", "-c", google_config(tmp_path, google, nothing.id), *TODAY)
    assert failed.exit_code == 1 and "has neither an OKRs nor a KPIs tab (it has: Notes)" in failed.stderr
