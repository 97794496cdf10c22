"""Cell references: column letters and numbers (``C`` ↔ 3), A1 cells and ranges.

Small enough to own: importing them from openpyxl loads all of openpyxl, a tenth of a second
on every run. tests/test_refs.py holds them to openpyxl's answers.
"""

from __future__ import annotations

import re

MAX_COLUMN = 18_278  # ZZZ, the largest column three letters name
LAST_SHEET_COLUMN = 16_384  # XFD: Excel's last column (and more than Google Sheets allows a grid)

# Column letters → number, for the letters met so far (hot loops read it directly).
COLUMN_NUMBERS: dict[str, int] = {}
_LETTERS: dict[int, str] = {}
_CELL = re.compile(r"\$?([A-Z]{1,3})\$?([1-9]\d*)")


def column_letter(col: int) -> str:
    """3 → ``C``, 27 → ``AA``."""
    letters = _LETTERS.get(col)
    if letters is None:
        if not 1 <= col <= MAX_COLUMN:
            raise ValueError(f"column {col} is outside 1..{MAX_COLUMN}")
        letters, rest = "", col
        while rest:
            rest, digit = divmod(rest - 1, 26)
            letters = chr(65 + digit) + letters
        _LETTERS[col] = letters
    return letters


def column_number(letters: str) -> int:
    """``C`` → 3, ``AA`` → 27."""
    col = COLUMN_NUMBERS.get(letters)
    if col is None:
        if not (1 <= len(letters) <= 3 and letters.isascii() and letters.isalpha() and letters.isupper()):
            raise ValueError(f"{letters!r} is not a column")
        col = 0
        for ch in letters:
            col = col * 26 + ord(ch) - 64
        COLUMN_NUMBERS[letters] = col
    return col


def split_cell(ref: str) -> tuple[int, int]:
    """``B7`` (or ``$B$7``) → (row 7, column 2)."""
    m = _CELL.fullmatch(ref)
    if not m:
        raise ValueError(f"{ref!r} is not a cell reference")
    return int(m.group(2)), column_number(m.group(1))


def range_bounds(ref: str) -> tuple[int, int, int, int] | None:
    """``A2:C5`` → (min column, min row, max column, max row); a single cell spans itself.
    None for anything else (whole rows or columns, garbage)."""
    first, _, last = ref.partition(":")
    try:
        row1, col1 = split_cell(first)
        row2, col2 = split_cell(last) if last else (row1, col1)
    except ValueError:
        return None
    return min(col1, col2), min(row1, row2), max(col1, col2), max(row1, row2)
