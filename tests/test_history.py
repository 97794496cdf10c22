"""The history store grows with what changes, and forgets runs older than `history_days`."""

from __future__ import annotations

import json
import sqlite3

from tests.conftest import basic_rows, build_xlsx, okrsync, write_config


def count(folder, query: str) -> int:
    with sqlite3.connect(folder / "okrsync.db") as db:
        return db.execute(query).fetchone()[0]


def test_snapshots_keep_only_what_changed(workspace):
    folder, book, config = workspace
    assert okrsync("run", "-c", config, "--today", "2026-11-16").exit_code == 0
    first = count(folder, "SELECT COUNT(*) FROM snapshots")
    assert first == 3 + 1 + 2  # every key result, objective and KPI, the first time
    rows = basic_rows()
    rows["OKRs"][1][9] = 88  # one key result moves (and with it its objective's score)
    build_xlsx(book, rows)
    assert okrsync("run", "-c", config, "--today", "2026-11-16").exit_code == 0
    run = count(folder, "SELECT MAX(id) FROM runs")
    labels = {row[0] for row in sqlite3.connect(folder / "okrsync.db").execute(
        "SELECT label FROM snapshots WHERE run_id = ?", (run,))}
    assert labels == {"Raise CSAT to 90", "Delight customers"}
    for day in ("2026-11-17", "2026-11-18"):  # later runs where nothing moves record no snapshot
        assert okrsync("run", "-c", config, "--today", day).exit_code == 0
    assert count(folder, "SELECT COUNT(*) FROM snapshots") == first + 2


def test_runs_older_than_history_days_are_forgotten(tmp_path):
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    config = write_config(tmp_path, "okrs.xlsx", extra="history_days = 30")
    rows = basic_rows()
    rows["OKRs"][1][3] = "Raise CSAT to 95"  # something to record in the old run that the new one lacks
    build_xlsx(tmp_path / "okrs.xlsx", rows)
    assert okrsync("run", "-c", config, "--today", "2026-10-01").exit_code == 0
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    assert okrsync("run", "-c", config, "--today", "2026-11-16").exit_code == 0
    assert count(tmp_path, "SELECT COUNT(*) FROM runs WHERE today < '2026-10-17'") == 0
    assert count(tmp_path, "SELECT COUNT(*) FROM runs") == 1
    assert count(tmp_path, "SELECT COUNT(*) FROM snapshots WHERE run_id NOT IN (SELECT id FROM runs)") == 0
    assert count(tmp_path, "SELECT COUNT(*) FROM source_runs WHERE run_id NOT IN (SELECT id FROM runs)") == 0
    status = okrsync("status", "-c", config, "--json")
    info = json.loads(status.stdout)
    assert info["state_bytes"] > 0 and info["history_days"] == 30
    assert "MiB, runs kept 30 days" in okrsync("status", "-c", config).stdout
    bad = okrsync("status", "-c", write_config(tmp_path, "okrs.xlsx", extra="history_days = 0"))
    assert bad.exit_code == 2 and "`history_days`" in bad.stderr
