"""Benchmarks, reported as ratios against a baseline measured in the same run.

Writer: `okrsync run` on a generated workbook of 20,000 key results and 2,000 KPIs, against
openpyxl's own load + save of the same file. First run (every owned cell written); unchanged
run (the same day, nothing changed: not read at all); new day (not read, scored again from the
history store); read again (the kept state dropped, as after an edit elsewhere in the file:
read, validated, scored, nothing to write). Each measurement runs in its own process so its
peak memory (max RSS) is its own; rounds are interleaved and medians reported, since a shared
machine is noisy.

Validation: `okrsync run` on 100,000 key-result rows; the seconds spent in validation (rules
compiled into Pandera schemas, run lazily) and their share of the whole run, from the step
timings `okrsync run --json` reports, against the run's wall time.

Both run in the interpreter --python names (default: this one); `make bench` gives it a
virtualenv with okrsync's runtime dependencies only, as users install it.

Run: make bench   (or: python bench/run_bench.py [--python PY] [--only writer|validation] [--krs N] [--kpis N])
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import xlsxwriter

HERE = Path(__file__).resolve().parent
# The benchmarks measure the OKR and KPI tabs' sync; the summary and check-ins tabs okrsync adds
# by default (a summary of 20,000 objectives, say) are left out, so figures compare over time.
NO_OWNED_TABS = 'summary_tab = ""\ncheckins_tab = ""\n'

MEASURE = textwrap.dedent("""
    import resource, sys, time
    start = time.perf_counter()
    {body}
    elapsed = time.perf_counter() - start
    print(elapsed, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


def generate(path: Path, krs: int, kpis: int) -> None:
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    okrs = wb.add_worksheet("OKRs")
    okrs.write_row(0, 0, ["Cycle", "Team", "Objective", "Key result", "Owner", "Direction", "Start", "Target", "Current", "Confidence"])
    for i in range(krs):
        objective = f"Objective {i // 4}" if i % 4 == 0 else None
        team = f"Team {i // 16}"
        row = ["2026-Q4", team, objective, f"Key result {i}", f"Owner {i % 50}", "increase", 0, 100, (i * 37) % 120, 5 + i % 6]
        for c, v in enumerate(row):
            if v is not None:
                okrs.write(i + 1, c, v)
    sheet = wb.add_worksheet("KPIs")
    sheet.write_row(0, 0, ["KPI", "Team", "Owner", "Direction", "Target", "Current"])
    for i in range(kpis):
        sheet.write_row(i + 1, 0, [f"KPI {i}", f"Team {i // 8}", f"Owner {i % 50}", "higher" if i % 2 else "lower", 100, (i * 13) % 150])
    wb.close()


def measure(python: str, body: str) -> tuple[float, float]:
    out = subprocess.run([python, "-c", MEASURE.format(body=body)],
                         capture_output=True, text=True, check=True)
    seconds, rss_kib = out.stdout.strip().splitlines()[-1].split()
    return float(seconds), int(rss_kib) / 1024


RUNS = {"first": "first run (all owned cells written)", "unchanged": "unchanged (not read)",
        "new_day": "new day (scored again, not read)", "read_again": "read again, nothing to write"}


def writer_bench(python: str, krs: int, kpis: int, rounds: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="okrsync-bench-"))
    original = folder / "original.xlsx"
    generate(original, krs, kpis)
    book, config = folder / "big.xlsx", folder / "okrsync.toml"
    config.write_text('timezone = "UTC"\ncycle = "2026-Q4"\n[[sources]]\nname = "big"\nexcel = "big.xlsx"\nbackups = 0\n'
        + NO_OWNED_TABS)
    baseline_body = (f"import openpyxl\nwb = openpyxl.load_workbook({str(original)!r})\n"
                     f"wb.save({str(folder / 'baseline-out.xlsx')!r})")
    run_body = ("from okrsync.cli import main\ntry:\n    main(['-q', 'run', '-c', {cfg!r}, '--today', '2026-11-16'])\n"
                "except SystemExit as e:\n    assert e.code == 0, e.code").format(cfg=str(config))
    new_day_body = run_body.replace("2026-11-16", "2026-11-17")
    forget = f"import sqlite3\nwith sqlite3.connect({str(folder / 'okrsync.db')!r}) as db:\n    db.execute('DELETE FROM source_state')"
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in ("baseline", *RUNS)}
    for _ in range(rounds):  # interleaved, so a busy moment on the machine hits all alike
        shutil.copyfile(original, book)
        for leftover in folder.glob("okrsync.db*"):
            leftover.unlink()
        samples["baseline"].append(measure(python, baseline_body))
        samples["first"].append(measure(python, run_body))
        samples["unchanged"].append(measure(python, run_body))
        samples["new_day"].append(measure(python, new_day_body))
        subprocess.run([python, "-c", forget], check=True)
        samples["read_again"].append(measure(python, new_day_body))
    shutil.rmtree(folder)
    med = {k: (statistics.median(t for t, _ in v), max(m for _, m in v)) for k, v in samples.items()}
    result = {"key_results": krs, "kpis": kpis, "rounds": rounds,
              "openpyxl_load_save_s": round(med["baseline"][0], 2), "openpyxl_peak_mib": round(med["baseline"][1])}
    for k in RUNS:
        ratios = [s[0] / b[0] for s, b in zip(samples[k], samples["baseline"])]
        result[f"{k}_run_s"] = round(med[k][0], 2)
        result[f"{k}_run_peak_mib"] = round(med[k][1])
        result[f"{k}_run_ratio"] = round(statistics.median(ratios), 3)
        result[f"{k}_run_ratios"] = [round(r, 3) for r in ratios]
    return result


