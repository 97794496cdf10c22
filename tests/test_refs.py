"""okrsync's own cell-reference and date-serial helpers give openpyxl's answers (they exist so
that a run does not load openpyxl)."""

import subprocess
import sys

import pytest
from openpyxl.styles.numbers import BUILTIN_FORMATS, is_date_format
from openpyxl.utils.cell import column_index_from_string, coordinate_from_string, get_column_letter, range_boundaries
from openpyxl.utils.datetime import CALENDAR_MAC_1904, CALENDAR_WINDOWS_1900, from_excel

from okrsync.refs import MAX_COLUMN, column_letter, column_number, range_bounds, split_cell
from okrsync.xlsx.sheet import _EPOCH_1900, _EPOCH_1904, _excel_date
from okrsync.xlsx.styles import BUILTIN_DATE_IDS


def test_column_letters_and_numbers_match_openpyxl_over_every_column():
    for col in range(1, MAX_COLUMN + 1):
        letters = get_column_letter(col)
        assert column_letter(col) == letters
        assert column_number(letters) == column_index_from_string(letters) == col


@pytest.mark.parametrize("bad", [0, MAX_COLUMN + 1, -3])
def test_a_column_number_out_of_range_is_refused(bad):
    with pytest.raises(ValueError):
        column_letter(bad)


@pytest.mark.parametrize("bad", ["", "a", "AAAA", "A1", "Ä"])
def test_text_that_is_not_column_letters_is_refused(bad):
    with pytest.raises(ValueError):
        column_number(bad)


@pytest.mark.parametrize("ref", ["A1", "B7", "$C$12", "XFD1048576", "AA100"])
def test_cells_split_as_openpyxl_splits_them(ref):
    letters, row = coordinate_from_string(ref.replace("$", ""))
    assert split_cell(ref) == (row, column_index_from_string(letters))


@pytest.mark.parametrize("ref", ["A2:A5", "B3:D9", "C7", "AA1:AB20000"])
def test_ranges_bound_as_openpyxl_bounds_them(ref):
    expected = range_boundaries(ref)
    if ":" not in ref:  # openpyxl leaves the end of a single cell open; it spans itself
        expected = expected[:2] * 2
    assert range_bounds(ref) == expected


@pytest.mark.parametrize("ref", ["A:C", "1:3", "A0:B2", "garbage", ""])
def test_what_is_not_a_cell_range_has_no_bounds(ref):
    assert range_bounds(ref) is None


SERIALS = [0.0, 0.25, 0.999988, 1.0, 1.5, 59.0, 59.75, 60.0, 61.0, 367.0, 45000.0, 45000.5, 45291.999999,
           2958465.0, 12345.678901]


def _openpyxl_date(serial, calendar):
    try:
        return from_excel(serial, calendar)
    except (ValueError, OverflowError):
        return serial  # beyond the calendar: the number stays a number


@pytest.mark.parametrize("serial", SERIALS)
def test_date_serials_read_as_openpyxl_reads_them(serial):
    assert _excel_date(serial, _EPOCH_1900) == _openpyxl_date(serial, CALENDAR_WINDOWS_1900)
    assert _excel_date(serial, _EPOCH_1904) == _openpyxl_date(serial, CALENDAR_MAC_1904)


def test_a_serial_beyond_the_calendar_stays_a_number():
    assert _excel_date(1e12, _EPOCH_1900) == 1e12 and _excel_date(float("inf"), _EPOCH_1900) == float("inf")


def test_the_built_in_date_formats_are_the_ones_openpyxl_calls_dates():
    openpyxl_dates = {i for i, code in BUILTIN_FORMATS.items() if is_date_format(code)}
    cjk_locale_dates = set(range(27, 37)) | set(range(50, 59))  # not in BUILTIN_FORMATS: stored by id only
    assert BUILTIN_DATE_IDS == openpyxl_dates | cjk_locale_dates


def test_a_run_does_not_load_openpyxl(tmp_path):
    """Importing openpyxl costs every run a tenth of a second; the run path does without it."""
    code = ("import sys; from okrsync import cli, sync, store, report; from okrsync.sources import excel; "
            "print('openpyxl' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
