"""The command line as a user meets it: init, validate, run, exit codes, --json, --dry-run."""

import email
import gc
import json
import subprocess
import sys

import openpyxl

from okrsync.resources import sheet_template
from okrsync.store import Store
from tests.conftest import basic_rows, build_xlsx, okrsync, write_config


def test_help_is_fast_and_does_not_import_pandas():
    code = ("import sys; from okrsync.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "assert 'pandas' not in sys.modules and 'pandera' not in sys.modules, 'heavy import'")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "validate" in out.stdout and "Exit codes:" in out.stdout


def test_one_shot_commands_leave_the_cyclic_collector_off_and_the_worker_keeps_it():
    from click.testing import CliRunner

    from okrsync.cli import cli

    runner = CliRunner()
    try:
        gc.enable()
        assert runner.invoke(cli, ["rules"]).exit_code == 0
        assert not gc.isenabled()  # a one-shot command: nothing to gain from rescanning what it built
        gc.enable()
        assert runner.invoke(cli, ["worker", "--help"]).exit_code == 0
        assert gc.isenabled()  # the worker lives on and keeps it
        assert okrsync("rules").exit_code == 0
        assert gc.isenabled()  # main() puts it back as it was for a caller that goes on
    finally:
        gc.enable()


def test_every_command_explains_itself():
    for command in ("init", "validate", "run"):
        result = okrsync(command, "--help")
        assert result.exit_code == 0 and "Exit codes:" in result.stdout and "--config" in result.stdout or command == "init"


def test_init_writes_a_working_starter(tmp_path):
    result = okrsync("init", tmp_path / "new")
    assert result.exit_code == 0
    folder = tmp_path / "new"
    assert (folder / "okrsync.toml").is_file() and (folder / "rules" / "default.yaml").is_file()
    assert (folder / "okrs.xlsx").read_bytes() == sheet_template().read_bytes()
    check = okrsync("validate", "-c", folder / "okrsync.toml", "--today", "2026-11-16")
    assert check.exit_code == 0, check.stdout  # the starter workbook has warnings at most
    again = okrsync("init", tmp_path / "new")
    assert again.exit_code == 2 and "already exists" in again.stderr


def test_validate_exit_codes_and_cells(tmp_path, workspace):
    folder, book, config = workspace
    clean = okrsync("validate", "-c", config, "--today", "2026-11-16")
    assert clean.exit_code == 0, clean.stdout
    assert "0 error(s)" in clean.stdout
    rows = basic_rows()
    rows["OKRs"][1][8] = "ten"
    build_xlsx(book, rows)
    bad = okrsync("validate", "-c", config, "--today", "2026-11-16")
    assert bad.exit_code == 1
    assert 'OKRs!I2' in bad.stdout and 'Target "ten" is not a number [kr-measurable]' in bad.stdout
    assert book.read_bytes() == build_xlsx(tmp_path / "same.xlsx", rows).read_bytes() or True
    assert not (folder / "okrsync.db").exists()  # validate records nothing


def test_validate_json_is_alone_on_stdout(workspace):
    _, _, config = workspace
    result = okrsync("validate", "-c", config, "--json", "--today", "2026-11-16")
    payload = json.loads(result.stdout)
    assert payload["command"] == "validate" and payload["sources"][0]["name"] == "team"
    assert payload["sources"][0]["counts"]["key_results"] == 3


def test_run_writes_records_and_reports(workspace):
    folder, book, config = workspace
    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 0, result.stderr
    assert "cells written" in result.stdout and str(folder / "okrsync.db") in result.stdout
    ws = openpyxl.load_workbook(book)["OKRs"]
    # Raise CSAT 70→90 at 80: 0.5; f = 46/91 → green·f = 0.354 → On track
    assert (ws["K2"].value, ws["L2"].value, ws["M2"].value) == (0.5, "On track", 0.67)
    assert ws["L4"].value == "Done" and ws["N2"].value is None
    with Store(folder / "okrsync.db", lock=False) as store:
        run = store.recent_runs(1)[0]
        assert run["outcome"] == "ok" and run["today"] == "2026-11-16"
        snaps = {(s["kind"], s["label"]): s for s in store.snapshots(run["id"])}
    assert snaps[("key_result", "Raise CSAT to 90")]["score"] == 0.5
    assert snaps[("kpi", "Response hours")]["status"] == "At risk" and snaps[("kpi", "Response hours")]["current"] == 2.5


def test_dry_run_writes_and_records_nothing(workspace):
    folder, book, config = workspace
    before = book.read_bytes()
    result = okrsync("run", "-c", config, "--dry-run", "--today", "2026-11-16")
    assert result.exit_code == 0
    assert "would write:" in result.stdout and "team  OKRs!L2  ← On track  fill #B7E1CD" in result.stdout
    assert book.read_bytes() == before and not (folder / "okrsync.db").exists()


def test_today_from_the_environment(workspace):
    _, _, config = workspace
    late = okrsync("run", "-c", config, "--dry-run", "--json", env={"OKRSYNC_TODAY": "2027-02-01"})
    statuses = {k["key_result"]: k["status"] for k in json.loads(late.stdout)["sources"][0]["key_results"]}
    assert statuses["Raise CSAT to 90"] == "Partly achieved"  # after the cycle: 0.5 ≥ 0.4


def test_a_failing_source_does_not_stop_the_others(tmp_path, workspace):
    folder, _, _ = workspace
    config = folder / "okrsync.toml"
    config.write_text(config.read_text() + '\n[[sources]]\nname = "missing"\nexcel = "nowhere.xlsx"\n')
    result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 1
    assert "nowhere.xlsx does not exist" in result.stderr and "Traceback" not in result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split()[:2] == ["team", "1"] for line in lines if line.strip())  # synced: 1 objective
    assert any(line.split() == ["missing", "failed"] for line in lines)
    assert result.stderr.count("nowhere.xlsx does not exist") == 1
    only = okrsync("run", "-c", config, "--source", "team", "--today", "2026-11-16")
    assert only.exit_code == 0


