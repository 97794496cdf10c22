"""OKR cycles: "2026-Q4", "Q4 2026", "2026-H2", "2026", "FY2026", explicit ranges, "auto"."""

from __future__ import annotations

import calendar
import functools
import datetime as dt
import re

from okrsync.domain import Cycle

_QUARTER = [
    re.compile(r"^(?P<year>\d{4})\s*[-/ ]?\s*(?P<kind>[QH])(?P<n>\d)$", re.I),
    re.compile(r"^(?P<kind>[QH])(?P<n>\d)\s*[-/ ]?\s*(?:FY)?(?P<year>\d{4})$", re.I),
]
_YEAR = re.compile(r"^(?P<fy>FY\s*)?(?P<year>\d{4})$", re.I)
_RANGE = re.compile(r"^(?P<start>\d{4}-\d{2}-\d{2})\s*(?:\.\.|–|—|/| to )\s*(?P<end>\d{4}-\d{2}-\d{2})$")


class CycleError(ValueError):
    pass


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _span(year: int, first_month: int, months: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, first_month, 1)
    last = first_month + months - 1
    return start, _month_end(year + (last - 1) // 12, (last - 1) % 12 + 1)


def current_quarter(today: dt.date) -> Cycle:
    q = (today.month - 1) // 3 + 1
    start, end = _span(today.year, 3 * q - 2, 3)
    return Cycle(f"{today.year}-Q{q}", start, end)


@functools.lru_cache(maxsize=4096)  # a sheet names a handful of cycles on thousands of rows
def parse_cycle(text: object, today: dt.date, fiscal_year_start: int = 1) -> Cycle:
    """The cycle a cell names; raises CycleError with a readable reason."""
    try:
        return _parse(text, today, fiscal_year_start)
    except CycleError:
        raise
    except (ValueError, OverflowError) as exc:  # year 0, FY0001 starting in year 0, ...
        raise CycleError(f'"{str(text).strip()}" is not a cycle okrsync can use ({exc})') from None


def _parse(text: object, today: dt.date, fiscal_year_start: int) -> Cycle:
    if isinstance(text, dt.date):
        raise CycleError(f"a single date ({text}) is not a cycle")
    label = str(text or "").strip()
    if not label:
        raise CycleError("the cycle is blank")
    if label.lower() == "auto":
        return current_quarter(today)
    for pattern in _QUARTER:
        m = pattern.match(label)
        if m:
            year, n, kind = int(m["year"]), int(m["n"]), m["kind"].upper()
            limit = 4 if kind == "Q" else 2
            if not 1 <= n <= limit:
                raise CycleError(f'"{label}" names {kind}{n}, which does not exist')
            months = 3 if kind == "Q" else 6
            start, end = _span(year, (n - 1) * months + 1, months)
            return Cycle(f"{year}-{kind}{n}", start, end)
    m = _YEAR.match(label)
    if m:
        year = int(m["year"])
        if m["fy"] and fiscal_year_start != 1:
            # FY2026 ends in 2026: it starts in fiscal_year_start of the previous year.
            start, end = _span(year - 1, fiscal_year_start, 12)
            return Cycle(f"FY{year}", start, end)
        start, end = _span(year, 1, 12)
        return Cycle(f"FY{year}" if m["fy"] else str(year), start, end)
    m = _RANGE.match(label)
    if m:
        try:
            start, end = dt.date.fromisoformat(m["start"]), dt.date.fromisoformat(m["end"])
        except ValueError as exc:
            raise CycleError(f'"{label}" holds an impossible date ({exc})') from None
        if end < start:
            raise CycleError(f'"{label}" ends before it starts')
        return Cycle(f"{start}..{end}", start, end)
    raise CycleError(
        f'"{label}" is not a cycle okrsync knows (use 2026-Q4, Q4 2026, 2026-H2, 2026, FY2026 '
        "or 2026-10-01..2026-12-31)"
    )
