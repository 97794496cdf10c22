"""Running unattended: the worker, the store lock, status, doctor, logs, systemd units."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest

from okrsync.store import Store
from tests.conftest import basic_rows, build_xlsx, okrsync, write_config
from tests.test_digest import free_port, smtp  # noqa: F401  (the SMTP server fixture)

ROOT = Path(__file__).resolve().parents[1]


def start_worker(folder: Path, *args: str, today: str = "2026-11-16") -> subprocess.Popen:
    env = dict(os.environ, OKRSYNC_TODAY=today)
    return subprocess.Popen([sys.executable, "-m", "okrsync", "--log-format", "json", "worker", "-c",
                             str(folder / "okrsync.toml"), *args], cwd=folder, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def runs(folder: Path) -> list[dict]:
    store = Store.read_only(folder / "okrsync.db")
    if store is None:
        return []
    try:
        return store.recent_runs(limit=100)
    finally:
        store.close()


def wait_for(condition, seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def stop(process: subprocess.Popen) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    return process.returncode, err


def test_worker_syncs_on_schedule_and_stops_cleanly(tmp_path):
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    write_config(tmp_path, "okrs.xlsx", extra='[worker]\nsync_every = "1s"\n')
    worker = start_worker(tmp_path)
    wait_for(lambda: len([r for r in runs(tmp_path) if r["outcome"] == "ok"]) >= 3)
    code, err = stop(worker)
    assert code == 0, err
    records = [json.loads(line) for line in err.splitlines()]
    assert any("SIGTERM received" in r["message"] for r in records)
    assert all({"time", "level", "message", "run_id", "source"} <= set(r) for r in records)
    assert any(r["run_id"] and r["message"].startswith("sync: run") for r in records)
    assert {r["command"] for r in runs(tmp_path)} == {"worker start", "worker sync"}
    ws = openpyxl.load_workbook(tmp_path / "okrs.xlsx")["OKRs"]  # whole, with what okrsync wrote
    assert ws["L2"].value == "On track"
    assert not list(tmp_path.glob(".~okrsync-*"))


def test_a_failing_job_is_logged_and_the_worker_goes_on(tmp_path):
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    rules = tmp_path / "team.yaml"
    rules.write_text("rules: {}\n")
    write_config(tmp_path, "okrs.xlsx", extra=f'rules = ["{rules}"]\n[worker]\nsync_every = "1s"\n')
    worker = start_worker(tmp_path)
    # the start-up sync must have finished: a rule file broken during it fails "start", not "sync"
    wait_for(lambda: [r["outcome"] for r in runs(tmp_path)][:1] == ["ok"])
    rules.write_text("rules:\n  krs-per-objectve: {max: 4}\n")  # someone breaks the rule file
    wait_for(lambda: any(r["outcome"] == "error" for r in runs(tmp_path)))
    rules.write_text("rules: {}\n")  # and fixes it
    count = len(runs(tmp_path))
    wait_for(lambda: [r["outcome"] for r in runs(tmp_path)][0] == "ok" and len(runs(tmp_path)) > count)
    code, err = stop(worker)
    assert code == 0
    assert "sync failed: " in err and "krs-per-objectve" in err


def test_a_second_process_is_refused_the_store(tmp_path):
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    config = write_config(tmp_path, "okrs.xlsx", extra='[worker]\nsync_every = "1h"\n')
    worker = start_worker(tmp_path)
    wait_for(lambda: len(runs(tmp_path)) >= 1)
    refused = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert refused.exit_code == 3
    assert f"pid {worker.pid}" in refused.stderr and "try again when it has finished" in refused.stderr
    second = start_worker(tmp_path)
    assert second.wait(timeout=30) == 3
    assert okrsync("status", "-c", config).exit_code == 0  # status reads without the lock
    assert f"in use: pid {worker.pid}" in okrsync("status", "-c", config).stdout
    assert stop(worker)[0] == 0


def test_a_missed_digest_is_sent_on_start_once(tmp_path):
    build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    write_config(tmp_path, "okrs.xlsx", extra=(
        '[email]\noutbox = "outbox"\n[[digests]]\nname = "leaders"\nto = ["ceo@example.com"]\nwhen = "mon 08:00"\n'
        '[worker]\nsync_every = "1h"\n'))
    # 2026-11-18 is a Wednesday: Monday's 08:00 slot passed while no worker ran
    worker = start_worker(tmp_path, today="2026-11-18")
    wait_for(lambda: list((tmp_path / "outbox").glob("*.eml")))
    assert stop(worker)[0] == 0
    again = start_worker(tmp_path, today="2026-11-18")
    wait_for(lambda: len(runs(tmp_path)) >= 2)
    assert stop(again)[0] == 0
    assert [p.name for p in (tmp_path / "outbox").glob("*.eml")] == ["leaders-2026-11-16-ceo_example.com.eml"]


def test_status_reports_runs_sources_and_digests(tmp_path, workspace):
    folder, book, config = workspace
    config.write_text(config.read_text() + '\n[[sources]]\nname = "gone"\nexcel = "gone.xlsx"\n'
                      '[[digests]]\nname = "leaders"\nto = ["ceo@example.com"]\nwhen = "mon 08:00"\n')
    okrsync("run", "-c", config, "--today", "2026-11-16")
    info = json.loads(okrsync("status", "-c", config, "--json").stdout)
    assert info["runs"][0]["outcome"] == "failed" and info["runs"][0]["command"] == "run"
    by_name = {s["name"]: s for s in info["sources"]}
    assert by_name["team"]["last_success"] and by_name["team"]["last_error"] is None
    assert "gone.xlsx does not exist" in by_name["gone"]["last_error"]
    assert info["digests"][0]["name"] == "leaders" and info["next_sync"]
    text = okrsync("status", "-c", config).stdout
    assert "team: last success" in text and "gone: never synced; last error" in text


def test_doctor_all_good(tmp_path, workspace):
    _, _, config = workspace
    result = okrsync("doctor", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 0, result.stdout
    assert "ok    source team        read OKRs 3 key results, KPIs 2 KPIs; writable" in result.stdout


@pytest.mark.parametrize("breakage, line", [
    (lambda folder: (folder / "okrs.xlsx").unlink(), "FAIL  source team        cannot read: "),
    (lambda folder: os.chmod(folder / "okrs.xlsx", 0o444), "is marked read-only"),
    (lambda folder: (folder / "~$okrs.xlsx").write_bytes(b"\x03Ada" + b"\x00" * 50), "open in Excel by Ada"),
    (lambda folder: (folder / "okrsync.toml").write_text((folder / "okrsync.toml").read_text()
                                                          + '[email]\nsmtp = "127.0.0.1:%d"\nsecurity = "none"\n' % free_port()),
     "FAIL  email              cannot reach SMTP 127.0.0.1:"),
    (lambda folder: ((folder / "r.yaml").write_text("rules:\n  ownr-present: off\n"),
                     (folder / "okrsync.toml").write_text('rules = ["r.yaml"]\n' + (folder / "okrsync.toml").read_text())),
     "FAIL  rules"),
])
def test_doctor_names_each_problem(tmp_path, workspace, breakage, line):
    folder, _, config = workspace
    breakage(folder)
    result = okrsync("doctor", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 1
    assert line in result.stdout and "→ " in result.stdout


def test_doctor_logs_in_to_smtp_without_sending(tmp_path, workspace, smtp, monkeypatch):  # noqa: F811
    folder, _, config = workspace
    config.write_text(config.read_text() + f'[email]\nsmtp = "127.0.0.1:{smtp.port}"\nusername = "okrsync"\n'
                      'password_env = "OKRSYNC_SMTP_PASSWORD"\n')
    good = okrsync("doctor", "-c", config)
    assert good.exit_code == 0 and "STARTTLS, logged in as okrsync (no mail sent)" in good.stdout
    assert not smtp.messages
    monkeypatch.setenv("OKRSYNC_SMTP_PASSWORD", "wrong-password-1234")
    bad = okrsync("doctor", "-c", config)
    assert bad.exit_code == 1 and "refused the login of okrsync" in bad.stdout
    assert "wrong-password-1234" not in bad.stdout + bad.stderr  # secrets never shown


def test_a_read_only_workbook_is_left_alone(workspace):
    folder, book, config = workspace
    os.chmod(book, 0o444)
    before = book.read_bytes()
    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 1 and "is marked read-only" in result.stderr
    assert book.read_bytes() == before


def test_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is needed to check the units (Debian package systemd)"
    install = ROOT  # the units point at /srv/okrsync; here: this checkout and its .venv
    for name in ("okrsync.service", "okrsync.timer", "okrsync-worker.service"):
        text = (ROOT / "deploy" / name).read_text()
        text = text.replace("/srv/okrsync/.venv/bin/okrsync", str(Path(sys.executable).parent / "okrsync"))
        text = text.replace("/srv/okrsync", str(install)).replace("User=okrsync", "User=root")
        (tmp_path / name).write_text(text)
    result = subprocess.run([analyze, "verify", "--man=no", *(str(tmp_path / n) for n in
                             ("okrsync.service", "okrsync.timer", "okrsync-worker.service"))],
                            capture_output=True, text=True)
    problems = [line for line in result.stderr.splitlines() if "okrsync" in line]
    assert result.returncode == 0 and not problems, result.stderr


def test_progress_is_reported_per_source(tmp_path):
    import datetime as dt

    from okrsync import sync
    from okrsync.config import load_config

    for name in ("a", "b"):
        build_xlsx(tmp_path / f"{name}.xlsx", basic_rows())
    (tmp_path / "okrsync.toml").write_text('cycle = "2026-Q4"\n' + "".join(
        f'[[sources]]\nname = "{n}"\nexcel = "{n}.xlsx"\n' for n in ("a", "b")))
    seen = []
    sync.run(load_config(tmp_path / "okrsync.toml"), dt.date(2026, 11, 16), dry_run=True,
             progress=lambda number, total, name: seen.append((number, total, name)))
    assert seen == [(1, 2, "a"), (2, 2, "b")]
