"""Workers benchmark: one sync round of N Google spreadsheets by 1, 2 and 4 `okrsync worker`
processes sharing one PostgreSQL store, against the Sheets API emulator with Google's quota for
one service account (60 requests a minute per user per project), beside the quota's minimum;
then 4 workers with the spreadsheets split over two projects' service accounts.

Each round starts from new spreadsheets and a new database, so every round does the same work
(a read and a write per spreadsheet). Reported per round: seconds until every spreadsheet was
synced, Sheets calls, 429 answers, and the quota's minimum ((calls − budget) ÷ budget minutes: a
fresh quota lets one minute's calls through at once; budget = quota × projects).

Run: python bench/workers_bench.py [--spreadsheets N] [--quota N]   (about 25 minutes as is)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from google_bench import save, sheets_calls  # noqa: E402
from okrsync.sources import google_client  # noqa: E402
from okrsync.store import Store  # noqa: E402
from okrsync.store.schema import source_runs  # noqa: E402
from okrsync.testing.sheets_emulator import Server  # noqa: E402
from tests.conftest import NO_OWNED_TABS, basic_rows  # noqa: E402
from tests.google_fixtures import BOT, Google, service_account_key  # noqa: E402
from tests.postgres import Server as Postgres  # noqa: E402

SECOND_BOT = "okrsync@team-b.iam.gserviceaccount.com"


def second_key(google: Google, folder: Path) -> Path:
    """A service account of another Google Cloud project."""
    path = service_account_key(folder / "okrsync-b-key.json", SECOND_BOT, google.url + "/token")
    info = json.loads(path.read_text())
    info["project_id"] = "team-b"
    path.write_text(json.dumps(info))
    return path


def one_round(google: Google, postgres: Postgres, folder: Path, args, workers: int, projects: int) -> dict:
    keys = [google.bot_key, second_key(google, folder)][:projects]
    google.admin("quota", per_minute=0)  # the person making the spreadsheets is not measured
    sources = []
    for i in range(args.spreadsheets):
        book = google.spreadsheet(basic_rows(), share=False)
        account, key = [(BOT, keys[0]), (SECOND_BOT, keys[-1])][i % projects]
        book.share(account, perm_type="user", role="writer", notify=False)
        # the summary and check-ins tabs are left out: the round measures the OKR and KPI tabs'
        # read and write (2 requests a spreadsheet), as bench/google_bench.py does
        sources.append(f'[[sources]]\nname = "team{i}"\ngoogle = "{book.id}"\ncredentials = "{key}"\n'
                       + NO_OWNED_TABS)
    url = postgres.new_database()
    config = folder / f"okrsync-{workers}-{projects}.toml"
    config.write_text(f'timezone = "UTC"\ncycle = "2026-Q4"\nstate = "{url}"\n[worker]\nsync_every = "1h"\n'
                      f'[google]\nrequests_per_minute = {args.quota}\n' + "".join(sources))
    google.admin("reset")
    google.admin("quota", per_minute=args.quota)  # a fresh window for every round
    started = time.monotonic()
    processes = [subprocess.Popen([sys.executable, "-m", "okrsync", "-q", "worker", "-c", str(config),
                                   "--today", "2026-11-16"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True) for _ in range(workers)]
    with Store(url, lock=False) as store:
        while True:
            with store.engine.connect() as conn:
                done = conn.execute(select(func.count(func.distinct(source_runs.c.source)))).scalar()
            if done >= args.spreadsheets or any(p.poll() is not None for p in processes):
                break
            time.sleep(0.5)
        seconds = time.monotonic() - started
        with store.engine.connect() as conn:
            by = conn.execute(select(func.count()).select_from(source_runs).where(source_runs.c.ok == 1)).scalar()
    for p in processes:
        p.terminate()
    for p in processes:
        p.communicate(timeout=120)
    stats = google.admin("counts")
    calls = sheets_calls(stats)
    budget = args.quota * projects
    minimum = max(0, calls - budget) / budget * 60
    return {"workers": workers, "projects": projects, "synced": by, "seconds": round(seconds, 1),
            "sheets_calls": calls, "rejected_429": stats["rejected"],
            "quota_minimum_seconds": round(minimum, 1), "ratio_to_minimum": round(seconds / minimum, 2) if minimum else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spreadsheets", type=int, default=200)
    parser.add_argument("--quota", type=int, default=60, help="Sheets requests per minute per service account")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="okrsync-workers-bench-"))
    postgres = Postgres()
    rounds = []
    try:
        with Server() as server:
            os.environ[google_client.ENDPOINT_ENV] = server.url
            google = Google(server, folder)
            for workers, projects in ((1, 1), (2, 1), (4, 1), (4, 2)):
                rounds.append(one_round(google, postgres, folder, args, workers, projects))
                print(json.dumps(rounds[-1]), flush=True)
    finally:
        postgres.stop()
    save({"spreadsheets": args.spreadsheets, "quota_per_minute_per_account": args.quota, "rounds": rounds},
         "workers.json")


if __name__ == "__main__":
    main()
