"""Several workers on one PostgreSQL store (issue 18): three `okrsync worker` processes share
30 Excel workbooks and 10 emulated Google spreadsheets; one is killed with SIGKILL in the middle
of a pass. Each source is synced by one worker at a time, never twice in one sync interval; the
dead worker's sources are taken up once its leases expire; each digest goes out once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import openpyxl
from sqlalchemy import select

from okrsync.store import Store
from okrsync.store.schema import digests_sent, runs, source_runs
from tests.conftest import basic_rows, build_xlsx, okrsync
from tests.google_fixtures import google  # noqa: F401  (the emulator fixture)
from tests.test_digest import smtp  # noqa: F401  (the SMTP server fixture)
from tests.test_webhooks import chat  # noqa: F401  (the chat server fixture)

INTERVAL, LEASE = 4, 8  # seconds: [worker] sync_every and lease_seconds


def rows_for(team: str) -> dict[str, list[list]]:
    rows = basic_rows()
    rows["OKRs"] = [list(r) for r in rows["OKRs"]]
    rows["KPIs"] = [list(r) for r in rows["KPIs"]]
    rows["OKRs"][1][1] = rows["KPIs"][1][1] = rows["KPIs"][2][1] = team
    return rows


def start(folder: Path) -> subprocess.Popen:
    env = dict(os.environ, OKRSYNC_TODAY="2026-11-18")  # a Wednesday: Monday's digest is due at start
    return subprocess.Popen([sys.executable, "-m", "okrsync", "worker", "-c", str(folder / "okrsync.toml")],
                            cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def syncs(store: Store) -> list[tuple[str, str, dt.datetime, dt.datetime | None]]:
    """(source, holder, run started, run finished) for every source a run synced, in order."""
    query = (select(source_runs.c.source, runs.c.holder, runs.c.started_at, runs.c.finished_at)
             .join(runs, runs.c.id == source_runs.c.run_id).order_by(runs.c.started_at))
    with store.engine.connect() as conn:
        return [(s, h, dt.datetime.fromisoformat(a), dt.datetime.fromisoformat(b) if b else None)
                for s, h, a, b in conn.execute(query)]


def wait_for(condition, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.2)


def test_three_workers_share_the_sources_and_survive_one_killed(tmp_path, postgres, google, smtp, chat):  # noqa: F811
    url = postgres.new_database()
    books = [google.spreadsheet(rows_for(f"Remote {i}")) for i in range(10)]
    sources, names = [], []
    for i in range(40):  # every fourth a Google spreadsheet, so that each worker has some
        if i % 4 == 3:
            b = books[i // 4]
            names.append(f"google{i // 4}")
            sources.append(f'[[sources]]\nname = "{names[-1]}"\ngoogle = "{b.id}"\ncredentials = "{google.bot_key}"\n')
        else:
            build_xlsx(tmp_path / f"team{i:02}.xlsx", rows_for(f"Team {i:02}"))
            names.append(f"excel{i:02}")
            sources.append(f'[[sources]]\nname = "{names[-1]}"\nexcel = "team{i:02}.xlsx"\n')
    (tmp_path / "okrsync.toml").write_text(
        f'timezone = "UTC"\ncycle = "2026-Q4"\nstate = "{url}"\n'
        f'[worker]\nsync_every = "{INTERVAL}s"\nlease_seconds = {LEASE}\n'
        f'[email]\nfrom = "okrsync@example.com"\nsmtp = "127.0.0.1:{smtp.port}"\nsecurity = "starttls"\n'
        'username = "okrsync"\npassword_env = "OKRSYNC_SMTP_PASSWORD"\n'
        '[webhooks.leadership]\nkind = "slack"\nurl_env = "OKRSYNC_SLACK_URL"\n'
        '[[digests]]\nname = "leaders"\nto = ["ceo@example.com", "cto@example.com"]\nwhen = "mon 08:00"\n'
        'webhooks = ["leadership"]\n' + "".join(sources))

    workers = [start(tmp_path) for _ in range(3)]
    store = Store(url, lock=False)
    try:
        def synced_at_least(n: int, after: dt.datetime | None = None, by: set[str] | None = None) -> bool:
            counts = dict.fromkeys(names, 0)
            for source, holder, started, _ in syncs(store):
                if (after is None or started > after) and (by is None or holder in by):
                    counts[source] += 1
            return min(counts.values()) >= n

        wait_for(lambda: synced_at_least(3), 180)  # settled: the sources are split
        holders = {f"{os.uname().nodename} pid {w.pid}": w for w in workers}
        leases = store.leases.holders()
        assert len({lease["pid"] for lease in leases.values()}) >= 2  # the sources are split among workers
        status = okrsync("status", "-c", tmp_path / "okrsync.toml")
        assert status.exit_code == 0 and f"leased by {os.uname().nodename} pid " in status.stdout
        victim_pid = next(lease["pid"] for name, lease in leases.items() if name.startswith("google"))
        victim = next(h for h, w in holders.items() if w.pid == victim_pid)
        # Google answers slowly from now on, so that a pass lasts long enough to be killed in
        google.admin("faults", delay=0.4, times=100000, method="drive.files.get")

        def victim_in_a_pass() -> bool:
            with store.engine.connect() as conn:
                return conn.execute(select(runs.c.id).where(runs.c.holder == victim, runs.c.finished_at.is_(None),
                                                            runs.c.command == "worker sync")).first() is not None

        wait_for(victim_in_a_pass, 60)
        holders[victim].send_signal(signal.SIGKILL)
        holders[victim].wait()
        killed_at = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        survivors = set(holders) - {victim}
        wait_for(lambda: synced_at_least(2, after=killed_at + dt.timedelta(seconds=LEASE), by=survivors), 120)
        for holder in survivors:
            holders[holder].send_signal(signal.SIGTERM)
        for holder in survivors:
            _, err = holders[holder].communicate(timeout=60)
            assert holders[holder].returncode == 0, err

        history = syncs(store)
        assert {h for _, h, _, _ in history} == set(holders)  # all three took part
        for name in names:
            mine = [(h, a, b) for s, h, a, b in history if s == name]
            for (h1, a1, b1), (h2, a2, b2) in zip(mine, mine[1:]):
                # never twice in one sync interval, whoever synced (run starts are kept to the second)
                assert (a2 - a1).total_seconds() >= 0.8 * INTERVAL - 1, (name, h1, a1, h2, a2)
                if h1 != h2 and b1 is not None:  # a handover: the next holder starts after the last one's pass
                    assert a2 >= b1 - dt.timedelta(seconds=1), (name, h1, b1, h2, a2)
            before = [(h, a) for h, a, _ in mine if a <= killed_at]
            after = [(h, a) for h, a, _ in mine if a > killed_at]
            assert after and all(h in survivors for h, _ in after)
            if before[-1][0] == victim:  # the dead worker's source: taken up only when its lease expired
                last_pass = max(a for _, h, a, _ in history if h == victim)
                assert after[0][1] >= last_pass + dt.timedelta(seconds=LEASE - 1), (name, last_pass, after[0])
        with store.engine.connect() as conn:
            killed = conn.execute(select(runs.c.outcome).where(runs.c.holder == victim, runs.c.finished_at.is_(None)))
            assert killed.first() is not None  # the run it was in when killed, left open

            sent = conn.execute(select(digests_sent.c.recipient, digests_sent.c.state)).all()
        # each digest exactly once, though every worker's first pass found it due
        assert sorted(sent) == [("ceo@example.com", "sent"), ("cto@example.com", "sent"), ("webhook:leadership", "sent")]
        assert sorted(r for rcpts, _ in smtp.messages for r in rcpts) == ["ceo@example.com", "cto@example.com"]
        assert len(chat.posts["/slack"]) == 1

        workbooks = sorted(tmp_path.glob("team*.xlsx"))
        assert len(workbooks) == 30
        for path in workbooks:  # no workbook damaged: whole zips, scores written, no copy left behind
            assert zipfile.ZipFile(path).testzip() is None
            sheet = openpyxl.load_workbook(path)["OKRs"]
            header = [c.value for c in sheet[1]]
            assert isinstance(sheet.cell(2, header.index("Score") + 1).value, float), path.name
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".~okrsync")]
        for book in books:
            values = google.user.open_by_key(book.id).worksheet("OKRs").get_all_values()
            assert "Score" in values[0] and values[1][values[0].index("Score")]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
        store.close()
