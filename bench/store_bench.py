"""History store benchmark: how the store grows on the 20,000-key-result workbook, and the
arithmetic for a worker that syncs every 15 minutes for a quarter.

Measured, each run in its own process: the store after the first run; its growth per run when
nothing changed (the same day); per new day (scored again; read and written where statuses
move); per run after a team edits 1 % of the Current cells. Projected: a quarter of 91 days,
96 runs a day, of which one is a new day and four follow edits — against the 100 MB goal.

Run: python bench/store_bench.py [--python PY] [--krs N] [--kpis N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from run_bench import NO_OWNED_TABS, generate  # noqa: E402

from okrsync.config import SourceConfig  # noqa: E402
from okrsync.sources.excel import ExcelSource  # noqa: E402
from okrsync.sources.interface import CellChange  # noqa: E402

DAYS, RUNS_A_DAY, EDITS_A_DAY = 91, 96, 4


def store_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("okrsync.db*") if not p.name.endswith(".lock"))


def edit(book: Path, share: float, seed: int) -> None:
    """A team updates some Current values (column I of the OKRs tab), as a person would in Excel."""
    source = ExcelSource(SourceConfig(name="big", excel=book, backups=0))
    grid = source.read(["OKRs"])["OKRs"]
    rows = sorted(r for r in grid.rows if r > 1)
    step = max(1, int(1 / share))
    source.write([CellChange("OKRs", r, 9, float((r * 7 + seed) % 120)) for r in rows[seed % step::step]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--krs", type=int, default=20_000)
    parser.add_argument("--kpis", type=int, default=2_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="okrsync-store-bench-"))
    book = folder / "big.xlsx"
    generate(book, args.krs, args.kpis)
    config = folder / "okrsync.toml"
    config.write_text('timezone = "UTC"\ncycle = "2026-Q4"\n[[sources]]\nname = "big"\nexcel = "big.xlsx"\nbackups = 0\n'
        + NO_OWNED_TABS)
    day = dt.date(2026, 10, 5)

    def run(today: dt.date) -> int:
        subprocess.run([args.python, "-m", "okrsync", "-q", "run", "-c", str(config), "--today", today.isoformat()],
                       check=True, capture_output=True)
        return store_size(folder)

    first = run(day)
    sizes = [first] + [run(day) for _ in range(10)]
    unchanged = (sizes[-1] - sizes[0]) / 10
    before = sizes[-1]
    for n in range(1, 11):
        last = run(day + dt.timedelta(days=n))
    new_day = (last - before) / 10
    before = last
    for n in range(10):
        edit(book, 0.01, n)
        last = run(day + dt.timedelta(days=10))
    edited = (last - before) / 10
    shutil.rmtree(folder)

    per_day = new_day + EDITS_A_DAY * edited + (RUNS_A_DAY - 1 - EDITS_A_DAY) * unchanged
    quarter = first + DAYS * per_day
    result = {"key_results": args.krs, "kpis": args.kpis, "first_run_bytes": first,
              "bytes_per_unchanged_run": round(unchanged), "bytes_per_new_day": round(new_day),
              "bytes_per_run_after_an_edit_of_1_percent": round(edited),
              "projected_quarter_bytes": round(quarter), "projected_quarter_mib": round(quarter / 2**20, 1),
              "model": f"{DAYS} days x {RUNS_A_DAY} runs: 1 new day, {EDITS_A_DAY} after edits, the rest unchanged",
              "under_100_mb": quarter < 100e6}
    print(f"store after the first run: {first / 2**20:.1f} MiB")
    print(f"growth per run: unchanged {unchanged:,.0f} B, new day {new_day:,.0f} B, after a 1 % edit {edited:,.0f} B")
    print(f"a quarter ({result['model']}): {first / 2**20:.1f} MiB + {DAYS} x {per_day / 2**20:.3f} MiB "
          f"= {quarter / 2**20:.1f} MiB ({'under' if result['under_100_mb'] else 'OVER'} 100 MB)")
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "store.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
