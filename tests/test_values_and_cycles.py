import datetime as dt

import pytest

from okrsync.cycles import CycleError, parse_cycle
from okrsync.values import ErrorValue, normalise, parse_date, parse_done, parse_number

TODAY = dt.date(2026, 11, 21)


@pytest.mark.parametrize("text, value, percent", [
    ("1,200", 1200, False), ("45 %", 45, True), ("45%", 45, True), ("$150,000", 150000, False),
    ("2 h", 2, False), ("1.5k", 1500, False), ("-3", -3, False), ("−4%", -4, True), (".5", 0.5, False),
    (12, 12, False), (0.45, 0.45, False), ("€ 99", 99, False), ("15 days", 15, False),
])
def test_numbers_typed_as_text(text, value, percent):
    number = parse_number(text)
    assert number.value == pytest.approx(value) and number.percent is percent


@pytest.mark.parametrize("text", ["ten", "", None, "10 to 20", ErrorValue("#DIV/0!"), True, "1" * 400,
                                  dt.date(2026, 1, 1), float("inf")])
def test_not_numbers(text):
    assert parse_number(text) is None


def test_dates_from_cells_and_iso_text():
    assert parse_date(dt.datetime(2026, 12, 31, 0, 0)) == dt.date(2026, 12, 31)
    assert parse_date("2026-12-31") == dt.date(2026, 12, 31)
    assert parse_date("31/12/2026") is None and parse_date("soon") is None


@pytest.mark.parametrize("raw, done", [("done", True), ("Yes", True), ("✓", True), ("x", True), (1, True),
                                       ("complete", True), (None, False), ("no", False), (0, False),
                                       ("not done", False), ("maybe", None), (ErrorValue("#REF!"), None)])
def test_milestone_values(raw, done):
    assert parse_done(raw) is done


def test_header_normalisation_ignores_case_space_and_punctuation():
    assert normalise("  Key-Result ") == normalise("key result") == "keyresult"
    assert normalise("Objective_Owner") == "objectiveowner"


@pytest.mark.parametrize("text, start, end, label", [
    ("2026-Q4", "2026-10-01", "2026-12-31", "2026-Q4"),
    ("Q4 2026", "2026-10-01", "2026-12-31", "2026-Q4"),
    ("2026 Q1", "2026-01-01", "2026-03-31", "2026-Q1"),
    ("2026-H2", "2026-07-01", "2026-12-31", "2026-H2"),
    ("H1 2026", "2026-01-01", "2026-06-30", "2026-H1"),
    ("2026", "2026-01-01", "2026-12-31", "2026"),
    ("FY2026", "2026-01-01", "2026-12-31", "FY2026"),
    ("2026-10-01..2026-12-31", "2026-10-01", "2026-12-31", "2026-10-01..2026-12-31"),
    ("auto", "2026-10-01", "2026-12-31", "2026-Q4"),
])
def test_cycles(text, start, end, label):
    cycle = parse_cycle(text, TODAY)
    assert (cycle.start.isoformat(), cycle.end.isoformat(), cycle.label) == (start, end, label)


def test_fiscal_year_starting_in_april_ends_in_its_named_year():
    cycle = parse_cycle("FY2026", TODAY, fiscal_year_start=4)
    assert (cycle.start, cycle.end) == (dt.date(2025, 4, 1), dt.date(2026, 3, 31))


@pytest.mark.parametrize("text, reason", [("Q5 2026", "does not exist"), ("next quarter", "not a cycle"),
                                          ("2026-12-31..2026-10-01", "ends before it starts"), ("", "blank")])
def test_bad_cycles_say_why(text, reason):
    with pytest.raises(CycleError, match=reason):
        parse_cycle(text, TODAY)
