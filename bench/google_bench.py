"""Google benchmark: okrsync against the Sheets API emulator under a 60 requests/minute quota.

200 spreadsheets, each with the basic OKR and KPI tables, are synced by one `okrsync run`
(run in its own process, as in production). Reported: API calls per spreadsheet, against a
naive gspread approach (open, read each tab, update values and formats cell by cell) measured
on a few spreadsheets; failed (429) requests; total time against the quota's theoretical
minimum ((calls − quota) ÷ quota minutes: a fresh quota lets one minute's calls through at once).
Then a second `okrsync run` the same day, with nothing changed: its Sheets API calls (none: one
Drive call per spreadsheet tells it is unchanged) and its time against the first run's.

Run: python bench/google_bench.py [--spreadsheets N] [--quota N]   (about 7 minutes as is)
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

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from okrsync.sources import google_client  # noqa: E402
from okrsync.testing.sheets_emulator import Server  # noqa: E402
from tests.conftest import NO_OWNED_TABS, basic_rows  # noqa: E402
from tests.google_fixtures import BOT, Google  # noqa: E402


def naive_calls(google: Google, samples: int = 3) -> float:
    """Calls per spreadsheet for the obvious gspread script: open it, read each tab, then update
    each owned cell and its colour one call at a time."""
    books = [google.spreadsheet(basic_rows()) for _ in range(samples)]
    bot = google_client.client(google_client.load_credentials(google.bot_key))
    google.admin("reset")
    for book in books:
        sheet = bot.open_by_key(book.id)
        for tab in ("OKRs", "KPIs"):
            ws = sheet.worksheet(tab)
            rows = ws.get_all_values()
            width = len(rows[0])
            owned = 4 if tab == "OKRs" else 3
            for r in range(2, len(rows) + 1):
                for c in range(width + 1, width + owned + 1):
                    ws.update_cell(r, c, "x")
                ws.format(f"{chr(64 + width + 2)}{r}", {"backgroundColor": {"red": 0.7, "green": 0.9, "blue": 0.8}})
    return google.admin("counts")["total"] / samples


def sheets_calls(stats: dict) -> int:
    """Calls counted against the Sheets API quota (Drive's is another)."""
    return sum(n for method, n in stats["counts"].items() if not method.startswith("drive."))


def timed_run(config: Path) -> tuple[subprocess.CompletedProcess, float, dict]:
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "okrsync", "-q", "run", "-c", str(config), "--today", "2026-11-16",
                          "--json"], capture_output=True, text=True, env=dict(os.environ))
    seconds = time.monotonic() - started
    return run, seconds, requests.get(f"{os.environ[google_client.ENDPOINT_ENV]}/__admin/counts", timeout=10).json()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spreadsheets", type=int, default=200)
    parser.add_argument("--quota", type=int, default=60)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="okrsync-google-bench-"))
    with Server() as server:
        os.environ[google_client.ENDPOINT_ENV] = server.url
        google = Google(server, folder)
        naive = naive_calls(google)
        books = [google.spreadsheet(basic_rows()) for _ in range(args.spreadsheets)]
        config = folder / "okrsync.toml"
        sources = "".join(f'[[sources]]\nname = "team{i}"\ngoogle = "{b.id}"\ncredentials = "{google.bot_key}"\n'
                          + NO_OWNED_TABS for i, b in enumerate(books))
        config.write_text(f'timezone = "UTC"\ncycle = "2026-Q4"\n[google]\nrequests_per_minute = {args.quota}\n{sources}')
        google.admin("reset")
        google.admin("quota", per_minute=args.quota)
        run, seconds, stats = timed_run(config)
        google.admin("reset")  # counts only: the quota's window goes on
        second, second_seconds, second_stats = timed_run(config)
    synced = sum(1 for s in json.loads(run.stdout)["sources"] if s["ok"]) if run.stdout else 0
    unchanged = sum(1 for s in json.loads(second.stdout)["sources"] if s.get("unchanged")) if second.stdout else 0
    calls = sheets_calls(stats)
    minimum = max(0, calls - args.quota) / args.quota * 60  # a fresh quota lets the first minute's calls through at once
    result = {"spreadsheets": args.spreadsheets, "quota_per_minute": args.quota, "synced": synced,
              "exit_code": run.returncode, "calls": calls, "calls_per_spreadsheet": round(calls / args.spreadsheets, 2),
              "drive_calls": stats["total"] - calls,
              "naive_calls_per_spreadsheet": round(naive, 1), "rejected_429": stats["rejected"],
              "seconds": round(seconds, 1), "theoretical_minimum_seconds": round(minimum, 1),
              "ratio_to_minimum": round(seconds / minimum, 2),
              "second_run": {"exit_code": second.returncode, "unchanged": unchanged,
                             "sheets_calls": sheets_calls(second_stats),
                             "drive_calls": second_stats["total"] - sheets_calls(second_stats),
                             "seconds": round(second_seconds, 1),
                             "ratio_to_first_run": round(second_seconds / seconds, 3)},
              "account": BOT}
    save(result, "google.json")


def save(result: dict, name: str) -> None:
    """Print a benchmark's result and keep it in bench/results/."""
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / name).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