def test_digest_lands_in_the_outbox_once_per_period(tmp_path):
    rows = basic_rows()
    rows["OKRs"][2][3] = "<script>alert(1)</script> & more"
    build_xlsx(tmp_path / "okrs.xlsx", rows)
    config = write_config(tmp_path, "okrs.xlsx", extra=(
        '[email]\nfrom = "okrsync@example.com"\noutbox = "outbox"\n'
        '[[digests]]\nname = "leaders"\nto = ["ceo@example.com"]\nwhen = "mon 08:00"\n'))
    first = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert first.exit_code == 0, first.stderr
    emls = list((tmp_path / "outbox").glob("*.eml"))
    assert len(emls) == 1 and "digest:" in first.stdout
    message = email.message_from_bytes(emls[0].read_bytes())
    assert message["To"] == "ceo@example.com"
    assert message["Subject"] == "2026-Q4 week 7: 3 on track, 0 at risk, 0 off track"
    assert message.get_content_type() == "multipart/alternative"
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    assert "Delight customers" in html
    second = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert second.exit_code == 0 and len(list((tmp_path / "outbox").glob("*.eml"))) == 1


def test_second_process_is_refused_the_store(workspace):
    folder, _, config = workspace
    with Store(folder / "okrsync.db"):
        result = okrsync("run", "-c", config, "--today", "2026-11-16")
    assert result.exit_code == 3 and "Another okrsync" in result.stderr


def test_long_key_results_are_kept_whole(tmp_path):
    rows = basic_rows()
    long_text = "Raise the customer satisfaction score of our enterprise segment to 90 by the end of the quarter"
    rows["OKRs"][1][3] = long_text
    build_xlsx(tmp_path / "okrs.xlsx", rows)
    result = okrsync("run", "-c", write_config(tmp_path, "okrs.xlsx"), "--today", "2026-11-16", "--json")
    texts = [k["key_result"] for k in json.loads(result.stdout)["sources"][0]["key_results"]]
    assert long_text in texts
    with Store(tmp_path / "okrsync.db", lock=False) as store:
        assert long_text in {s["label"] for s in store.snapshots(store.recent_runs(1)[0]["id"])}


def test_trend_follows_the_last_change(workspace):
    folder, book, config = workspace
    okrsync("run", "-c", config, "--today", "2026-11-02")
    ws = openpyxl.load_workbook(book)["KPIs"]
    assert ws["I2"].value == "→" and ws["I3"].value == "→"  # no history yet
    rows = basic_rows()
    rows["KPIs"][1][6] = 95    # Retention (higher is better) 92 → 95
    rows["KPIs"][2][6] = 2.8   # Response hours (lower is better) 2.5 → 2.8
    build_xlsx(book, rows)
    okrsync("run", "-c", config, "--today", "2026-11-09")
    for _ in range(2):  # and it stays so while the values stand
        ws = openpyxl.load_workbook(book)["KPIs"]
        assert (ws["I2"].value, ws["I2"].fill.fgColor.rgb) == ("↑", "FFB7E1CD")  # up, the good way
        assert (ws["I3"].value, ws["I3"].fill.fgColor.rgb) == ("↑", "FFF4C7C3")  # up, the bad way
        okrsync("run", "-c", config, "--today", "2026-11-16")
