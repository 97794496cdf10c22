"""Memory benchmark: peak memory of `okrsync validate` per 1,000 key-result rows, for 20,000,
100,000 and 1,000,000 rows, beside openpyxl's read-only mode reading every cell of the same file.

Each measurement runs in its own process (its peak RSS is its own). okrsync runs with max_rows
raised above the table so that it reads it all; with the default (150,000) the 1,000,000-row
sheet is refused after its first 150,000 rows, and that refusal is measured too.

Run: python bench/memory_bench.py [--python PY] [--rows 20000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run_bench import NO_OWNED_TABS, generate  # noqa: E402

PEAK = textwrap.dedent("""
    import resource, sys
    {body}
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


def peak_mib(python: str, body: str) -> float:
    out = subprocess.run([python, "-c", PEAK.format(body=body)], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--python", default=sys.executable)
    parser.add_argument("--rows", default="20000,100000,1000000")
    args = parser.parse_args()
    results = []
    for rows in (int(n) for n in args.rows.split(",")):
        folder = Path(tempfile.mkdtemp(prefix="okrsync-memory-bench-"))
        book = folder / "big.xlsx"
        generate(book, rows, 0)
        config = folder / "okrsync.toml"
        source = '[[sources]]\nname = "big"\nexcel = "big.xlsx"\n' + NO_OWNED_TABS
        config.write_text(f'timezone = "UTC"\ncycle = "2026-Q4"\nmax_rows = {rows + 10}\n{source}')
        default = folder / "default.toml"
        default.write_text(f'timezone = "UTC"\ncycle = "2026-Q4"\n{source}')
        validate = ("from okrsync.cli import main\ntry:\n    main(['-q', 'validate', '-c', {cfg!r}, '--today', '2026-11-16'])\n"
                    "except SystemExit:\n    pass")
        openpyxl_body = (f"import openpyxl\nwb = openpyxl.load_workbook({str(book)!r}, read_only=True)\n"
                         "for ws in wb:\n    for row in ws.iter_rows(values_only=True):\n        pass")
        entry = {"rows": rows, "file_mib": round(book.stat().st_size / 2**20, 1),
                 "okrsync_peak_mib": round(peak_mib(args.python, validate.format(cfg=str(config)))),
                 "openpyxl_read_only_peak_mib": round(peak_mib(args.python, openpyxl_body))}
        entry["okrsync_kib_per_1000_rows"] = round(entry["okrsync_peak_mib"] * 1024 / rows * 1000)
        entry["openpyxl_kib_per_1000_rows"] = round(entry["openpyxl_read_only_peak_mib"] * 1024 / rows * 1000)
        if rows > 150_000:
            entry["okrsync_default_max_rows_peak_mib"] = round(peak_mib(args.python, validate.format(cfg=str(default))))
        results.append(entry)
        print(json.dumps(entry))
        shutil.rmtree(folder)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "memory.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