def validation_bench(python: str, krs: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="okrsync-bench-"))
    generate(folder / "big.xlsx", krs, 0)
    (folder / "okrsync.toml").write_text(
        'timezone = "UTC"\ncycle = "2026-Q4"\n[[sources]]\nname = "big"\nexcel = "big.xlsx"\nbackups = 0\n'
        + NO_OWNED_TABS)
    started = time.perf_counter()
    out = subprocess.run([python, "-m", "okrsync", "-q", "run", "-c", str(folder / "okrsync.toml"),
                          "--today", "2026-11-16", "--json"], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    shutil.rmtree(folder)
    source = json.loads(out.stdout)["sources"][0]
    steps = source["timings_s"]
    return {
        "key_results": krs, "findings": len(source["findings"]), "run_s": round(wall, 2),
        "steps_s": steps, "validate_s": steps["validate"], "validate_share": round(steps["validate"] / wall, 3),
        "rows_per_s": round(krs / steps["validate"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--krs", type=int, default=20_000)
    parser.add_argument("--kpis", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved repetitions; medians are reported")
    parser.add_argument("--python", default=sys.executable, help="the interpreter okrsync and openpyxl run in")
    parser.add_argument("--validation-rows", type=int, default=100_000)
    parser.add_argument("--only", choices=("writer", "validation"))
    args = parser.parse_args()
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    latest = out / "latest.json"
    result = json.loads(latest.read_text()) if latest.exists() else {}
    result["machine"] = f"{platform.machine()}, Python {platform.python_version()}"
    result["python"] = args.python
    if args.only != "writer":
        v = result["validation"] = validation_bench(args.python, args.validation_rows)
        print(f"validation of {v['key_results']:,} key results: {v['validate_s']:.2f} s "
              f"({v['rows_per_s']:,} rows/s) = {v['validate_share']:.0%} of the whole run ({v['run_s']:.2f} s)")
        print("  steps: " + ", ".join(f"{k} {t:.2f} s" for k, t in v["steps_s"].items()))
    if args.only == "validation":
        latest.write_text(json.dumps(result, indent=2))
        print(f"written to {latest}")
        return
    result["writer"] = writer_bench(args.python, args.krs, args.kpis, args.rounds)
    w = result["writer"]
    print(f"okrsync run on {w['key_results']:,} key results and {w['kpis']:,} KPIs, "
          f"median of {w['rounds']} interleaved rounds:")
    print(f"  openpyxl load+save (baseline): {w['openpyxl_load_save_s']:.2f} s, peak {w['openpyxl_peak_mib']} MiB")
    for k, label in RUNS.items():
        print(f"  {label + ':':38} {w[k + '_run_s']:.2f} s = {w[k + '_run_ratio']:.3f} x baseline, "
              f"peak {w[k + '_run_peak_mib']} MiB; each round {w[k + '_run_ratios']}")
    latest.write_text(json.dumps(result, indent=2))
    print(f"written to {latest}")


if __name__ == "__main__":
    main()
