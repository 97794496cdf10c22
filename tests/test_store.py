"""The history store's contract, held on both back ends: a SQLite file and a real PostgreSQL
server (tests/postgres.py). Several Store objects on one store stand for several processes."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from sqlalchemy import text

from okrsync.domain import Finding, Severity
from okrsync.errors import ConfigError
from okrsync.store import SCHEMA_VERSION, Store
from okrsync.sync import SourceResult

DAY = dt.date(2026, 11, 16)


def result_with(name: str, findings: int = 1) -> SourceResult:
    result = SourceResult(name, f"/books/{name}.xlsx")
    result.findings = [Finding("kr-owner", Severity.ERROR, "no owner", name, "OKRs", f"E{i + 2}", i + 2)
                       for i in range(findings)]
    return result


def test_runs_findings_health_and_pruning(store_location):
    with Store(store_location) as store:
        first = store.start_run("run", DAY - dt.timedelta(days=40))
        store.record_source(first, result_with("sales", 2))
        store.finish_run(first, "ok", 1.5)
        second = store.start_run("run", DAY)
        failed = SourceResult("sales", "/books/sales.xlsx", ok=False, error="it is locked")
        store.record_source(second, failed)
        store.finish_run(second, "failed", 0.5)
        assert [r["id"] for r in store.recent_runs()] == [second, first]
        assert store.recent_runs()[0]["holder"] == store.holder_id
        assert store.findings_count(first) == {"error": 2}
        health = store.source_health()["sales"]
        assert health["errors"] == 2 and health["last_error"] == "it is locked" and health["last_success"]
        store.prune(DAY, 30)
        assert [r["id"] for r in store.recent_runs()] == [second]
        assert store.findings_count(first) == {}
        assert store.size() > 0


def test_values_and_kept_state(store_location):
    from okrsync.snapshot import Unreadable

    with Store(store_location) as store:
        store.record_values("sales", "kpi", {"k1": 10.0, "k2": None}, DAY)
        store.record_values("sales", "kpi", {"k1": 12.0}, DAY + dt.timedelta(days=7))
        assert store.recorded_values() == {("sales", "kpi", "k1"): (12.0, DAY + dt.timedelta(days=7))}
        assert store.previous_values("sales", "kpi", {"k1": 12.0}) == {"k1": 10.0}
        store.adopt_columns("sales", "OKRs", {"score": "Score", "status": "Status"})
        store.adopt_columns("sales", "OKRs", {"score": "Points"})
        assert store.adopted_columns("sales", "OKRs") == {"score": "Points", "status": "Status"}
        with pytest.raises(Unreadable):
            store.kept("sales", "grids")
        store.keep_source_state("sales", "sha256:1", "ctx", DAY, "grids-1", "result-1")
        store.keep_source_state("sales", "sha256:2", "ctx", DAY, "grids-2", "result-2")
        assert store.kept("sales", "grids") == "grids-2"
        assert store.source_states()["sales"]["fingerprint"] == "sha256:2"


def test_a_digest_message_is_claimed_by_exactly_one_process(store_location):
    stores = [Store(store_location, lock=False, holder=f"host{i} pid {i}") for i in range(6)]
    try:
        won: list[int] = []
        barrier = threading.Barrier(len(stores))

        def decide(i: int) -> None:
            barrier.wait()
            if stores[i].claim_digest("leaders", "2026-11-16", "ceo@example.com"):
                won.append(i)

        threads = [threading.Thread(target=decide, args=(i,)) for i in range(len(stores))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(won) == 1
        winner, other = stores[won[0]], stores[(won[0] + 1) % len(stores)]
        assert not winner.digest_sent("leaders", "2026-11-16", "ceo@example.com")  # claimed is not sent
        assert winner.sent_count("leaders", "2026-11-16") == 0
        winner.release_digest("leaders", "2026-11-16", "ceo@example.com")  # the send failed: free again
        assert other.claim_digest("leaders", "2026-11-16", "ceo@example.com")
        other.record_digest("leaders", "2026-11-16", "ceo@example.com", "<m1>", '{"a": 1}')
        assert winner.digest_sent("leaders", "2026-11-16", "ceo@example.com")
        assert not winner.claim_digest("leaders", "2026-11-16", "ceo@example.com")  # sent: never twice
        assert winner.claim_digest("leaders", "2026-11-16", "ceo@example.com", force=True)  # unless by hand
        winner.release_digest("leaders", "2026-11-16", "ceo@example.com")  # a forced send that failed
        assert winner.digest_sent("leaders", "2026-11-16", "ceo@example.com")  # keeps the record of the first
        assert winner.last_digest_summary("leaders", "2026-11-23") == {"a": 1}
    finally:
        for s in stores:
            s.close()


def test_a_claim_left_by_a_dead_process_is_taken_over_after_the_lease_time(store_location):
    dead = Store(store_location, lock=False, holder="gone pid 1", lease_seconds=2)
    alive = Store(store_location, lock=False, holder="here pid 2", lease_seconds=2)
    try:
        assert dead.claim_digest("leaders", "2026-11-16", "webhook:team")
        assert not alive.claim_digest("leaders", "2026-11-16", "webhook:team")
        time.sleep(3.1)
        assert alive.claim_digest("leaders", "2026-11-16", "webhook:team")
    finally:
        dead.close()
        alive.close()


def test_leases_split_sources_and_expire(store_location):
    names = [f"s{i}" for i in range(10)]
    a = Store(store_location, lock=False, holder="a pid 1", lease_seconds=2)
    b = Store(store_location, lock=False, holder="b pid 2", lease_seconds=2)
    try:
        a.leases.heartbeat()
        b.leases.heartbeat()
        assert a.leases.share(len(names)) == 5
        first = a.leases.claim(names, share=5)
        second = b.leases.claim(names, share=5)
        assert first.due == names[:5] and second.due == names[5:]
        assert set(second.others) == set(names[:5]) and "a pid 1 until" in second.others["s0"]
        assert b.leases.holders()["s0"]["host"] and not b.leases.renew("s0")  # not b's to write
        assert a.leases.renew("s0")
        a.leases.synced("s0")
        time.sleep(2.2)  # a stops renewing (it died): its leases lapse
        b.leases.heartbeat()
        taken = b.leases.claim(names, share=b.leases.share(len(names)), due_seconds=60)
        assert sorted(taken.due + taken.not_due) == sorted(names)
        assert taken.not_due == ["s0"]  # synced a moment ago by a: not due again yet
        assert not a.leases.renew("s1")  # a came back too late: it may not write
        b.leases.leave()
        assert a.leases.claim(names).due == names  # all free again at once
    finally:
        a.close()
        b.close()


def test_a_projects_request_budget_is_shared_by_processes(store_location):
    a = Store(store_location, lock=False, holder="a pid 1")
    b = Store(store_location, lock=False, holder="b pid 2")
    try:
        assert [a.take_request_slot("team-okrs", 3, 60.0) for _ in range(2)] == [0.0, 0.0]
        assert b.take_request_slot("team-okrs", 3, 60.0) == 0.0
        wait = b.take_request_slot("team-okrs", 3, 60.0)
        assert 59.0 < wait <= 60.1  # the window's oldest call frees a slot in a minute
        assert a.take_request_slot("other-project", 3, 60.0) == 0.0  # another project, another budget
        assert a.take_request_slot("short", 1, 0.5) == 0.0 and a.take_request_slot("short", 1, 0.5) > 0
        time.sleep(0.6)
        assert b.take_request_slot("short", 1, 0.5) == 0.0  # the window moved on
    finally:
        a.close()
        b.close()


def test_the_schema_version_is_stamped_and_a_newer_store_refused(store_location):
    with Store(store_location) as store:
        with store.engine.begin() as conn:
            if store.shared:
                assert conn.execute(text("SELECT version FROM okrsync_schema")).scalar() == SCHEMA_VERSION
                conn.execute(text("UPDATE okrsync_schema SET version = version + 1"))
            else:
                assert conn.exec_driver_sql("PRAGMA user_version").scalar() == SCHEMA_VERSION
                conn.exec_driver_sql(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(ConfigError, match=f"newer okrsync \\(schema {SCHEMA_VERSION + 1}; this one knows up to"):
        Store(store_location)
    with pytest.raises(ConfigError, match="written by a newer okrsync"):
        Store.read_only(store_location)  # status and validate say so too


def test_okrsync_runs_on_postgresql_and_a_sqlite_history_migrates_into_it(postgres, tmp_path):
    from tests.conftest import basic_rows, build_xlsx, okrsync, write_config

    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    config = write_config(tmp_path, "okrs.xlsx")
    for day in ("2026-11-09", "2026-11-16"):
        assert okrsync("run", "-c", config, "--today", day).exit_code == 0
    with Store(tmp_path / "okrsync.db", lock=False) as sqlite_store:
        runs_before = sqlite_store.recent_runs()
        history = sqlite_store.review_history(DAY)
    url = postgres.new_database()
    first = okrsync("store", "migrate", "-c", config, "--to", url)
    assert first.exit_code == 0, first.stderr
    assert "runs: 2 row(s) copied" in first.stdout
    assert f"snapshots: {len(history['snapshots'])} row(s) copied" in first.stdout
    assert "source_state: 1 row(s) copied" in first.stdout
    again = okrsync("store", "migrate", "-c", config, "--to", url)  # idempotent: nothing more
    assert again.exit_code == 0 and all(line.endswith(" 0 row(s) copied") for line in again.stdout.splitlines()[:-1])

    config.write_text(config.read_text().replace('state = "okrsync.db"', f'state = "{url}"'))
    with Store(url) as shared:
        assert shared.recent_runs() == runs_before
        assert shared.review_history(DAY) == history
    unchanged = okrsync("run", "-c", config, "--today", "2026-11-16", "--json")
    assert unchanged.exit_code == 0, unchanged.stderr
    assert json.loads(unchanged.stdout)["sources"][0]["unchanged"] is True  # the kept sheet came along
    assert json.loads(unchanged.stdout)["run_id"] == 3  # numbered after the copied runs
    status = okrsync("status", "-c", config)
    assert status.exit_code == 0 and url in status.stdout and "#3" in status.stdout


def test_a_postgresql_state_never_holds_a_password(postgres, tmp_path):
    from tests.conftest import basic_rows, build_xlsx, okrsync, write_config

    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    config = write_config(tmp_path, "okrs.xlsx")
    text_ = config.read_text()
    config.write_text(text_.replace('state = "okrsync.db"', 'state = "postgresql://okrsync:s3cret@127.0.0.1/x"'))
    refused = okrsync("status", "-c", config)
    assert refused.exit_code == 2 and "`state`" in refused.stderr and "must not carry a password" in refused.stderr
    assert "s3cret" not in refused.stderr
    url = postgres.new_database()
    config.write_text(text_.replace('state = "okrsync.db"', f'state = "{url}"\nstate_password_env = "OKRSYNC_PG_PASSWORD"'))
    missing = okrsync("run", "-c", config, "--today", "2026-11-16", env={"OKRSYNC_PG_PASSWORD": None})
    assert missing.exit_code == 2 and "OKRSYNC_PG_PASSWORD" in missing.stderr
    given = okrsync("run", "-c", config, "--today", "2026-11-16", env={"OKRSYNC_PG_PASSWORD": "any"})  # trust auth
    assert given.exit_code == 0, given.stderr
    down = postgres.url("x").replace(str(postgres.port), "1")  # nothing listens there
    config.write_text(text_.replace('state = "okrsync.db"', f'state = "{down}"'))
    for command in ("run", "status"):
        unreachable = okrsync(command, "-c", config)
        assert unreachable.exit_code == 2 and "cannot be used" in unreachable.stderr, command
        assert "Traceback" not in unreachable.stderr


def test_lease_seconds_must_outlast_a_sync_interval(tmp_path):
    from tests.conftest import basic_rows, build_xlsx, okrsync, write_config

    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    config = write_config(tmp_path, "okrs.xlsx", extra='[worker]\nsync_every = "5m"\nlease_seconds = 300\n')
    result = okrsync("status", "-c", config)
    assert result.exit_code == 2 and "`worker.lease_seconds`" in result.stderr and "longer than sync_every" in result.stderr


def test_runs_of_processes_that_are_gone_are_marked_killed(store_location):
    import socket

    with Store(store_location, lock=False, holder=f"{socket.gethostname()} pid 999999999") as dead:
        dead_run = dead.start_run("worker sync", DAY)  # never finished: its process is gone
    with Store(store_location, lock=False) as here:
        live_run = here.start_run("run", DAY)
        with Store(store_location) as opened:  # another process opens it (SQLite: taking the lock)
            outcomes = {r["id"]: r["outcome"] for r in opened.recent_runs()}
    assert outcomes[dead_run] == "killed"
    if isinstance(store_location, str):  # PostgreSQL tells the living apart; SQLite's lock holder is alone
        assert outcomes[live_run] is None
