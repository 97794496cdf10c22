"""Shared fixtures: workbooks built by code (XlsxWriter), configs, and the CLI run through
okrsync.cli.main so that exit codes are mapped exactly as for a user."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import xlsxwriter
from click.testing import CliRunner

from okrsync.cli import main

# Test material carried by the repository (tests/data/README.md says where each piece came from).
DATA = Path(__file__).resolve().parent / "data"
WORKBOOKS = DATA / "workbooks"


@dataclass(frozen=True)
class Formula:
    formula: str
    cached: object


def build_xlsx(path: Path, sheets: dict[str, list[list]], merges: dict[str, list[tuple[str, object]]] | None = None,
               start_row: dict[str, int] | None = None, extra=None) -> Path:
    """A workbook with one tab per entry; rows are lists of cell values (None = empty).

    ``merges``: tab → [(range, value)]. ``Formula(f, cached)`` writes a formula with its cached value; dates become date cells;
    ``extra(workbook, worksheets)`` may add charts, images, validations and so on.
    """
    workbook = xlsxwriter.Workbook(str(path))
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    worksheets = {}
    for name, rows in sheets.items():
        ws = workbook.add_worksheet(name)
        worksheets[name] = ws
        first = (start_row or {}).get(name, 0)
        for r, row in enumerate(rows, start=first):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, Formula):
                    ws.write_formula(r, c, value.formula, None, value.cached)
                elif isinstance(value, dt.date):
                    ws.write_datetime(r, c, dt.datetime.combine(value, dt.time()) if not isinstance(value, dt.datetime) else value, date_format)
                elif isinstance(value, str):
                    ws.write_string(r, c, value)
                else:
                    ws.write(r, c, value)
        for ref, value in (merges or {}).get(name, []):
            ws.merge_range(ref, value)
    if extra:
        extra(workbook, worksheets)
    workbook.close()
    return path


# Most tests look at the OKR and KPI tabs alone; the summary and check-ins tabs okrsync adds by
# default are tested on their own (tests/test_summary.py) and on the real workbooks.
NO_OWNED_TABS = 'summary_tab = ""\ncheckins_tab = ""\n'


def write_config(folder: Path, workbook: Path | str, extra: str = "", source_extra: str = "", name: str = "team",
                 owned_tabs: bool = False) -> Path:
    config = folder / "okrsync.toml"
    config.write_text(
        f'timezone = "UTC"\nstate = "okrsync.db"\ncycle = "2026-Q4"\n{extra}\n'
        f'[[sources]]\nname = "{name}"\nexcel = "{workbook}"\n{"" if owned_tabs else NO_OWNED_TABS}{source_extra}\n',
        "utf-8",
    )
    return config


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def okrsync(*args: str, env: dict | None = None) -> CliResult:
    """Run the okrsync command line in-process, as a user would, and capture its outcome."""
    runner = CliRunner()
    with runner.isolation(env=env) as (out, err, _):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        stdout, stderr = out.getvalue().decode(), err.getvalue().decode()
    return CliResult(code, stdout, stderr)


# The parts of a package that list its tabs and parts: adding a tab may only add entries to them.
LISTING = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels"}
_ENTRY = re.compile(r"<(?:[\w.-]+:)?(?:Override|Default|Relationship|sheet)\b[^>]*/>")


def without_added(old: str, new: str) -> str:
    """``new`` with every entry that ``old`` does not have taken out."""
    kept = set(_ENTRY.findall(old))
    return _ENTRY.sub(lambda m: m.group(0) if m.group(0) in kept else "", new)


def unzip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


# A small OKR sheet: header on row 1, two objectives, KPIs on their own tab.
OKR_HEADER = ["Cycle", "Team", "Objective", "Key result", "Owner", "Type", "Direction", "Start", "Target", "Current"]
KPI_HEADER = ["KPI", "Team", "Owner", "Direction", "Target", "Threshold", "Current"]


def basic_rows() -> dict[str, list[list]]:
    return {
        "OKRs": [
            OKR_HEADER,
            ["2026-Q4", "Support", "Delight customers", "Raise CSAT to 90", "Ada", "number", "increase", 70, 90, 80],
            [None, None, None, "Cut response time to 2 h", "Bo", "number", "decrease", 6, 2, 4],
            [None, None, None, "Launch help centre", "Cy", "milestone", None, None, None, "done"],
        ],
        "KPIs": [
            KPI_HEADER,
            ["Retention", "Support", "Ada", "higher", 90, 85, 92],
            ["Response hours", "Support", "Bo", "lower", 2, 3, 2.5],
        ],
    }


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the session (tests/postgres.py), started on first use."""
    from tests.postgres import Server

    server = Server()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_location(request, tmp_path):
    """Where a store test's history store lives: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "okrsync.db"
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def workspace(tmp_path):
    """A folder with a basic workbook and a config pointing at it."""
    book = build_xlsx(tmp_path / "okrs.xlsx", basic_rows())
    config = write_config(tmp_path, "okrs.xlsx")
    return tmp_path, book, config


def real_workbook(name: str, folder: Path) -> Path:
    """A writable copy of one of the real-world workbooks in tests/data/workbooks."""
    copy = folder / name
    shutil.copyfile(WORKBOOKS / name, copy)
    os.chmod(copy, 0o644)
    return copy


@pytest.fixture
def real_template(tmp_path) -> Path:
    return real_workbook("okr-template.xlsx", tmp_path)
