"""Unchanged sources cost nothing: a workbook that has not changed since okrsync's last write,
with the same rules and configuration, is not read again — yet it is scored again on a new day,
and written only when a cell would change."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import basic_rows, build_xlsx, okrsync


def run(config, today: str, *extra: str):
    result = okrsync("run", "-c", config, "--json", "--today", today, *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["sources"][0], result.stderr


def test_an_unchanged_workbook_is_not_read_again(workspace):
    folder, book, config = workspace
    first, _ = run(config, "2026-11-16")
    assert first["unchanged"] is False and first["cells_written"] > 0
    written = book.read_bytes()
    stat = book.stat()

    again, _ = run(config, "2026-11-16")
    assert again["unchanged"] is True and again["cells_written"] == 0
    assert again["key_results"] == first["key_results"] and again["findings"] == first["findings"]
    assert again["kpis"] == first["kpis"] and again["counts"] == first["counts"]
    assert book.read_bytes() == written and book.stat().st_mtime_ns == stat.st_mtime_ns

    os.utime(book, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same bytes: the content decides
    touched, _ = run(config, "2026-11-16")
    assert touched["unchanged"] is True


def test_a_new_day_scores_again_without_reading_and_writes_only_what_moved(workspace):
    folder, book, config = workspace
    run(config, "2026-11-16")
    written = book.read_bytes()

    next_day, log = run(config, "2026-11-17", "-v")
    assert next_day["unchanged"] is True and next_day["cells_written"] == 0
    assert "scored again: it is a new day" in log
    assert book.read_bytes() == written

    # late in the quarter the CSAT key result (half-way there) falls behind the time elapsed
    late, log = run(config, "2026-12-30", "-v")
    csat = next(kr for kr in late["key_results"] if kr["key_result"] == "Raise CSAT to 90")
    assert csat["status"] == "At risk"
    assert late["cells_written"] > 0 and late["unchanged"] is False  # read again, then written
    assert "read again: " in log
    again, _ = run(config, "2026-12-30")
    assert again["unchanged"] is True and again["cells_written"] == 0


def test_a_changed_file_or_configuration_is_read_again(workspace):
    folder, book, config = workspace
    run(config, "2026-11-16")
    rows = basic_rows()
    rows["OKRs"][1][9] = 88  # the team updates CSAT
    build_xlsx(book, rows)
    edited, log = run(config, "2026-11-16", "-v")
    assert edited["unchanged"] is False and "read again: its file changed" in log
    assert next(kr for kr in edited["key_results"] if kr["key_result"] == "Raise CSAT to 90")["score"] == 0.9

    run(config, "2026-11-16")
    config.write_text(config.read_text() + '[sources.owned_columns]\ncheck = "okrsync check"\n')
    reconfigured, log = run(config, "2026-11-16", "-v")
    assert reconfigured["unchanged"] is False
    assert "read again: the rules, its configuration or okrsync changed" in log

    rules = folder / "rules.yaml"
    rules.write_text("rules:\n  owner-present: warning\n")
    config.write_text(config.read_text().replace('cycle = "2026-Q4"', 'cycle = "2026-Q4"\nrules = ["rules.yaml"]'))
    run(config, "2026-11-16")
    assert run(config, "2026-11-16")[0]["unchanged"] is True
    rules.write_text("rules:\n  owner-present: info\n")
    assert run(config, "2026-11-16")[0]["unchanged"] is False


def test_a_run_that_finds_nothing_changed_imports_no_table_machinery(workspace):
    folder, book, config = workspace
    probe = ("import sys\nfrom okrsync.cli import main\n"
             "try:\n    main(['-q', 'run', '-c', sys.argv[1], '--today', '2026-11-16'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('pandas', 'pandera', 'openpyxl') if m in sys.modules))")

    def imported() -> list[str]:
        out = subprocess.run([sys.executable, "-c", probe, str(config)], capture_output=True, text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1].replace("'", '"'))

    assert "pandas" in imported()  # the first run reads, validates and scores
    assert imported() == []  # the second finds nothing changed


def test_a_damaged_copy_in_the_store_means_reading_again(workspace):
    import sqlite3

    folder, book, config = workspace
    first, _ = run(config, "2026-11-16")
    with sqlite3.connect(folder / "okrsync.db") as db:
        db.execute("UPDATE source_state SET result = '{\"shared\": [], \"value\": {\"$\": \"Nope\"}}', grids = 'not json'")
    same_day, log = run(config, "2026-11-16", "-v")
    assert "read again: the history store's copy cannot be read" in log
    assert same_day["unchanged"] is False and same_day["key_results"] == first["key_results"]
    with sqlite3.connect(folder / "okrsync.db") as db:
        db.execute("UPDATE source_state SET grids = '[1, 2'")
    next_day, log = run(config, "2026-11-17", "-v")
    assert "read again: the history store's copy cannot be read" in log and next_day["unchanged"] is False
