"""The history store grows with what changes, and forgets runs older than `history_days`."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from okrsync.store import SCHEMA_VERSION
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


STORE_010 = Path(__file__).parent / "data" / "stores" / "okrsync-0.1.0.db"


def rows_of(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in tables}


def test_a_store_from_okrsync_0_1_0_is_upgraded_in_place_with_every_row(tmp_path):
    """The store was written by okrsync 0.1.0 (two weekly runs of the basic workbook, a leaders'
    digest each week); see tests/data/stores/README.md."""
    store = tmp_path / "okrsync.db"
    shutil.copyfile(STORE_010, store)
    before = rows_of(store)
    assert before["runs"] and before["snapshots"] and before["digests_sent"] and before["item_values"]
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    config = write_config(tmp_path, "okrs.xlsx", extra='[[digests]]\nname = "leaders"\nto = ["ceo@example.com"]\n'
                                                      'when = "mon 08:00"\n')
    status = okrsync("status", "-c", config)  # reading does not upgrade
    assert status.exit_code == 0 and "#2" in status.stdout
    assert rows_of(store) == before

    result = okrsync("run", "-c", config, "--today", "2026-11-23", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["digests"] == []  # sent for this week by 0.1.0: never twice
    after = rows_of(store)
    for table, rows in before.items():
        if table != "sqlite_sequence" and rows:  # every row survives (columns added later come after)
            assert set(rows) <= {row[:len(rows[0])] for row in after[table]}, table
    assert {row[6] for row in after["digests_sent"]} == {"sent"}  # what 0.1.0 sent counts as sent
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == len(before["runs"]) + 1


def test_a_schema_2_store_is_upgraded_in_place_with_every_row(tmp_path):
    """The store was written by the okrsync of commit e8ed4bc (schema 2); see tests/data/stores/README.md."""
    store = tmp_path / "okrsync.db"
    shutil.copyfile(STORE_010.with_name("okrsync-schema-2.db"), store)
    before = rows_of(store)
    assert before["runs"] and before["snapshots"] and before["digests_sent"] and before["source_state"]
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    config = write_config(tmp_path, "okrs.xlsx", extra='[[digests]]\nname = "leaders"\nto = ["ceo@example.com"]\n'
                                                      'when = "mon 08:00"\n')
    result = okrsync("run", "-c", config, "--today", "2026-11-23", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["digests"] == []  # sent for this week by the older okrsync
    after = rows_of(store)
    for table, rows in before.items():  # source_state is what a sheet showed last: replaced by each sync
        if table not in ("sqlite_sequence", "source_state") and rows:
            assert set(rows) <= {row[:len(rows[0])] for row in after[table]}, table
    assert [row[0] for row in after["source_state"]] == ["team"]
    assert {"leases", "workers", "quota_calls"} <= set(after)
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_store_from_a_newer_okrsync_is_refused(tmp_path):
    store = tmp_path / "okrsync.db"
    shutil.copyfile(STORE_010, store)
    with sqlite3.connect(store) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = store.read_bytes()
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    config = write_config(tmp_path, "okrs.xlsx")
    for command in ("run", "status"):
        result = okrsync(command, "-c", config, "--today", "2026-11-23") if command == "run" else okrsync(command, "-c", config)
        assert result.exit_code == 2 and "Traceback" not in result.stderr
        assert f"was written by a newer okrsync (schema {SCHEMA_VERSION + 1}; this one knows up to {SCHEMA_VERSION})" \
            in result.stderr
    assert store.read_bytes() == before
